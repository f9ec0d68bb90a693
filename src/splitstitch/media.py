"""Typed ffprobe results: streams, duration, rotation and the frame index used for planning.

Parsing is pure (unit-tested on literal ffprobe output); `probe()` is the only function that runs ffprobe.
Fields that can be missing in real files (an audio duration, a frame rate) are optional, and only the code
that needs them complains.
"""

from __future__ import annotations

import itertools
import logging
import re
import statistics
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from splitstitch.command import INPUT_PROTOCOLS, source_url
from splitstitch.ffmpeg import ffprobe_json, run_ffprobe

log = logging.getLogger(__name__)

STILL_IMAGE_CODECS = {"png", "mjpeg", "bmp", "gif", "webp", "tiff", "jpeg2000", "jpegls", "qoi"}


@dataclass(frozen=True)
class VideoInfo:
    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    time_base: Fraction
    frame_rate: Fraction | None
    rotation: int  # degrees counter-clockwise from the display matrix, normalised to 0/90/180/270
    declared_frames: int | None = None  # what the container's index claims (MP4 `nb_frames`), if anything

    @property
    def display_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    channels: int
    channel_layout: str | None
    sample_rate: int
    start_time: float | None
    duration: float | None
    time_base: Fraction = Fraction(1, 90000)


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


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size: int
    format_name: str
    duration: float | None
    start_time: float
    video: VideoInfo | None
    audio: tuple[AudioInfo, ...]
    frames: FrameIndex | None = None
    data_end: int = 0  # largest packet pos+size seen: beyond `size` means the file is truncated
    audio_extents: tuple[tuple[int, float, float], ...] = ()  # (stream index, first s, end s) from packets
    scan_errors: str = ""  # what ffprobe said while reading every packet (e.g. "partial file")

    def audio_extent(self, index: int) -> tuple[float, float] | None:
        return next(((a, b) for i, a, b in self.audio_extents if i == index), None)

    def video_seconds(self) -> float:
        assert self.video and self.frames
        return float((self.frames.end() - self.frames.timestamps[0]) * self.video.time_base)

    def video_start(self) -> float:
        assert self.video and self.frames
        return float(self.frames.timestamps[0] * self.video.time_base)


def _fraction(text: str | None) -> Fraction | None:
    if not text or text in ("0/0", "N/A"):
        return None
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        return None
    return value if value > 0 else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def rotation_of(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return round(float(side["rotation"])) % 360 // 90 * 90
    rotate = stream.get("tags", {}).get("rotate")  # old muxers: clockwise degrees
    return (-int(rotate)) % 360 if rotate and rotate.lstrip("-").isdigit() else 0


def bit_depth_of(stream: dict[str, Any]) -> int:
    raw = stream.get("bits_per_raw_sample")
    if raw and str(raw).isdigit() and int(raw) > 0:
        return int(raw)
    match = re.search(r"p(\d{2})(le|be)$", stream.get("pix_fmt", ""))
    return int(match.group(1)) if match else 8


def parse_streams(path: str, size: int, data: dict[str, Any]) -> MediaInfo:
    fmt = data.get("format", {})
    video: VideoInfo | None = None
    audio: list[AudioInfo] = []
    for s in data.get("streams", []):
        kind = s.get("codec_type")
        if kind == "video" and video is None and not s.get("disposition", {}).get("attached_pic"):
            video = VideoInfo(
                index=int(s["index"]),
                codec=s.get("codec_name", "unknown"),
                width=int(s.get("width") or 0),
                height=int(s.get("height") or 0),
                pix_fmt=s.get("pix_fmt", "unknown"),
                bit_depth=bit_depth_of(s),
                time_base=_fraction(s.get("time_base")) or Fraction(1, 90000),
                frame_rate=_fraction(s.get("avg_frame_rate")) or _fraction(s.get("r_frame_rate")),
                rotation=rotation_of(s),
                declared_frames=int(s["nb_frames"]) if str(s.get("nb_frames", "")).isdigit() else None,
            )
        elif kind == "audio":
            audio.append(
                AudioInfo(
                    index=int(s["index"]),
                    codec=s.get("codec_name", "unknown"),
                    channels=int(s.get("channels") or 0),
                    channel_layout=s.get("channel_layout"),
                    sample_rate=int(s.get("sample_rate") or 0),
                    start_time=_float(s.get("start_time")),
                    duration=_float(s.get("duration")),
                    time_base=_fraction(s.get("time_base")) or Fraction(1, 90000),
                )
            )
    return MediaInfo(
        path=path,
        size=size,
        format_name=fmt.get("format_name", "unknown"),
        duration=_float(fmt.get("duration")),
        start_time=_float(fmt.get("start_time")) or 0.0,
        video=video,
        audio=tuple(audio),
    )


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


PacketRow = tuple[str, str, str, str, str]  # pts, duration, flags, pos, size as ffprobe prints them


def packet_rows(text: str) -> dict[int, list[PacketRow]]:
    """ffprobe `-of compact=p=0` packet lines (`key=value|...`, any order), grouped by stream, in file order."""
    rows: dict[int, list[PacketRow]] = {}
    for line in text.splitlines():
        fields = dict(part.split("=", 1) for part in line.strip().split("|") if "=" in part)
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
    as discarded packets but Matroska stores as negative timestamps.
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
    return (start_time if start_time is not None else first), end


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


def probe_streams(path: Path, timeout: float = 120.0) -> MediaInfo:
    data = ffprobe_json(
        ["-protocol_whitelist", INPUT_PROTOCOLS, "-show_format", "-show_streams", source_url(path)], timeout=timeout
    )
    return parse_streams(str(path), path.stat().st_size, data)


def scan_packets(path: str, stream_indexes: list[int], timeout: float) -> tuple[dict[int, list[PacketRow]], str]:
    """One demux pass (no decoding) over the given streams' packets; returns rows and ffprobe's complaints."""
    done = run_ffprobe(
        ["-protocol_whitelist", INPUT_PROTOCOLS, "-show_entries", "packet=stream_index,pts,duration,flags,pos,size",
         "-of", "compact=p=0", source_url(path)], timeout=timeout,
    )  # fmt: skip
    rows = packet_rows(done.stdout)
    return {i: rows.get(i, []) for i in stream_indexes}, done.stderr.strip()


def probe_frames(info: MediaInfo, timeout: float = 1800.0) -> MediaInfo:
    """Add the frame index (from packets; from the decoder when packets lack timestamps) and audio extents."""
    assert info.video is not None
    rows, errors = scan_packets(info.path, [info.video.index, *(a.index for a in info.audio)], timeout)
    frames = parse_packets(rows[info.video.index])
    if frames is None:
        log.info("packets lack timestamps: indexing frames with the decoder")
        select = ["-protocol_whitelist", INPUT_PROTOCOLS, "-select_streams", str(info.video.index)]
        data = ffprobe_json(
            [*select, "-show_entries", "frame=best_effort_timestamp,key_frame", source_url(info.path)], timeout=timeout
        )
        frames = parse_frames(data)
    extents = []
    for a in info.audio:
        extent = extent_of(rows[a.index], a.time_base, a.start_time)
        if extent:
            extents.append((a.index, *extent))
    return replace(
        info, frames=frames, data_end=data_end_of(rows), audio_extents=tuple(extents), scan_errors=errors[-2000:]
    )
