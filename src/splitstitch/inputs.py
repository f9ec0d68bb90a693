"""Refuse bad input with one clear line before any work starts.

Order matters: cheap file checks, then a sniff of the first bytes (text such as an HLS playlist or an
ffconcat script is never handed to ffprobe, whose demuxers could follow its references), then the
probed format, then the probed streams against configurable limits.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, replace
from pathlib import Path

from splitstitch.errors import InputError, ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import MediaInfo, probe_frames, probe_streams
from splitstitch.source import MediaSource
from splitstitch.timeline import FALLBACK_REMUX, rebuild_args

log = logging.getLogger(__name__)

SNIFF_BYTES = 4096
MARKER_BYTES = 512
# Demuxers that read other files or URLs named inside the input, or that are not media at all: what each is.
REFUSED_FORMATS = {
    "hls": "an HLS playlist", "applehttp": "an HLS playlist", "dash": "a DASH manifest", "imf": "an IMF playlist",
    "concat": "an ffconcat script", "ffmetadata": "ffmetadata text", "tee": "a tee output list",
    "image2": "an image file or numbered image sequence", "image2pipe": "piped images", "lavfi": "a filter graph",
    "sdp": "an SDP session description", "rtsp": "an RTSP session", "tty": "text",
    **dict.fromkeys(("srt", "webvtt", "ass", "mpl2", "subviewer", "subviewer1", "jacosub", "microdvd", "sami",
                     "realtext", "vplayer", "pjs", "stl", "lrc", "aqtitle"), "subtitles or lyrics"),
}  # fmt: skip
# Text that names other files: (marker within the first MARKER_BYTES, what a file holding it looks like).
MARKERS = (
    (b"#EXTM3U", "an HLS playlist"), (b"#EXT-X", "an HLS playlist"), (b"ffconcat", "an ffconcat script"),
    (b"file '", "an ffconcat script"), (b'file "', "an ffconcat script"), (b"<MPD", "a DASH manifest"),
    (b"<?xml", "an XML document"),
)  # fmt: skip
TEXT_MARKERS = tuple(marker for marker, _ in MARKERS)


@dataclass(frozen=True)
class Limits:
    """What a service would accept by default: up to 8K, 12 hours, 100 GB."""

    max_width: int = 8192
    max_height: int = 8192
    max_pixels: int = 7680 * 4320
    max_duration_s: float = 12 * 3600
    max_bytes: int = 100 * 10**9


def sniff(head: bytes) -> str | None:
    """Why the first bytes of a file are text rather than media, or None: a marker of a playlist or script
    near the start, or mostly printable UTF-8 (a character cut off at the end of `head` does not count)."""
    for marker, kind in MARKERS:
        if marker in head[:MARKER_BYTES]:
            return f"looks like {kind} ({marker.decode()!r} in its first {MARKER_BYTES} bytes)"
    if not head:
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return None
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if text and printable / len(text) > 0.95:
        return f"is text ({printable / len(text):.0%} printable UTF-8 in its first {len(head)} bytes)"
    return None


def looks_like_text(head: bytes) -> bool:
    return sniff(head) is not None


def check_file(path: Path, limits: Limits) -> bytes:
    """A local source exists, is a regular file and can be read; returns its first bytes."""
    name = str(path)
    try:
        path.stat()
    except FileNotFoundError:
        raise InputError(name, "a symbolic link to a missing file" if path.is_symlink() else "no such file") from None
    except OSError as exc:  # e.g. a folder on the way that may not be searched
        raise InputError(name, f"cannot be examined: {exc.strerror or exc}") from None
    if not path.is_file():
        raise InputError(name, "is a folder, not a file" if path.is_dir() else "not a regular file")
    try:
        with path.open("rb") as fh:
            return fh.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(name, f"cannot be read: {exc.strerror or exc}") from None


def check_head(name: str, size: int, head: bytes, limits: Limits) -> None:
    """Size limits and the text sniff, for local and remote sources alike."""
    if size == 0:
        raise InputError(name, "empty file")
    if size > limits.max_bytes:
        raise InputError(name, f"file is {size} bytes, over the limit of {limits.max_bytes}")
    reason = sniff(head)
    if reason:
        raise InputError(name, f"{reason}, not a video file (refused)")


def check_streams(info: MediaInfo, limits: Limits) -> None:
    name = info.path
    refused = [REFUSED_FORMATS[f] for f in info.format_name.split(",") if f in REFUSED_FORMATS]
    if refused:
        raise InputError(name, f"ffprobe reads it as '{info.format_name}' ({refused[0]}), not a video file (refused)")
    video = info.video
    if video is None:  # streams flagged as attached pictures are not video (media.parse_streams skips them)
        what = "audio only: no video stream" if info.audio else "no audio or video stream"
        raise InputError(name, f"{what} other than cover art")
    if video.width <= 0 or video.height <= 0:
        raise InputError(name, f"ffprobe gives its video stream no dimensions ({video.width}x{video.height})")
    if video.width > limits.max_width or video.height > limits.max_height:
        raise InputError(
            name, f"{video.width}x{video.height} is over the limit of {limits.max_width}x{limits.max_height}"
        )
    if video.width * video.height > limits.max_pixels:
        raise InputError(name, f"{video.width}x{video.height} has more than {limits.max_pixels} pixels per frame")
    if info.duration is not None and info.duration > limits.max_duration_s:
        raise InputError(name, f"its header gives a duration of {info.duration:.0f} s, over the limit of "
                               f"{limits.max_duration_s:.0f} s")  # fmt: skip


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
    held = frames.empty_slots() + frames.empty  # dropped frames: empty AVI index entries, empty packets
    if declared and frames.from_packets and declared > frames.count + held and not info.format_name.startswith("avi"):
        # decoder counts skip discarded frames; an AVI's trailing empty entries are dropped frames (RIFF checked)
        raise InputError(name, f"truncated: {frames.count} of the {declared} video frames its index lists are present")
    seconds = info.video_seconds()
    if seconds > limits.max_duration_s:
        raise InputError(name, f"duration {seconds:.0f} s is over the limit of {limits.max_duration_s:.0f} s")


def ffprobe_said(exc: ToolError, source: MediaSource) -> str:
    """ffprobe's last line of complaint, without its `[demuxer @ 0x...]` prefix or the file's URL."""
    lines = exc.stderr_tail.strip().splitlines()
    last = lines[-1].split("] ")[-1] if lines else f"exit status {exc.returncode}, no message"
    return last.removeprefix(f"{source.url}: ")


def rebuild_timeline(
    info: MediaInfo, source: MediaSource, work: Path, limits: Limits | None = None
) -> tuple[MediaInfo, Path | None]:
    """A source whose timestamps restart or jump mid-file is stream-copied into `work` with one rebuilt
    timeline (`timeline.rebuild_args`); returns the rebuilt file's probe and the file, which the encoders
    then read instead of the source. Every packet must survive the copy and no cut may remain. A raw
    elementary video stream (no timestamps) is decoded into a lossless copy instead, which holds every frame
    the decoder gives. Other sources come back unchanged (and no file)."""
    rebuild = info.rebuild
    if rebuild is None:
        return info, None
    name = info.path
    what = "a raw video stream has no timestamps" if rebuild.decode else "timestamps restart or jump"
    remuxes = [(rebuild.muxer, rebuild.extension)] + ([] if rebuild.decode else [FALLBACK_REMUX])
    for muxer, extension in remuxes:
        out = work / f"timeline{extension}"
        try:
            run_ffmpeg(rebuild_args(rebuild, source, out, muxer))
            copy = MediaSource.local(out)
            rebuilt = probe_frames(probe_streams(copy), copy)
            break
        except ToolError as exc:
            failure = exc
    else:
        raise InputError(name, f"{what}, and a copy with one timeline failed ({failure})")
    lost = [
        f"stream {s.index}: {got} of {s.packets} packets"
        for s, (_, got) in zip(rebuild.streams, rebuilt.packet_counts, strict=True)
        if got != s.packets and not rebuild.decode  # a decode keeps frames, not packets (fields, leading B)
    ]
    if lost or rebuilt.rebuild is not None or rebuilt.frames is None:
        why = "; ".join(lost) or rebuilt.index_problem or "its timestamps still restart or jump"
        raise InputError(name, f"{what}, and the copy with one timeline is not exact ({why})")
    if rebuild.decode:
        assert rebuilt.video and info.video
        log.info("raw %s stream decoded into a lossless copy: %d frames at %s fps", info.video.codec,
                 rebuilt.frames.count, rebuilt.video.frame_rate)  # fmt: skip
        # the source is what the report describes; the copy's own format and codec matter to no encoder
        rebuilt = replace(rebuilt, format_name=info.format_name, video=replace(rebuilt.video, codec=info.video.codec))
    else:
        log.info("timeline rebuilt: %s",
                 "; ".join(f"{j.kind} at frame {j.frame}, {j.shift_s:+.3f} s" for j in rebuild.joins))  # fmt: skip
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
        if exc.timed_out:
            raise
        raise InputError(source.name, f"ffprobe cannot read it: {ffprobe_said(exc, source)}") from None
    check_frames(info, limits)
    return info
