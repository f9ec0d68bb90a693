"""The video frame index: packets (or decoder frames) to presentation-order timestamps, keyframes and the
keyframes where a stream-copy cut is safe. Pure functions on ffprobe text; no processes."""

from __future__ import annotations

import heapq
import itertools
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, NamedTuple

from splitstitch.ffmpeg import compact_records


class PacketRow(NamedTuple):
    """One packet as ffprobe prints it (text, "N/A" when absent)."""

    pts: str
    duration: str
    flags: str
    pos: str
    size: str
    dts: str = "N/A"


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:  # "N/A"
        return None


@dataclass(frozen=True)
class FrameIndex:
    """Video frames in presentation order, in the stream's time base."""

    timestamps: tuple[int, ...]
    last_duration: int
    keyframes: tuple[int, ...]  # presentation indices of keyframes (seek points)
    safe_cuts: tuple[int, ...]  # keyframes where a stream-copy cut keeps every frame decodable
    from_packets: bool  # False when the decoder had to be asked (packets without timestamps)
    empty: int = 0  # packets with no picture (held frames): in the container's count, not frames

    @property
    def count(self) -> int:
        return len(self.timestamps)

    def end(self) -> int:
        return self.timestamps[-1] + self.last_duration

    def to_dict(self) -> dict[str, Any]:
        return {"timestamps": list(self.timestamps), "last_duration": self.last_duration,
                "keyframes": list(self.keyframes), "safe_cuts": list(self.safe_cuts), "from_packets": self.from_packets,
                "empty": self.empty}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrameIndex:
        return cls(tuple(d["timestamps"]), d["last_duration"], tuple(d["keyframes"]), tuple(d["safe_cuts"]),
                   d["from_packets"], d.get("empty", 0))  # fmt: skip

    def empty_slots(self) -> int:
        """Frame slots inside the stream that hold no frame, where time counts in frame slots (AVI: a capture
        tool writes an empty index entry for a dropped frame and the frame before stays on screen)."""
        if _typical_step(self.timestamps) != 1:
            return 0
        return self.timestamps[-1] - self.timestamps[0] + 1 - self.count

    def is_vfr(self) -> bool:
        steps = [b - a for a, b in zip(self.timestamps, self.timestamps[1:], strict=False)]
        if len(steps) < 2:
            return False
        return max(steps) - min(steps) > max(1, statistics.median(steps) // 50)


def _safe_cut_flags(pts: list[int], keyframe: list[bool]) -> list[bool]:
    """A keyframe is a safe cut when nothing before it (decode order) shows after it and nothing after it
    shows before it: closed GOP, no leading pictures that need the previous GOP."""
    n = len(pts)
    suffix_min = [0] * (n + 1)
    suffix_min[n] = 2**63
    for i in range(n - 1, -1, -1):
        suffix_min[i] = min(pts[i], suffix_min[i + 1])
    safe, prefix_max = [], -(2**63)
    for i in range(n):
        safe.append(keyframe[i] and prefix_max < pts[i] <= suffix_min[i + 1])
        prefix_max = max(prefix_max, pts[i])
    return safe


def packet_rows(text: str) -> dict[int, list[PacketRow]]:
    """ffprobe `-of compact=p=0` packet lines (`key=value|...`, any order), grouped by stream, in file order."""
    rows: dict[int, list[PacketRow]] = {}
    for fields in compact_records(text):
        index = fields.get("stream_index", "")
        if index.isdigit():
            row = PacketRow(*(fields.get(k, "N/A") for k in PacketRow._fields))
            rows.setdefault(int(index), []).append(row)
    return rows


def data_end_of(rows: dict[int, list[PacketRow]]) -> int:
    ends = [int(r[3]) + int(r[4]) for stream in rows.values() for r in stream if r[3].isdigit() and r[4].isdigit()]
    return max(ends, default=0)


def extent_of(
    rows: list[PacketRow], time_base: Fraction, start_time: float | None = None
) -> tuple[float, float] | None:
    """Start and end (last pts + duration) of what a decoder presents.

    The start is ffprobe's stream start time when known: it already skips encoder priming, which MP4 marks
    as discarded packets but Matroska stores as negative timestamps. It is never before the first packet:
    the AVI demuxer reports 0 for every stream, even audio whose index starts it later (`dwStart`).
    """
    spans = [
        (int(r[0]), int(r[1]) if r[1].isdigit() else 0) for r in rows if _int(r[0]) is not None and "D" not in r[2]
    ]
    if not spans:
        return None
    first = float(min(p for p, _ in spans) * time_base)
    end = float(max(p + d for p, d in spans) * time_base)
    return (max(start_time, first) if start_time is not None else first), end


def parse_packets(rows: list[PacketRow]) -> FrameIndex | None:
    """Video packets in decode order to a frame index.

    An empty packet holds no picture: the decoder outputs nothing for it and the frame before stays on screen
    (Theora's "repeat the previous frame", as VFR screen recorders write it). Returns None when a packet has
    no pts or is flagged discard: the decoder must be asked then.
    """
    pts: list[int] = []
    durations: list[int] = []
    keyframe: list[bool] = []
    held_until = None  # where the last empty packet ends: the frame shown before it lasts until then
    empty, complete = 0, True
    for p, d, flags, _, size, *_ in rows:
        if size == "0":
            empty += 1
            if p.lstrip("-").isdigit():
                end = int(p) + (int(d) if d.isdigit() else 0)
                held_until = end if held_until is None else max(held_until, end)
            continue
        if not p.lstrip("-").isdigit() or "D" in flags:
            complete = False
            continue
        pts.append(int(p))
        durations.append(int(d) if d.isdigit() else 0)
        keyframe.append("K" in flags)
    if not complete or not pts or len(set(pts)) != len(pts):
        return None
    safe = _safe_cut_flags(pts, keyframe)
    order = sorted(range(len(pts)), key=pts.__getitem__)
    rank = {decode_i: shown_i for shown_i, decode_i in enumerate(order)}
    timestamps = tuple(pts[i] for i in order)
    last = durations[order[-1]] or _typical_step(timestamps)
    if held_until is not None:
        last = max(last, held_until - timestamps[-1])
    return FrameIndex(
        timestamps=timestamps,
        last_duration=last,
        keyframes=tuple(sorted(rank[i] for i in range(len(pts)) if keyframe[i])),
        safe_cuts=tuple(sorted(rank[i] for i in range(len(pts)) if safe[i])),
        from_packets=True,
        empty=empty,
    )


def _typical_step(timestamps: tuple[int, ...] | list[int]) -> int:
    steps = [b - a for a, b in itertools.pairwise(timestamps)]
    return int(statistics.median(steps)) if steps else 1


class Unindexable(ValueError):
    """The video cannot be put in presentation order; the message says why, in words that are true."""


def parse_frames(data: dict[str, Any], time_base: Fraction = Fraction(1, 1000)) -> FrameIndex:
    """Decoder-side frame list (`best_effort_timestamp`, `key_frame`): missing stamps continue the cadence.

    Raises `Unindexable` when the decoder output no frame, none with a timestamp, or stamps that go back.
    """
    frames = data.get("frames", [])
    stamps: list[int | None] = [f.get("best_effort_timestamp") for f in frames]
    known = [s for s in stamps if s is not None]
    if not frames:
        raise Unindexable("no decodable video frames: a full decode of the video stream output none")
    if not known:
        raise Unindexable(f"none of the {len(frames)} decoded video frames has a timestamp")
    step = _typical_step(sorted(known))
    timestamps: list[int] = []
    for s in stamps:
        timestamps.append(int(s) if s is not None else (timestamps[-1] + step if timestamps else 0))
    for i, (a, b) in enumerate(itertools.pairwise(timestamps), start=1):
        if b <= a:
            how = "repeat" if a == b else "go back"
            raise Unindexable(f"video timestamps {how} at {float(a * time_base):.2f} s (frame {i})")
    keys = tuple(i for i, f in enumerate(frames) if f.get("key_frame"))
    return FrameIndex(tuple(timestamps), step, keys or (0,), (), from_packets=False)


# A forward jump is a discontinuity only past both of these (smaller gaps are held frames or VFR):
FORWARD_JUMP_S = Fraction(10)  # ffmpeg's dts_delta_threshold, where its CLI treats MPEG-TS as discontinuous
FORWARD_JUMP_STEPS = 10  # and ten of the stream's own steps, so a slide show's long frames never count
VIDEO_REORDER = 16  # frames a decoder may hold back to reorder (H.264's maximum); audio holds none


@dataclass(frozen=True)
class Cut:
    """Where a stream's timestamps go back, or jump far ahead: the run before ends, packet `index` starts
    the next. `before` is the latest timestamp of the run before, `after` the new run's first (ticks)."""

    index: int
    before: int
    after: int

    @property
    def back(self) -> bool:
        return self.after < self.before


@dataclass(frozen=True)
class StreamRuns:
    """One stream's packets split at its cuts. `spans[i]` is run i's (first pts, end) in ticks."""

    index: int
    time_base: Fraction
    packets: int
    cuts: tuple[Cut, ...]
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Join:
    """Where a rebuilt timeline joins two runs of the source (the report's `timeline` entries)."""

    frame: int  # index (from 0) of the run's first video frame, in the source's and the output's order
    at_s: float  # where the run now starts, seconds from the first frame on the rebuilt timeline
    source_end_s: float  # where the run before ended, on the source's own timestamps
    source_start_s: float  # where this run starts on the source's own timestamps
    shift_s: float  # added to every timestamp of this run, in every stream
    kind: str  # "back" (timestamps restart or go back) or "forward" (they jump ahead)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stamps(rows: Sequence[Sequence[str]]) -> tuple[list[int | None], list[int], int]:
    """Per packet in file order: presentation stamp (pts, else dts), declared duration (0 if none); and the
    typical step between stamps."""
    stamps: list[int | None] = []
    durations: list[int] = []
    for r in rows:
        stamp = _int(r[0])
        stamps.append(stamp if stamp is not None or len(r) < 6 else _int(r[5]))
        durations.append(_int(r[1]) or 0)
    known = sorted(s for s in stamps if s is not None)
    steps = [b - a for a, b in itertools.pairwise(known) if b > a]
    return stamps, durations, int(statistics.median(steps)) if steps else 1


def find_cuts(rows: Sequence[Sequence[str]], time_base: Fraction, reorder: int) -> tuple[Cut, ...]:
    """Cuts in one stream's packets (file order), seen as a decoder sees them.

    The decode clock is the timestamp of the frame a decoder outputs, holding `reorder` frames back: a
    packet that should have been shown before that is a cut back. (The demuxer's dts can't be used:
    Matroska stores none, and its guesses go wrong after a restart.) A packet more than `FORWARD_JUMP_S`
    and `FORWARD_JUMP_STEPS` steps past the run's latest timestamp is a cut forward, unless the packet
    before declares that long a duration (MP4 holds a frame that way).
    """
    return _cuts(*_stamps(rows), time_base, reorder)


def _cuts(
    stamps: list[int | None], durations: list[int], step: int, time_base: Fraction, reorder: int
) -> tuple[Cut, ...]:
    jump = max(round(FORWARD_JUMP_S / time_base), FORWARD_JUMP_STEPS * step)
    cuts: list[Cut] = []
    held: list[int] = []
    shown: int | None = None  # the decode clock: the last output timestamp
    latest: int | None = None  # the run's latest timestamp so far
    declared = 0  # duration of the packet that holds `latest`
    for k, now in enumerate(stamps):
        if now is None:
            continue
        if latest is not None and ((shown is not None and now < shown) or now - latest > max(jump, declared)):
            cuts.append(Cut(k, latest, now))
            held, shown, latest = [], None, None
        if reorder:
            heapq.heappush(held, now)
            if len(held) > reorder:
                shown = heapq.heappop(held)
        else:
            shown = now
        if latest is None or now >= latest:
            latest, declared = now, durations[k]
    return tuple(cuts)


def stream_runs(index: int, rows: Sequence[Sequence[str]], time_base: Fraction, reorder: int) -> StreamRuns:
    """A stream's cuts and, per run, its first presentation timestamp and its end (ticks)."""
    stamps, durations, step = _stamps(rows)
    cuts = _cuts(stamps, durations, step, time_base, reorder)
    bounds = [0, *(c.index for c in cuts), len(rows)]
    spans = []
    for a, b in itertools.pairwise(bounds):
        first, end = None, None
        for k in range(a, b):
            s = stamps[k]
            if s is not None:
                first = s if first is None or s < first else first
                e = s + (durations[k] or step)
                end = e if end is None or e > end else end
        spans.append((first, end) if first is not None and end is not None else (0, 0))
    return StreamRuns(index, time_base, len(rows), cuts, tuple(spans))
