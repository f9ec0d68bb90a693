"""Typed ffprobe results: streams, duration, rotation and the frame index used for planning.

Parsing is pure (unit-tested on literal ffprobe output); `probe()` is the only function that runs ffprobe.
Fields that can be missing in real files (an audio duration, a frame rate) are optional, and only the code
that needs them complains.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from splitstitch.command import INPUT_PROTOCOLS, source_url
from splitstitch.ffmpeg import ffprobe_json, run_ffprobe
from splitstitch.frames import (
    VIDEO_REORDER,
    FrameIndex,
    Join,
    PacketRow,
    Unindexable,
    data_end_of,
    extent_of,
    packet_rows,
    parse_frames,
    parse_packets,
    stream_runs,
)
from splitstitch.timeline import Rebuild, plan_rebuild

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
    # facts only the prepare step uses (the refusals, the rebuild): not part of a job's identity, so a
    # manifest that leaves them out still round-trips equal
    rebuild: Rebuild | None = field(default=None, compare=False)  # how to rebuild one timeline (frames None)
    index_problem: str = field(default="", compare=False)  # why there is no frame index, in true words
    packet_counts: tuple[tuple[int, int], ...] = field(default=(), compare=False)  # (stream, packets) scanned
    declared_size: int = field(default=0, compare=False)  # bytes a RIFF (AVI) file's chunk headers claim
    timeline: tuple[Join, ...] = ()  # this file is a rebuilt copy of a source: where its runs were joined
    rebuilt_from: str = ""  # and the source it was rebuilt from

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


def probe_streams(path: Path, timeout: float = 120.0) -> MediaInfo:
    data = ffprobe_json(
        ["-protocol_whitelist", INPUT_PROTOCOLS, "-show_format", "-show_streams", source_url(path)], timeout=timeout
    )
    return parse_streams(str(path), path.stat().st_size, data)


def scan_packets(path: str, stream_indexes: list[int], timeout: float) -> tuple[dict[int, list[PacketRow]], str]:
    """One demux pass (no decoding) over the given streams' packets; returns rows and ffprobe's complaints."""
    done = run_ffprobe(
        ["-protocol_whitelist", INPUT_PROTOCOLS, "-show_entries", "packet=stream_index,pts,dts,duration,flags,pos,size",
         "-of", "compact=p=0", source_url(path)], timeout=timeout,
    )  # fmt: skip
    rows = packet_rows(done.stdout)
    return {i: rows.get(i, []) for i in stream_indexes}, done.stderr.strip()


def probe_frames(info: MediaInfo, timeout: float = 1800.0) -> MediaInfo:
    """Add the frame index (from packets; from the decoder when packets lack timestamps) and audio extents.

    When timestamps restart or jump mid-file the index is left out and `rebuild` says how to make one
    timeline; when the video cannot be indexed `index_problem` says why.
    """
    video = info.video
    assert video is not None
    rows, errors = scan_packets(info.path, [video.index, *(a.index for a in info.audio)], timeout)
    frames: FrameIndex | None = None
    rebuild, problem = None, ""
    try:
        if not rows[video.index]:
            raise Unindexable("no decodable video frames: the video stream holds no packets")
        audio_runs = [stream_runs(a.index, rows[a.index], a.time_base, 0) for a in info.audio]
        video_runs = stream_runs(video.index, rows[video.index], video.time_base, VIDEO_REORDER)
        rebuild = plan_rebuild(video_runs, audio_runs, info.format_name)
        if rebuild is None:
            frames = parse_packets(rows[video.index]) or _decoder_frames(info.path, video, timeout)
    except Unindexable as exc:
        problem = str(exc)
    extents = []
    for a in info.audio:
        extent = extent_of(rows[a.index], a.time_base, a.start_time)
        if extent:
            extents.append((a.index, *extent))
    return replace(
        info, frames=frames, data_end=data_end_of(rows), audio_extents=tuple(extents), scan_errors=errors[-2000:],
        rebuild=rebuild, index_problem=problem, packet_counts=tuple((i, len(r)) for i, r in rows.items()),
        declared_size=riff_size(info.path),
    )  # fmt: skip


def _decoder_frames(path: str, video: VideoInfo, timeout: float) -> FrameIndex:
    log.info("packets lack timestamps: indexing frames with the decoder")
    select = ["-protocol_whitelist", INPUT_PROTOCOLS, "-select_streams", str(video.index)]
    data = ffprobe_json(
        [*select, "-show_entries", "frame=best_effort_timestamp,key_frame", source_url(path)], timeout=timeout
    )
    return parse_frames(data, video.time_base)


def riff_size(path: str | Path) -> int:
    """The bytes a RIFF file's (AVI, WAV) top-level chunk headers add up to, which is more than the file
    holds when its end is missing; 0 for other files."""
    size = Path(path).stat().st_size
    position = end = 0
    with open(path, "rb") as fh:
        while position + 8 <= size:
            fh.seek(position)
            head = fh.read(8)
            if head[:4] != b"RIFF":  # AVI goes on in RIFF AVIX chunks; stop at anything else
                break
            end = position + 8 + int.from_bytes(head[4:], "little")
            position = end + (end & 1)  # chunks start on even offsets
    return end
