"""The video frame index: packets (or decoder frames) to presentation-order timestamps, keyframes and the
keyframes where a stream-copy cut is safe. Pure functions on ffprobe text; no processes."""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from splitstitch.ffmpeg import compact_records

PacketRow = tuple[str, str, str, str, str]  # pts, duration, flags, pos, size as ffprobe prints them


@dataclass(frozen=True)
class FrameIndex:
    """Video frames in presentation order, in the stream's time base."""

    timestamps: tuple[int, ...]
    last_duration: int
    keyframes: tuple[int, ...]  # presentation indices of keyframes (seek points)
    safe_cuts: tuple[int, ...]  # keyframes where a stream-copy cut keeps every frame decodable
    from_packets: bool  # False when the decoder had to be asked (packets without timestamps)

    @property
    def count(self) -> int:
        return len(self.timestamps)

    def end(self) -> int:
        return self.timestamps[-1] + self.last_duration

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
            row = tuple(fields.get(k, "N/A") for k in ("pts", "duration", "flags", "pos", "size"))
            rows.setdefault(int(index), []).append(row)  # type: ignore[arg-type]
    return rows


def data_end_of(rows: dict[int, list[PacketRow]]) -> int:
    ends = [
        int(pos) + int(size)
        for stream in rows.values()
        for _, _, _, pos, size in stream
        if pos.isdigit() and size.isdigit()
    ]
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
        (int(p), int(d) if d.isdigit() else 0)
        for p, d, flags, _, _ in rows
        if p.lstrip("-").isdigit() and "D" not in flags
    ]
    if not spans:
        return None
    first = float(min(p for p, _ in spans) * time_base)
    end = float(max(p + d for p, d in spans) * time_base)
    return (max(start_time, first) if start_time is not None else first), end


def parse_packets(rows: list[PacketRow]) -> FrameIndex | None:
    """Video packets in decode order to a frame index.

    Returns None when a packet has no pts or is flagged discard: the decoder must be asked then.
    """
    pts: list[int] = []
    durations: list[int] = []
    keyframe: list[bool] = []
    complete = True
    for p, d, flags, _, _ in rows:
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
    return FrameIndex(
        timestamps=timestamps,
        last_duration=durations[order[-1]] or _typical_step(timestamps),
        keyframes=tuple(sorted(rank[i] for i in range(len(pts)) if keyframe[i])),
        safe_cuts=tuple(sorted(rank[i] for i in range(len(pts)) if safe[i])),
        from_packets=True,
    )


def _typical_step(timestamps: tuple[int, ...] | list[int]) -> int:
    steps = [b - a for a, b in itertools.pairwise(timestamps)]
    return int(statistics.median(steps)) if steps else 1


def parse_frames(data: dict[str, Any]) -> FrameIndex | None:
    """Decoder-side frame list (`best_effort_timestamp`, `key_frame`): missing stamps continue the cadence."""
    frames = data.get("frames", [])
    stamps: list[int | None] = [f.get("best_effort_timestamp") for f in frames]
    known = [s for s in stamps if s is not None]
    if not known:
        return None
    step = _typical_step(sorted(known))
    timestamps: list[int] = []
    for s in stamps:
        timestamps.append(int(s) if s is not None else (timestamps[-1] + step if timestamps else 0))
    if any(b <= a for a, b in itertools.pairwise(timestamps)):
        return None
    keys = tuple(i for i, f in enumerate(frames) if f.get("key_frame"))
    return FrameIndex(tuple(timestamps), step, keys or (0,), (), from_packets=False)
