"""Interlaced sources: detect them, and the deinterlacing filter every encoder applies.

The probe's field order (`tt`, `bb`, `tb`, `bt`, `progressive`, `unknown`) is a flag that can lie: an H.264
stream coded as progressive frames can carry combed fields, and a stream flagged interlaced can carry
progressive pictures. So where interlacing is possible, `idet` counts what a short sample of the picture
says, and `decide` (pure) weighs both. Deinterlacing uses `bwdif` in `send_frame` mode: one frame out per
frame in, each with its timestamp, so the frame count and timing stay exact; the frames it writes are
progressive, and so is the output (x264 writes a progressive stream when not told otherwise).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, replace
from fractions import Fraction
from typing import Any

from splitstitch.command import compile_args, input_stream
from splitstitch.errors import ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import MediaInfo
from splitstitch.source import MediaSource

log = logging.getLogger(__name__)

FIRST_DISPLAYED = {"tt": "tff", "bt": "tff", "bb": "bff", "tb": "bff"}  # field order -> field displayed first
PARITY_NAMES = {"tff": "top field first", "bff": "bottom field first"}
# Codecs with no interlaced coding at all: their pictures are progressive by definition, never sampled.
PROGRESSIVE_ONLY = {
    "vp8", "vp9", "av1", "theora", "mpeg1video", "msmpeg4v1", "msmpeg4v2", "msmpeg4v3", "wmv1", "wmv2", "flv1",
    "h261", "h263", "cinepak", "gif", "png", "webp", "qoi", "bmp",
}  # fmt: skip
SAMPLE_POINTS = (1 / 6, 1 / 2, 5 / 6)  # where a long source is sampled, as fractions of its duration
SAMPLE_FRAMES = 50  # frames per point: a sample decodes at most 3 x 50 = 150 frames (each point from a keyframe)
MIN_DETERMINED = 10  # frames idet must judge before its verdict counts
VERDICT_SHARE = 0.8  # a verdict needs this share of the judged frames
SAMPLE_TIMEOUT_S = 120.0  # per point; a sample that fails or times out leaves the decision to the flag
_MULTI = re.compile(
    r"Multi frame detection:\s*TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+)\s*Undetermined:\s*(\d+)"
)


@dataclass(frozen=True)
class FieldCounts:
    """idet's multi-frame detection over a sample: frames judged top or bottom field first, progressive, or
    not judged (still or flat pictures)."""

    tff: int = 0
    bff: int = 0
    progressive: int = 0
    undetermined: int = 0

    def __add__(self, other: FieldCounts) -> FieldCounts:
        return FieldCounts(self.tff + other.tff, self.bff + other.bff, self.progressive + other.progressive,
                           self.undetermined + other.undetermined)  # fmt: skip

    def verdict(self) -> str | None:
        """ "tff", "bff" or "progressive" when at least `VERDICT_SHARE` of the judged frames agree; None when
        too few frames were judged or they disagree (synthetic patterns can look half TFF, half BFF)."""
        judged = self.tff + self.bff + self.progressive
        if judged < MIN_DETERMINED:
            return None
        for name, count in (("progressive", self.progressive), ("tff", self.tff), ("bff", self.bff)):
            if count >= VERDICT_SHARE * judged:
                return name
        return None

    def describe(self) -> str:
        return f"idet: {self.tff} TFF, {self.bff} BFF, {self.progressive} progressive, {self.undetermined} undetermined"


@dataclass(frozen=True)
class Interlace:
    """What was detected and what is done: `parity` is the deinterlacer's field order ("tff", "bff", or "auto":
    each frame's own flag), None when the frames are encoded as they are."""

    mode: str  # the setting: auto, on or off
    field_order: str  # as probed
    counts: FieldCounts | None  # idet over the sample; None when not sampled
    interlaced: bool | None  # the content's verdict; None: not known
    parity: str | None
    summary: str  # one line for the log and the report

    @property
    def deinterlace(self) -> bool:
        return self.parity is not None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "counts": asdict(self.counts) if self.counts else None}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Interlace | None:
        if not d:
            return None
        return cls(**{**d, "counts": FieldCounts(**d["counts"]) if d.get("counts") else None})

    def report(self) -> dict[str, Any]:
        return {"setting": self.mode, "field_order": self.field_order,
                "idet": asdict(self.counts) if self.counts else None, "interlaced": self.interlaced,
                "deinterlaced": self.deinterlace, "parity": self.parity,
                "filter": deinterlace_filter(self.parity) if self.parity else None, "summary": self.summary}  # fmt: skip


def needs_sample(mode: str, codec: str, field_order: str) -> bool:
    """Whether `decide` needs idet's counts: never when off or for a progressive-only codec; with `on`, only to
    find the parity the flag does not give; with `auto`, always (the flag can lie either way)."""
    if mode == "off" or codec in PROGRESSIVE_ONLY:
        return False
    return mode == "auto" or field_order not in FIRST_DISPLAYED


def decide(mode: str, codec: str, field_order: str, counts: FieldCounts | None) -> Interlace:
    """Pure: the probed field order and idet's counts -> deinterlace or not, and with which parity.

    idet's verdict wins where it has one (it looks at the pictures; the flag is metadata); where it has none,
    the flag decides. The parity is the content's when idet judged it, else the flag's, else each frame's own.
    """
    flag = FIRST_DISPLAYED.get(field_order)
    verdict = counts.verdict() if counts else None
    seen = f"; {counts.describe()}" if counts else ""
    if codec in PROGRESSIVE_ONLY:
        interlaced: bool | None = False
        why = f"{codec} has no interlaced coding"
    elif verdict is not None:
        interlaced = verdict != "progressive"
        lie = field_order == "progressive" if interlaced else flag is not None
        why = f"content is {'interlaced' if interlaced else 'progressive'}" + (", unlike its flag" if lie else "")
    elif flag is not None:
        interlaced, why = True, "flagged interlaced"
    elif field_order == "progressive":
        interlaced, why = False, "flagged progressive"
    else:
        interlaced, why = None, "field order unknown"
    parity = verdict if verdict in PARITY_NAMES else flag or "auto"
    detected = f"field order {field_order}{seen}: {why}"
    if mode == "off":
        return Interlace(
            mode, field_order, counts, interlaced, None, f"{detected}; not deinterlaced (--deinterlace off)"
        )
    if mode == "on" or interlaced:
        named = PARITY_NAMES.get(parity, "each frame's flagged field order (bottom first where unflagged)")
        how = "--deinterlace on" if mode == "on" else "auto"
        return Interlace(mode, field_order, counts, interlaced, parity, f"{detected}; deinterlaced, {named} ({how})")
    return Interlace(mode, field_order, counts, interlaced, None, f"{detected}; not deinterlaced")


def deinterlace_filter(parity: str) -> str:
    """bwdif, one frame per frame (send_frame), every frame (deint=all: a combed frame may be flagged
    progressive), with the source's field parity."""
    return f"bwdif=mode=send_frame:parity={parity}:deint=all"


def deinterlace_filters(parity: str | None, time_base: Fraction) -> list[str]:
    """The filters an encoder puts first, before trim: the deinterlacer sees the frames decoded on both sides
    of its segment (the one after always; the one before unless the segment starts on its own keyframe), as
    one whole-file pass would. bwdif halves the time base (for its field mode); `settb` puts the source's
    back, exactly, so `trim` keeps counting in source ticks."""
    if parity is None:
        return []
    return [deinterlace_filter(parity), f"settb={time_base.numerator}/{time_base.denominator}"]


def sample_points(seconds: float | None, frames: int | None) -> list[float | None]:
    """Where the sample starts (seconds from the start; None: the very start): one run from the start for a
    short source, else `SAMPLE_POINTS` spread over it (titles and black at the start judge nothing)."""
    if not seconds or not frames or frames <= SAMPLE_FRAMES * len(SAMPLE_POINTS):
        return [None]
    return [round(seconds * p, 3) for p in SAMPLE_POINTS]


def idet_args(source: MediaSource, stream: int, start: float | None, frames: int) -> list[str]:
    """argv (without the program) that runs idet over `frames` frames of the video from `start`."""
    # the coded pictures, unrotated (fields are their rows); from the keyframe at or before `start`: any
    # pictures will do, so no frames are decoded only to be dropped
    opts: dict[str, str | int | float | None] = {"noautorotate": None}
    if start:
        opts |= {"noaccurate_seek": None, "ss": f"{start:.3f}"}
    selected = input_stream(source, opts)[str(stream)]
    return compile_args(selected, output="-", options={"vf": "idet", "frames:v": frames, "an": None, "sn": None,
                                                       "dn": None, "f": "null"})  # fmt: skip


def parse_idet(stderr: str) -> FieldCounts:
    """Sum every idet instance's multi-frame counts in an ffmpeg log (ffmpeg can configure a graph twice)."""
    total = FieldCounts()
    for match in _MULTI.finditer(stderr):
        total += FieldCounts(*(int(g) for g in match.groups()))
    return total


def sample_fields(source: MediaSource, stream: int, seconds: float | None, frames: int | None) -> FieldCounts:
    """Run idet over the sample (at most `SAMPLE_FRAMES` x 3 frames) and sum its counts."""
    points = sample_points(seconds, frames)
    per_point = SAMPLE_FRAMES * len(SAMPLE_POINTS) if points == [None] else SAMPLE_FRAMES
    total = FieldCounts()
    for start in points:
        args = idet_args(source, stream, start, per_point)
        total += parse_idet(run_ffmpeg(args, loglevel="info", timeout=SAMPLE_TIMEOUT_S).stderr)
    return total


def detect(info: MediaInfo, source: MediaSource, mode: str) -> Interlace:
    """The prepare stage's decision for `source` under the `--deinterlace` setting (idet run only if needed)."""
    video = info.video
    assert video is not None
    counts, failed = None, ""
    if needs_sample(mode, video.codec, video.field_order):
        seconds = info.video_seconds() if info.frames else info.duration
        try:
            counts = sample_fields(source, video.index, seconds, info.frames.count if info.frames else None)
        except ToolError as exc:  # the sample only informs the decision: without it, the flag decides
            log.warning("interlace: the idet sample failed (%s); the field order flag decides", exc)
            failed = f"idet sample failed ({exc}); "
    result = decide(mode, video.codec, video.field_order, counts)
    result = replace(result, summary=failed + result.summary)
    log.info("interlace: %s", result.summary)
    return result
