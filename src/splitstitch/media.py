"""Typed ffprobe results: streams, duration, rotation and the frame index used for planning.

Parsing is pure (unit-tested on literal ffprobe output); `probe()` is the only function that runs ffprobe.
Fields that can be missing in real files (an audio duration, a frame rate) are optional, and only the code
that needs them complains.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from splitstitch.ffmpeg import ffprobe_json
from splitstitch.frames import (
    VIDEO_REORDER,
    FrameIndex,
    Join,
    Unindexable,
    data_end_of,
    extent_of,
    parse_frames,
    parse_packets,
    stream_runs,
)
from splitstitch.scan import scan_packets
from splitstitch.source import MediaSource
from splitstitch.timeline import Rebuild, decoded_rebuild, is_raw_video, plan_rebuild

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
    field_order: str = "unknown"  # as probed: tt, bb, tb, bt (interlaced), progressive or unknown
    profile: str | None = None  # ffprobe's words: "Main 10", "Profile 2", "High"
    # colour as ffprobe names it ("bt2020", "smpte2084", "bt2020nc", "tv"); None: not signalled
    color_primaries: str | None = None
    color_transfer: str | None = None
    color_space: str | None = None
    color_range: str | None = None
    side_data: tuple[str, ...] = ()  # stream side data types ("Mastering display metadata"...), not rotation

    @property
    def display_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "time_base": str(self.time_base),
                "frame_rate": str(self.frame_rate) if self.frame_rate is not None else None}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoInfo:
        rate = d.get("frame_rate")
        return cls(**{**d, "time_base": Fraction(d["time_base"]), "frame_rate": Fraction(rate) if rate else None,
                      "side_data": tuple(d.get("side_data", ()))})  # fmt: skip


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
    language: str | None = None  # the container's tag as written (MP4, Matroska: ISO 639-2), if any

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "time_base": str(self.time_base)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioInfo:
        return cls(**{**d, "time_base": Fraction(d["time_base"])})


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "size": self.size, "format_name": self.format_name, "duration": self.duration,
            "start_time": self.start_time, "video": self.video.to_dict() if self.video else None,
            "audio": [a.to_dict() for a in self.audio], "frames": self.frames.to_dict() if self.frames else None,
            "data_end": self.data_end, "audio_extents": [list(e) for e in self.audio_extents],
            "scan_errors": self.scan_errors, "timeline": [j.to_dict() for j in self.timeline],
            "rebuilt_from": self.rebuilt_from,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MediaInfo:
        return cls(
            path=d["path"], size=d["size"], format_name=d["format_name"], duration=d["duration"],
            start_time=d["start_time"], video=VideoInfo.from_dict(d["video"]) if d.get("video") else None,
            audio=tuple(AudioInfo.from_dict(a) for a in d.get("audio", [])),
            frames=FrameIndex.from_dict(d["frames"]) if d.get("frames") else None, data_end=d.get("data_end", 0),
            audio_extents=tuple((int(i), float(a), float(b)) for i, a, b in d.get("audio_extents", [])),
            scan_errors=d.get("scan_errors", ""), timeline=tuple(Join(**j) for j in d.get("timeline", [])),
            rebuilt_from=d.get("rebuilt_from", ""),
        )  # fmt: skip


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


def colour_of(stream: dict[str, Any]) -> dict[str, Any]:
    """Profile, colour fields and HDR side data of a probed video stream ("unknown"/absent: None)."""

    def known(key: str) -> str | None:
        value = stream.get(key)
        return value if value and value not in ("unknown", "unspecified", "reserved") else None

    side = tuple(s["side_data_type"] for s in stream.get("side_data_list", [])
                 if s.get("side_data_type") and "rotation" not in s)  # fmt: skip
    return {"profile": known("profile"), "color_primaries": known("color_primaries"),
            "color_transfer": known("color_transfer"), "color_space": known("color_space"),
            "color_range": known("color_range"), "side_data": side}  # fmt: skip


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
                field_order=s.get("field_order") or "unknown",
                **colour_of(s),
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
                    language=next((v for k, v in s.get("tags", {}).items() if k.lower() == "language"), None),
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


def probe_streams(source: MediaSource, timeout: float = 120.0) -> MediaInfo:
    data = ffprobe_json(["-show_format", "-show_streams", *source.input_args()], timeout=timeout)
    return parse_streams(source.name, source.size, data)


def probe_frames(info: MediaInfo, source: MediaSource, timeout: float = 1800.0, parallel: int = 1) -> MediaInfo:
    """Add the frame index (from packets; from the decoder when packets lack timestamps) and audio extents.

    `parallel` > 1 scans a remote source in that many overlapping intervals at once (see scan.py). When
    timestamps restart or jump mid-file, or a raw elementary stream has none, the index is left out and
    `rebuild` says how to make one timeline;
    when the video cannot be indexed `index_problem` says why.
    """
    video = info.video
    assert video is not None
    streams = [video.index, *(a.index for a in info.audio)]
    rows, errors = scan_packets(source, streams, timeout, parallel if source.is_remote else 1, info.duration)
    frames: FrameIndex | None = None
    rebuild, problem = None, ""
    try:
        if not rows[video.index]:
            raise Unindexable("no decodable video frames: the video stream holds no packets")
        if is_raw_video(info.format_name):  # no timestamps at all: only a decode gives the length and rate
            rebuild = decoded_rebuild(video.index, len(rows[video.index]))
        else:
            audio_runs = [stream_runs(a.index, rows[a.index], a.time_base, 0) for a in info.audio]
            video_runs = stream_runs(video.index, rows[video.index], video.time_base, VIDEO_REORDER)
            rebuild = plan_rebuild(video_runs, audio_runs, info.format_name)
        if rebuild is None:
            frames = parse_packets(rows[video.index]) or _decoder_frames(source, video, timeout)
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
        declared_size=0 if source.is_remote else riff_size(source.path),
    )  # fmt: skip


def _decoder_frames(source: MediaSource, video: VideoInfo, timeout: float) -> FrameIndex:
    log.info("packets lack timestamps: indexing frames with the decoder")
    data = ffprobe_json(
        ["-select_streams", str(video.index), "-show_entries", "frame=best_effort_timestamp,key_frame",
         *source.input_args()], timeout=timeout,
    )  # fmt: skip
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
