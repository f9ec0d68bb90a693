"""Timestamps that restart or jump mid-file: one monotonic timeline, the way players present such a file.

Pure functions (no processes). `frames.find_cuts` finds each stream's cuts; here they are lined up across
streams, each run gets one shift for all streams, and an ffmpeg stream copy (`setts` keyed on the packet
number) writes the rebuilt file that the rest of the pipeline reads instead of the source.

Decisions:
- Runs follow each other. A run starts when every stream's previous run has ended: the stream that
  ended first (audio a few ms shorter, or video) gets a gap before the next run: the last video frame is
  held longer, audio has a silent gap. Nothing is trimmed: every packet of every stream is kept.
- One shift per run for all streams keeps the A/V offset inside every run exactly (to one tick).
- A cut that goes back must be in every stream (audio restarting without the video, or the reverse, is
  refused). A forward jump counts only where every stream jumps together (else it is a held frame or a
  silent gap) or, in a file with no audio, in a format made to carry discontinuities (MPEG-TS, PS, FLV).
- A raw elementary video stream (`.m1v`, `.m2v`, `.h264`, `.hevc`...) has no timeline at all: the packet
  timestamps are the parser's guesses (ffprobe reads such a file as 0.04 s at 50 fps, and a B-frame stream
  has none), and a stream copy cannot give B-frames their presentation times. Such a stream is decoded once,
  every frame at the rate its bitstream declares (the decoder's frame n at n / rate), into an intra-only
  lossless copy (FFV1 in QuickTime, which keeps the 1/rate time base): every frame the decoder gives, exact,
  and a keyframe at every frame. It costs storage (a third to a half of the raw frames) for a kind of
  file that is small in practice.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from splitstitch.frames import Cut, Join, StreamRuns, Unindexable
from splitstitch.source import MediaSource

PTS_ONLY_FORMATS = {"matroska"}  # containers that store no dts (ffmpeg guesses them when demuxing)
MATCH_S = Fraction(5)  # an audio cut is the video's when the new runs start this close (A/V offsets are less)
DISCONTINUOUS_FORMATS = {"mpegts", "mpegtsraw", "mpeg", "flv"}  # ffmpeg's AVFMT_TS_DISCONT demuxers
REMUX = {"matroska": ("matroska", ".mkv"), "mov": ("mp4", ".mp4"), "mpegts": ("mpegts", ".ts")}
FALLBACK_REMUX = ("matroska", ".mkv")  # holds nearly any codec
# libavformat's raw video demuxers: a bare elementary stream, with no container and no timestamps
RAW_VIDEO_FORMATS = {
    "mpegvideo", "h264", "hevc", "vvc", "m4v", "h261", "h263", "cavsvideo", "avs2", "avs3", "dirac", "vc1", "evc",
}  # fmt: skip
DECODED_COPY = ("mov", ".mov")  # FFV1 in QuickTime: lossless, any pixel format, the frame rate's own time base


@dataclass(frozen=True)
class StreamShift:
    """What the rebuild adds to one stream's timestamps: `shifts[i]` ticks from packet `starts[i]` on."""

    index: int
    packets: int  # the rebuilt file must hold exactly as many
    starts: tuple[int, ...]
    shifts: tuple[int, ...]
    clear_dts: bool  # the demuxer guessed the dts (wrongly after a restart): the muxer derives them again


@dataclass(frozen=True)
class Rebuild:
    streams: tuple[StreamShift, ...]  # video first
    joins: tuple[Join, ...]
    muxer: str
    extension: str
    decode: bool = False  # no timeline to shift (a raw elementary stream): decode into a lossless copy


def decoded_rebuild(video_index: int, packets: int) -> Rebuild:
    """How to give a raw elementary video stream a timeline: decode it once into a lossless copy."""
    return Rebuild((StreamShift(video_index, packets, (), (), False),), (), *DECODED_COPY, decode=True)


def is_raw_video(format_name: str) -> bool:
    return format_name.split(",")[0] in RAW_VIDEO_FORMATS


def _seconds(runs: StreamRuns, ticks: int) -> Fraction:
    return ticks * runs.time_base


def _matches(video: StreamRuns, v: Cut, other: StreamRuns, c: Cut) -> bool:
    return c.back == v.back and abs(_seconds(other, c.after) - _seconds(video, v.after)) <= MATCH_S


def _where(runs: StreamRuns, position: int) -> str:
    return f"{float(_seconds(runs, runs.spans[position][1])):.2f} s"


def match_cuts(video: StreamRuns, audio: Sequence[StreamRuns], discontinuous: bool) -> list[list[int]]:
    """Line the cuts up: one entry per kept video cut, the positions of that cut in [video, *audio]."""
    kept: list[list[int]] = []
    next_pick = [0] * len(audio)
    for vi, v in enumerate(video.cuts):
        picks = [
            next((j for j in range(next_pick[s], len(a.cuts)) if _matches(video, v, a, a.cuts[j])), None)
            for s, a in enumerate(audio)
        ]
        if None not in picks and (audio or discontinuous or v.back):
            kept.append([vi, *picks])  # type: ignore[list-item]
            next_pick = [p + 1 for p in picks]  # type: ignore[operator]
        elif v.back:
            lone = audio[picks.index(None)]
            raise Unindexable(
                f"video timestamps go back at {_where(video, vi)} (frame {v.index}) "
                f"but audio stream {lone.index}'s do not jump with them"
            )
    for s, a in enumerate(audio):
        used = {k[s + 1] for k in kept}
        for j, c in enumerate(a.cuts):
            if c.back and j not in used:
                raise Unindexable(
                    f"audio stream {a.index} timestamps go back at {_where(a, j)} (packet {c.index}) "
                    "but the video's do not jump with them"
                )
    return kept


def merged_spans(runs: StreamRuns, kept: list[int]) -> list[tuple[int, int]]:
    """Run spans when only the `kept` cut positions split the stream (dropped cuts are gaps inside a run)."""
    bounds = [0, *(k + 1 for k in kept), len(runs.spans)]
    return [
        (min(s[0] for s in runs.spans[a:b]), max(s[1] for s in runs.spans[a:b])) for a, b in itertools.pairwise(bounds)
    ]


def run_shifts(spans: Sequence[Sequence[tuple[int, int]]], time_bases: Sequence[Fraction]) -> list[Fraction]:
    """Seconds added to each run (all streams alike): each run starts where the last stream's previous
    run ended, so no stream overlaps itself and the A/V offset inside every run is kept."""
    shifts = [Fraction(0)]
    for i in range(1, len(spans[0])):
        step = max((s[i - 1][1] - s[i][0]) * tb for s, tb in zip(spans, time_bases, strict=True))
        shifts.append(shifts[-1] + step)
    return shifts


def plan_rebuild(video: StreamRuns, audio: Sequence[StreamRuns], format_name: str) -> Rebuild | None:
    """None when no cut needs rebuilding; raises `Unindexable` when the streams' cuts do not line up."""
    family = format_name.split(",")[0]
    kept = match_cuts(video, audio, discontinuous=family in DISCONTINUOUS_FORMATS)
    if not kept:
        return None
    streams = [video, *audio]
    positions = [[k[s] for k in kept] for s in range(len(streams))]
    spans = [merged_spans(r, p) for r, p in zip(streams, positions, strict=True)]
    shifts = run_shifts(spans, [r.time_base for r in streams])
    shifted = [
        StreamShift(
            index=r.index,
            packets=r.packets,
            starts=tuple(r.cuts[p].index for p in pos),
            shifts=tuple(math.ceil(s / r.time_base) for s in shifts[1:]),  # ceil: never overlap the run before
            clear_dts=n == 0 and family in PTS_ONLY_FORMATS,
        )
        for n, (r, pos) in enumerate(zip(streams, positions, strict=True))
    ]
    v_spans, tb = spans[0], video.time_base
    joins = tuple(
        Join(
            frame=video.cuts[p].index,
            at_s=round(float((v_spans[i][0] - v_spans[0][0]) * tb + shifts[i]), 6),
            source_end_s=round(float(v_spans[i - 1][1] * tb), 6),
            source_start_s=round(float(v_spans[i][0] * tb), 6),
            shift_s=round(float(shifts[i]), 6),
            kind="back" if video.cuts[p].back else "forward",
        )
        for i, p in enumerate(positions[0], start=1)
    )
    muxer, extension = REMUX.get(family, FALLBACK_REMUX)
    return Rebuild(tuple(shifted), joins, muxer, extension)


def setts_expr(stamp: str, starts: Sequence[int], shifts: Sequence[int]) -> str:
    """`PTS` or `DTS` plus each run's added shift from its first packet number on (unset stamps stay unset)."""
    terms, before = "", 0
    for start, total in zip(starts, shifts, strict=True):
        terms += f"+if(gte(N\\,{start})\\,{total - before}\\,0)"
        before = total
    return f"if(eq({stamp}\\,NOPTS)\\,NOPTS\\,{stamp}{terms})"


def rebuild_args(rebuild: Rebuild, source: MediaSource, output: Path, muxer: str | None = None) -> list[str]:
    """argv (without the program): stream copy of the rebuilt streams with their timestamps shifted.

    `-copyts` keeps the source's timestamps (ffmpeg would otherwise fix discontinuities its own way), and
    every packet reaches the filter (`-copyinkf`), so the packet number `N` is the one the scan counted.
    Unset dts are derived again by libavformat's muxing layer from the rebuilt pts (ffmpeg 8.1 warns this
    is deprecated; the rebuild then checks every packet and that no cut remains).

    A `decode` rebuild decodes the video instead and writes every decoded frame once (`-fps_mode
    passthrough`: ffmpeg times a raw stream's frames at its bitstream's rate) as an FFV1 keyframe.
    """
    if rebuild.decode:
        video = rebuild.streams[0].index
        return [*source.input_args(), "-map", f"0:{video}", "-fps_mode", "passthrough", "-c:v", "ffv1", "-g", "1",
                "-map_metadata", "-1", "-f", muxer or rebuild.muxer, str(output)]  # fmt: skip
    args = ["-copyts", *source.input_args()]
    for n, s in enumerate(rebuild.streams):
        pts = setts_expr("PTS", s.starts, s.shifts)
        dts = "NOPTS" if s.clear_dts else setts_expr("DTS", s.starts, s.shifts)
        args += ["-map", f"0:{s.index}", f"-bsf:{n}", f"setts=pts={pts}:dts={dts}"]
    args += ["-c", "copy", "-copyinkf", "-map_metadata", "0"]
    return [*args, "-f", muxer or rebuild.muxer, str(output)]
