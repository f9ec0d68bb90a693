"""Plan segments from the frame index: pure functions, no processes.

Every encoder reads its own range straight from the source: it seeks to a keyframe at or before its first
frame, decodes, and keeps exactly `[start_pts, end_pts)` (frame-accurate, whatever the GOP structure). A
cut on a clean keyframe (closed GOP, no leading pictures) costs nothing extra, so the planner takes one
when it lies near the target; otherwise it cuts at the exact frame and that encoder decodes from the
keyframe before it.

How long the segments are depends on the fan-out: enough segments to keep every encoder busy (all at once
in the cloud; a few each locally, so the pool finishes together), never under about a second, never so
long that one segment's estimated encode time leaves the encoder's time budget.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any, Literal

from splitstitch.media import MediaInfo
from splitstitch.package import hls_target_duration
from splitstitch.settings import Settings
from splitstitch.throughput import STARTUP_SECONDS, encode_seconds

log = logging.getLogger(__name__)

SeekPolicy = Literal["keyframe", "two_keyframes"]
# (format family, codec) pairs whose seeks can land late: seek two keyframes before the segment instead.
LATE_SEEKS = {
    ("mpeg", "mpeg2video"), ("mpeg", "mpeg1video"), ("mpegvideo", "mpeg2video"), ("mpegts", "mpeg2video"),
    ("avi", "mpeg4"), ("avi", "msmpeg4v3"), ("avi", "msmpeg4v2"), ("matroska", "mpeg4"), ("mpegts", "h264"),
    ("mpegts", "hevc"),
}  # fmt: skip
KEYFRAME_TOLERANCE = 0.25  # a clean keyframe within this fraction of the target from the goal is taken
SEEK_EPSILON_S = 0.001  # seek this much before the keyframe so rounding never lands after it


@dataclass(frozen=True)
class Fanout:
    """How the segments will be run: `concurrency` encoders at once with `vcpus` each."""

    concurrency: int
    segments_per_encoder: float = 1.0  # locally 3: the longest-first pool then ends together
    min_seconds: float = 1.0
    max_seconds: float = 120.0
    vcpus: float = 1.0
    budget_seconds: float = 3600.0  # one segment's estimated encode time must stay under this
    wave_share: float = 0.0  # an encode wave may last this share of the source's duration (0: always fill)
    spare_cores_to_encoders: bool = False  # local: fewer segments than encoders get more threads each

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fanout:
        return cls(**data)


@dataclass(frozen=True)
class Segment:
    index: int
    start_frame: int
    end_frame: int  # exclusive
    start_pts: int
    end_pts: int | None  # pts of the next segment's first frame; None for the last segment
    seek_pts: int | None  # keyframe to seek to before decoding; None reads from the start of the file
    start_seconds: float  # from the first video frame
    duration_seconds: float  # up to the next segment's first frame (or the end of the last frame)

    @property
    def frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def name(self) -> str:
        return f"{self.index:05d}"

    @property
    def on_keyframe(self) -> bool:
        """Decoding starts at the segment's first frame: its encoder decodes nothing only to drop it."""
        return self.start_frame == 0 if self.seek_pts is None else self.seek_pts == self.start_pts


@dataclass(frozen=True)
class Plan:
    target_seconds: float
    reason: str  # why this length and these cuts, in a line
    time_base: str
    seek: SeekPolicy
    encoder_threads: int
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


def output_size(info: MediaInfo, settings: Settings) -> tuple[int, int]:
    assert info.video
    width, height = info.video.display_size  # --height names the short side (see encode.geometry_filters)
    if settings.height and settings.height < min(width, height):
        if height <= width:
            return max(2, round(width * settings.height / height)), settings.height
        return settings.height, max(2, round(height * settings.height / width))
    return width, height


def target_seconds(info: MediaInfo, settings: Settings, fanout: Fanout) -> tuple[float, str]:
    """Segment length and why: the user's, else fill the fan-out, clamped; for a source long enough that a full
    fan-out would finish its wave in under `wave_share` of the source's duration, fewer and longer segments
    (each one's fixed costs - a start-up, a Map child, S3 requests - paid fewer times); capped by the time
    budget. Estimates err slow, so the wave is shorter than planned."""
    assert info.video and info.frames
    seconds = info.video_seconds()
    fps = info.frames.count / seconds if seconds > 0 else 30.0
    width, height = output_size(info, settings)
    per_second = encode_seconds(width, height, fps, settings.codec, settings.preset, fanout.vcpus)
    budget_cap = fanout.budget_seconds / per_second if per_second > 0 else math.inf
    if settings.segment_seconds is not None:
        chosen, why = settings.segment_seconds, "as asked"
    else:
        wanted = seconds / max(1.0, fanout.concurrency * fanout.segments_per_encoder)
        chosen = min(max(wanted, fanout.min_seconds), fanout.max_seconds)
        why = f"{fanout.concurrency} encoders x {fanout.segments_per_encoder:g}"
        wave = seconds * fanout.wave_share  # a long source: fewer, longer segments cost less and still finish
        one_thread = encode_seconds(width, height, fps, settings.codec, settings.preset, min(1.0, fanout.vcpus))
        longest = (wave - STARTUP_SECONDS) / one_thread if one_thread > 0 else 0.0  # no credit for threads
        if longest > chosen:
            chosen = min(longest, fanout.max_seconds)
            why += f", lengthened to an estimated {wave:.0f} s wave ({fanout.wave_share:.1%} of the source)"
    if chosen > budget_cap:
        chosen = max(budget_cap, 1.0 / fps)
        why += f", capped by the {fanout.budget_seconds:.0f} s encode budget (estimated {per_second:.1f} s per s)"
    return chosen, why


def seek_policy(info: MediaInfo) -> SeekPolicy:
    assert info.video and info.frames
    family = info.format_name.split(",")[0]
    if not info.frames.from_packets or (family, info.video.codec) in LATE_SEEKS:
        return "two_keyframes"
    return "keyframe"


def choose_cuts(timestamps: tuple[int, ...], clean: tuple[int, ...], target: int, tolerance: int,
                longest: int | None = None, end: int | None = None) -> list[int]:  # fmt: skip
    """Start frames of all segments, from 0: from each cut, the clean keyframe nearest to one target further
    on if it lies within `tolerance` ticks of that goal, else the frame nearest to the goal. A tail shorter
    than half a target joins the segment before it.

    `longest` (ticks; streaming) bounds every segment, up to `end` (the end of the last frame) for the last:
    a keyframe that would make a longer segment is not taken, and a short tail that would make the last
    segment longer stays a segment of its own (HLS: a segment longer than the target duration allows breaks
    RFC 8216's EXT-X-TARGETDURATION rule; a short last segment is what every packager writes)."""
    starts, count, end_time = [0], len(timestamps), timestamps[-1]
    stop = end if end is not None else end_time

    def fits(first: int) -> bool:  # the rest of the stream, from frame `first`, may be one segment
        return longest is None or stop - timestamps[first] <= longest

    while True:
        goal = timestamps[starts[-1]] + target
        if (end_time - goal < target / 2 and fits(starts[-1])) or goal > end_time:
            return starts
        frame = min(bisect.bisect_left(timestamps, goal), count - 1)
        if frame > 0 and abs(timestamps[frame - 1] - goal) <= abs(timestamps[frame] - goal):
            frame -= 1
        k = bisect.bisect_left(clean, goal, key=timestamps.__getitem__)  # clean holds frame numbers, goal is a time
        near = [c for c in clean[max(k - 1, 0) : k + 1] if c > starts[-1] and abs(timestamps[c] - goal) <= tolerance
                and (longest is None or timestamps[c] - timestamps[starts[-1]] <= longest)]  # fmt: skip
        cut = min(near, key=lambda c: abs(timestamps[c] - goal)) if near else frame
        if cut <= starts[-1]:
            cut = starts[-1] + 1
        if cut >= count or (end_time - timestamps[cut] < target / 2 and fits(starts[-1])):
            return starts
        starts.append(cut)


def streaming_segment_limit(seconds: float, time_base: Fraction) -> int:
    """Ticks a streaming segment may last when the target is `seconds`: under what rounds to the target
    duration that `seconds` itself rounds to (6 s: under 6.5 s, so EXT-X-TARGETDURATION stays 6)."""
    limit = Fraction(hls_target_duration(Fraction(seconds)), 1) + Fraction(1, 2)
    return math.ceil(limit / time_base) - 1


def seek_frame(keyframes: tuple[int, ...], start_frame: int, policy: SeekPolicy) -> int | None:
    """The keyframe to seek to for a segment starting at `start_frame`; None: read from the file's start."""
    k = bisect.bisect_right(keyframes, start_frame) - (1 if policy == "keyframe" else 2)
    if start_frame == 0 or k < 0 or keyframes[k] == 0:
        return None
    return keyframes[k]


def encoder_threads(settings: Settings, fanout: Fanout, segments: int) -> int:
    threads = max(settings.encoder_threads, round(fanout.vcpus))
    if fanout.spare_cores_to_encoders and segments < fanout.concurrency:
        threads = max(threads, fanout.concurrency // max(segments, 1))
    return threads


def _cuts(info: MediaInfo, seconds: float, streaming: bool = False) -> list[int]:
    assert info.video and info.frames
    ticks = max(1, round(Fraction(seconds) / info.video.time_base))
    longest = streaming_segment_limit(seconds, info.video.time_base) if streaming else None
    return choose_cuts(info.frames.timestamps, info.frames.safe_cuts, ticks, round(ticks * KEYFRAME_TOLERANCE),
                       longest, info.frames.end())  # fmt: skip


def plan_segments(info: MediaInfo, settings: Settings, fanout: Fanout) -> Plan:
    assert info.video and info.frames
    frames, tb = info.frames, info.video.time_base
    seconds, why = target_seconds(info, settings, fanout)
    policy = seek_policy(info)
    starts = _cuts(info, seconds, settings.streaming is not None)
    limit = math.ceil(fanout.concurrency * fanout.segments_per_encoder)
    for _ in range(3):  # cuts that snap to keyframes can add a segment or two: never a wave more than planned
        if settings.segment_seconds is not None or len(starts) <= limit:
            break
        seconds *= len(starts) / limit * 1.001
        starts = _cuts(info, seconds, settings.streaming is not None)
    ends = [*starts[1:], frames.count]
    ts, first = frames.timestamps, frames.timestamps[0]
    segments = []
    for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
        end_pts = ts[end] if end < frames.count else None
        seek = seek_frame(frames.keyframes, start, policy)
        segments.append(
            Segment(
                index=index, start_frame=start, end_frame=end, start_pts=ts[start], end_pts=end_pts,
                seek_pts=ts[seek] if seek is not None else None, start_seconds=float((ts[start] - first) * tb),
                duration_seconds=float(((end_pts if end_pts is not None else frames.end()) - ts[start]) * tb),
            )
        )  # fmt: skip
    clean = set(frames.safe_cuts)
    on_key = sum(1 for s in segments[1:] if s.start_frame in clean)
    cuts = f"{on_key} of {len(segments) - 1} cuts on clean keyframes" if len(segments) > 1 else "one segment"
    reason = f"{seconds:.2f} s segments ({why}); {cuts}; seek {policy.replace('_', ' ')} before each"
    threads = encoder_threads(settings, fanout, len(segments))
    log.info("plan: %d segments, %s", len(segments), reason)
    return Plan(seconds, reason, str(tb), policy, threads, tuple(segments))
