"""The packet scan behind the frame index, in one pass or in parallel byte ranges.

A local file is scanned by one ffprobe (demux only, no decoding). A remote source is scanned by several
ffprobes at once, each over a time interval (`-read_intervals START%END`: a seek to the keyframe at or
before START, then packets until END plus a margin), so preparing an hour-long upload costs the time of one
interval, not of the whole file. The intervals overlap on purpose; packets are merged by file position,
and a gap between two intervals' byte ranges is an error rather than a silently missing packet.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from splitstitch.ffmpeg import run_ffprobe
from splitstitch.frames import PacketRow, packet_rows
from splitstitch.source import MediaSource

PACKET_ENTRIES = "packet=stream_index,pts,dts,duration,flags,pos,size"
OVERLAP_S = 5.0  # each interval reads this far past its end: B-frame reordering and interleaving skew
MIN_INTERVAL_S = 30.0  # shorter sources are scanned in one pass


class ScanGapError(RuntimeError):
    """Two parallel scan intervals did not overlap in the file: packets between them may be missing."""


def scan_args(source: MediaSource, start: float | None = None, end: float | None = None) -> list[str]:
    interval = []
    if start is not None or end is not None:
        begin = f"{start:.3f}" if start else ""
        interval = ["-read_intervals", f"{begin}%{end + OVERLAP_S:.3f}" if end is not None else f"{begin}%"]
    return [*interval, "-show_entries", PACKET_ENTRIES, "-of", "compact=p=0", *source.input_args()]


def intervals(duration: float | None, parallel: int) -> list[tuple[float | None, float | None]]:
    """Time intervals for `parallel` scanners; one open interval when that is not worth it."""
    if not duration or parallel <= 1 or duration < MIN_INTERVAL_S:
        return [(None, None)]
    count = min(parallel, int(duration // (MIN_INTERVAL_S / 2)))
    edges = [duration * k / count for k in range(count + 1)]
    return [(None if k == 0 else edges[k], None if k == count - 1 else edges[k + 1]) for k in range(count)]


def _position(row: PacketRow) -> int | None:
    pos = row[3]
    return int(pos) if pos.isdigit() else None


def merge(scans: list[dict[int, list[PacketRow]]]) -> dict[int, list[PacketRow]]:
    """Packets of overlapping scans, once each, in file order; raises ScanGapError on a gap."""
    for k in range(len(scans) - 1):
        ends = [p + int(r[4]) for rows in scans[k].values() for r in rows if (p := _position(r)) is not None]
        starts = [p for rows in scans[k + 1].values() for r in rows if (p := _position(r)) is not None]
        if ends and starts and min(starts) > max(ends):
            raise ScanGapError(f"scan intervals {k} and {k + 1} leave bytes {max(ends)}-{min(starts)} unread")
    merged: dict[int, dict[object, PacketRow]] = {}
    for scan in scans:
        for stream, rows in scan.items():
            seen = merged.setdefault(stream, {})
            for row in rows:
                seen.setdefault(_position(row) if _position(row) is not None else row, row)
    return {
        stream: sorted(rows.values(), key=lambda r: (_position(r) is None, _position(r) or 0))
        for stream, rows in merged.items()
    }


def scan_packets(
    source: MediaSource, streams: list[int], timeout: float, parallel: int = 1, duration: float | None = None
) -> tuple[dict[int, list[PacketRow]], str]:
    """Every packet of `streams` (pts, dts, duration, flags, pos, size) and what ffprobe complained about."""
    spans = intervals(duration, parallel)

    def one(span: tuple[float | None, float | None]) -> tuple[dict[int, list[PacketRow]], str]:
        done = run_ffprobe(scan_args(source, *span), timeout=timeout)
        return packet_rows(done.stdout), done.stderr.strip()

    with ThreadPoolExecutor(max_workers=len(spans)) as pool:
        results = list(pool.map(one, spans))
    rows = merge([r for r, _ in results]) if len(results) > 1 else results[0][0]
    errors = "\n".join(e for _, e in results if e)
    return {i: rows.get(i, []) for i in streams}, errors
