"""Plan segments from the frame index: pure functions, no processes.

Two split paths, chosen per input and recorded with the reason:
- `copy`: cut by stream copy at safe keyframes (closed GOP, no leading pictures) into segment files;
- `decode`: every worker decodes its exact frame range from the source (frame-accurate), used where copy
  cuts cannot be trusted: containers and codecs that lose frames or timestamps when copied, packets without
  timestamps, open GOPs or long GOPs that would make segments far longer than the target.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Literal

from splitstitch.media import MediaInfo

log = logging.getLogger(__name__)

SplitPath = Literal["copy", "decode"]

# (format family, codec) pairs where stream-copy splitting is known to lose frames or timestamps.
UNTRUSTED_COPY = {
    ("mpeg", "mpeg2video"), ("mpeg", "mpeg1video"), ("mpegvideo", "mpeg2video"),
    ("avi", "mpeg4"), ("avi", "msmpeg4v3"), ("avi", "msmpeg4v2"), ("matroska", "mpeg4"),
}  # fmt: skip
# Codecs the segment muxers below carry faithfully; anything else goes the decode path.
COPY_SEGMENT_FORMAT = {"h264": "mpegts", "hevc": "mpegts", "vp9": "matroska", "av1": "matroska", "vp8": "matroska"}
LONG_SEGMENT_FACTOR = 2.0  # a copy segment longer than this many targets counts as "far longer"


@dataclass(frozen=True)
class Segment:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_pts: int
    end_pts: int | None  # pts of the first frame of the next segment; None for the last segment
    seek_pts: int | None  # decode path: a keyframe well before start to seek to; None reads from the start
    start_seconds: float  # from the first video frame
    duration_seconds: float  # up to the next segment's first frame (or the end of the last frame)

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def name(self) -> str:
        return f"{self.index:05d}"


@dataclass(frozen=True)
class Plan:
    split_path: SplitPath
    reason: str
    target_seconds: float
    time_base: str
    segment_format: str | None  # container of copy-split segments
    segments: tuple[Segment, ...]

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.segments)

    def longest_first(self) -> list[Segment]:
        return sorted(self.segments, key=lambda s: (-s.duration_seconds, s.index))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "segments": [asdict(s) for s in self.segments]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(**{**data, "segments": tuple(Segment(**s) for s in data["segments"])})


def choose_cuts(timestamps: tuple[int, ...], candidates: list[int], target: int) -> list[int]:
    """Greedy: from each cut, take the candidate frame whose time is closest to one target further on.

    `candidates` are frame indices where a cut is allowed (sorted, excluding 0). A tail shorter than half
    a target is merged into the segment before it. Returns the start frames of all segments, from 0.
    """
    starts = [0]
    pool = [c for c in candidates if 0 < c < len(timestamps)]
    end_time = timestamps[-1]
    i = 0
    while i < len(pool):
        goal = timestamps[starts[-1]] + target
        while i + 1 < len(pool) and abs(timestamps[pool[i + 1]] - goal) <= abs(timestamps[pool[i]] - goal):
            i += 1
        cut = pool[i]
        if end_time - timestamps[cut] < target / 2:
            break
        starts.append(cut)
        i += 1
        while i < len(pool) and pool[i] <= cut:
            i += 1
    return starts


def decide_path(info: MediaInfo, target_seconds: float) -> tuple[SplitPath, str]:
    assert info.video and info.frames
    frames, video = info.frames, info.video
    family = info.format_name.split(",")[0]
    if not frames.from_packets:
        return "decode", "packets carry no usable timestamps: frames indexed and cut by the decoder"
    if (family, video.codec) in UNTRUSTED_COPY:
        return "decode", f"stream copy of {video.codec} in {family} loses frames or timestamps"
    if video.codec not in COPY_SEGMENT_FORMAT:
        return "decode", f"no trusted segment container for {video.codec}"
    open_gop = len(frames.keyframes) - len(frames.safe_cuts)
    copy_starts = choose_cuts(frames.timestamps, list(frames.safe_cuts), _ticks(info, target_seconds))
    longest = _longest_seconds(info, copy_starts)
    if longest > LONG_SEGMENT_FACTOR * target_seconds and info.video_seconds() > LONG_SEGMENT_FACTOR * target_seconds:
        why = f"open GOP ({open_gop} keyframes are not clean cuts)" if open_gop else "long GOP"
        return "decode", f"{why}: copy cuts give a {longest:.1f} s segment for a {target_seconds:g} s target"
    note = f"; {open_gop} open-GOP keyframes skipped" if open_gop else ""
    return "copy", f"clean keyframes every <= {longest:.1f} s{note}"


def _ticks(info: MediaInfo, seconds: float) -> int:
    assert info.video
    return max(1, round(Fraction(seconds) / info.video.time_base))


def _longest_seconds(info: MediaInfo, starts: list[int]) -> float:
    assert info.video and info.frames
    ts = info.frames.timestamps
    bounds = [ts[s] for s in starts] + [info.frames.end()]
    return float(max(b - a for a, b in itertools.pairwise(bounds)) * info.video.time_base)


def seek_point(keyframes: tuple[int, ...], start_frame: int) -> int | None:
    """Two keyframes back from the segment start: decoders that land late (MPEG-PS) still see its first frame."""
    before = [k for k in keyframes if k <= start_frame]
    if start_frame == 0 or len(before) < 2:
        return None
    return before[-2] if before[-2] > 0 else None


def plan_segments(info: MediaInfo, target_seconds: float) -> Plan:
    if target_seconds <= 0:
        raise ValueError("target segment length must be positive")
    assert info.video and info.frames
    frames, tb = info.frames, info.video.time_base
    split_path, reason = decide_path(info, target_seconds)
    candidates = list(frames.safe_cuts) if split_path == "copy" else list(range(1, frames.count))
    starts = choose_cuts(frames.timestamps, candidates, _ticks(info, target_seconds))
    ends = [*starts[1:], frames.count]
    ts, first = frames.timestamps, frames.timestamps[0]
    segments = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        end_pts = ts[end] if end < frames.count else None
        seek = seek_point(frames.keyframes, start) if split_path == "decode" else None
        segments.append(
            Segment(
                index=index,
                start_frame=start,
                end_frame=end,
                start_pts=ts[start],
                end_pts=end_pts,
                seek_pts=ts[seek] if seek is not None else None,
                start_seconds=float((ts[start] - first) * tb),
                duration_seconds=float(((end_pts if end_pts is not None else frames.end()) - ts[start]) * tb),
            )
        )
    segment_format = COPY_SEGMENT_FORMAT[info.video.codec] if split_path == "copy" else None
    log.info("plan: %d segments, %s path (%s)", len(segments), split_path, reason)
    return Plan(split_path, reason, target_seconds, str(tb), segment_format, tuple(segments))
