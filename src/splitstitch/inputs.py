"""Refuse bad input with one clear line before any work starts.

Order matters: cheap file checks, then a sniff of the first bytes (text such as an HLS playlist or an
ffconcat script is never handed to ffprobe, whose demuxers could follow its references), then the
probed format, then the probed streams against configurable limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from splitstitch.errors import InputError, ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import STILL_IMAGE_CODECS, MediaInfo, probe_frames, probe_streams
from splitstitch.source import MediaSource
from splitstitch.timeline import FALLBACK_REMUX, rebuild_args

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
# Demuxers that read other files or URLs named inside the input, or that are not media at all.
REFUSED_FORMATS = {
    "hls", "applehttp", "concat", "dash", "ffmetadata", "tee", "imf", "image2", "image2pipe",
    "lavfi", "sdp", "rtsp", "srt", "webvtt", "ass", "tty", "mpl2", "subviewer", "subviewer1",
    "jacosub", "microdvd", "sami", "realtext", "vplayer", "pjs", "stl", "lrc", "aqtitle",
}  # fmt: skip
TEXT_MARKERS = (b"#EXTM3U", b"ffconcat", b"#EXT-X", b"<?xml", b"<MPD", b"file '", b'file "')


@dataclass(frozen=True)
class Limits:
    """What a service would accept by default: up to 8K, 12 hours, 100 GB."""

    max_width: int = 8192
    max_height: int = 8192
    max_pixels: int = 7680 * 4320
    max_duration_s: float = 12 * 3600
    max_bytes: int = 100 * 10**9


def looks_like_text(head: bytes) -> bool:
    if any(marker in head[:512] for marker in TEXT_MARKERS):
        return True
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable / len(text) > 0.95


def check_file(path: Path, limits: Limits) -> bytes:
    """A local source: exists, a regular file, not empty, not too large; returns its first bytes."""
    name = str(path)
    if not path.exists():
        raise InputError(name, "no such file")
    if not path.is_file():
        raise InputError(name, "not a regular file")
    with path.open("rb") as fh:
        return fh.read(SNIFF_BYTES)


def check_head(name: str, size: int, head: bytes, limits: Limits) -> None:
    """Size limits and the text sniff, for local and remote sources alike."""
    if size == 0:
        raise InputError(name, "empty file")
    if size > limits.max_bytes:
        raise InputError(name, f"file is {size} bytes, over the limit of {limits.max_bytes}")
    if looks_like_text(head):
        kind = "a playlist or script" if any(m in head[:512] for m in TEXT_MARKERS) else "text"
        raise InputError(name, f"is {kind}, not a video file (refused)")


def check_streams(info: MediaInfo, limits: Limits) -> None:
    name = info.path
    formats = set(info.format_name.split(","))
    if formats & REFUSED_FORMATS:
        raise InputError(name, f"format '{info.format_name}' is a playlist, script or image sequence (refused)")
    video = info.video
    if video is None:
        raise InputError(name, "audio only: no video stream" if info.audio else "no video stream")
    if video.codec in STILL_IMAGE_CODECS and (info.duration or 0) < 0.5:
        raise InputError(name, f"is a still image ({video.codec}), not a video")
    if video.width <= 0 or video.height <= 0:
        raise InputError(name, "video stream has no dimensions")
    if video.width > limits.max_width or video.height > limits.max_height:
        raise InputError(
            name, f"{video.width}x{video.height} is over the limit of {limits.max_width}x{limits.max_height}"
        )
    if video.width * video.height > limits.max_pixels:
        raise InputError(name, f"{video.width}x{video.height} has more than {limits.max_pixels} pixels per frame")
    if info.duration is not None and info.duration > limits.max_duration_s:
        raise InputError(name, f"duration {info.duration:.0f} s is over the limit of {limits.max_duration_s:.0f} s")


def check_frames(info: MediaInfo, limits: Limits) -> None:
    """Refuse, with the true reason, a source whose frames cannot all be read.

    Only data missing from the file counts as truncation (a packet past its end, ffprobe's "partial file",
    a RIFF chunk longer than the file, an MP4 index listing more frames than can be read): an AVI index
    entry with no data is a dropped frame of the capture (the frame before stays on screen), not a loss.
    """
    name = info.path
    if info.data_end > info.size or "partial file" in info.scan_errors:
        raise InputError(name, f"truncated: the file ends before its last packet ({info.size} bytes)")
    if info.declared_size > info.size:
        raise InputError(name, f"truncated: the file has {info.size} bytes, its RIFF headers say {info.declared_size}")
    if info.rebuild is not None:
        return  # timestamps restart or jump: checked again once rebuilt (`rebuild_timeline`)
    frames = info.frames
    if frames is None:
        raise InputError(name, info.index_problem or "the video frames could not be indexed")
    if frames.count == 1:
        raise InputError(name, "is a still image (one frame), not a video")
    declared = info.video.declared_frames if info.video else None
    held = frames.empty_slots()
    if declared and frames.from_packets and declared > frames.count + held and not info.format_name.startswith("avi"):
        # decoder counts skip discarded frames; an AVI's trailing empty entries are dropped frames (RIFF checked)
        raise InputError(name, f"truncated: {frames.count} of the {declared} video frames its index lists are present")
    seconds = info.video_seconds()
    if seconds > limits.max_duration_s:
        raise InputError(name, f"duration {seconds:.0f} s is over the limit of {limits.max_duration_s:.0f} s")


def rebuild_timeline(
    info: MediaInfo, source: MediaSource, work: Path, limits: Limits | None = None
) -> tuple[MediaInfo, Path | None]:
    """A source whose timestamps restart or jump mid-file is stream-copied into `work` with one rebuilt
    timeline (`timeline.rebuild_args`); returns the rebuilt file's probe and the file, which the encoders
    then read instead of the source. Every packet must survive the copy and no cut may remain. Other
    sources come back unchanged (and no file)."""
    rebuild = info.rebuild
    if rebuild is None:
        return info, None
    name = info.path
    for muxer, extension in (rebuild.muxer, rebuild.extension), FALLBACK_REMUX:
        out = work / f"timeline{extension}"
        try:
            run_ffmpeg(rebuild_args(rebuild, source, out, muxer))
            copy = MediaSource.local(out)
            rebuilt = probe_frames(probe_streams(copy), copy)
            break
        except ToolError as exc:
            failure = exc
    else:
        raise InputError(name, f"timestamps restart or jump, and a copy with one timeline failed ({failure})")
    lost = [
        f"stream {s.index}: {got} of {s.packets} packets"
        for s, (_, got) in zip(rebuild.streams, rebuilt.packet_counts, strict=True)
        if got != s.packets
    ]
    if lost or rebuilt.rebuild is not None or rebuilt.frames is None:
        why = "; ".join(lost) or rebuilt.index_problem or "its timestamps still restart or jump"
        raise InputError(name, f"timestamps restart or jump, and the copy with one timeline is not exact ({why})")
    log.info(
        "timeline rebuilt: %s", "; ".join(f"{j.kind} at frame {j.frame}, {j.shift_s:+.3f} s" for j in rebuild.joins)
    )
    try:
        check_frames(rebuilt, limits or Limits())
    except InputError as exc:
        raise InputError(name, exc.reason) from None
    return replace(rebuilt, path=name, timeline=rebuild.joins, rebuilt_from=name), out


def open_source(
    source: MediaSource, limits: Limits | None = None, head: bytes | None = None, parallel: int = 1
) -> MediaInfo:
    """Validate and probe a source; every refusal is an `InputError` with one line. A remote source's
    first bytes come as `head` (the caller fetched them); `parallel` scans a remote source in intervals."""
    limits = limits or Limits()
    if head is None:
        head = check_file(source.path, limits)
    check_head(source.name, source.size, head, limits)
    try:
        info = probe_streams(source)
        check_streams(info, limits)
        info = probe_frames(info, source, parallel=parallel)
    except ToolError as exc:
        last = exc.stderr_tail.strip().splitlines()[-1] if exc.stderr_tail.strip() else "unreadable"
        raise InputError(source.name, f"not a readable video ({last.split('] ')[-1]})") from None
    check_frames(info, limits)
    return info
