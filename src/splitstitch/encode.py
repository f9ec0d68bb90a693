"""Encode one video segment: video only, starting with an IDR frame, closed GOP, one encoder thread,
identical parameters for every segment, source timestamps kept (relative to the segment's first frame).

The segment comes either from a copy-split file (every frame in it belongs to the segment) or straight
from the source (the decode path: seek two keyframes early, keep exactly [start_pts, end_pts) with trim).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from splitstitch.codecs import ENCODER, PROBE_CODEC, SVT_PRESET, VP9_CPU_USED
from splitstitch.command import compile_args, filter_chain, input_stream
from splitstitch.errors import SegmentMismatchError
from splitstitch.ffmpeg import run_ffmpeg, run_ffprobe
from splitstitch.media import VideoInfo
from splitstitch.plan import Segment
from splitstitch.settings import Settings
from splitstitch.verify import decode_check

log = logging.getLogger(__name__)

SEEK_MARGIN_S = 0.5
SEGMENT_MUXER = "mp4"  # holds h264, hevc, vp9 and av1 with exact time bases
ROTATION_FILTERS = {90: "transpose=cclock", 180: "hflip,vflip", 270: "transpose=clock"}


def encoded_name(index: int) -> str:
    """The file name of an encoded segment, locally and in the cloud's work/<job>/."""
    return f"enc_{index:05d}.mp4"


@dataclass(frozen=True)
class EncodedSegment:
    index: int
    path: str
    frames: int
    seconds: float  # encode wall seconds
    bytes: int
    decode_seconds: float  # the worker's full decode of its segment (part of verification)


def output_pix_fmt(settings: Settings, video: VideoInfo) -> str:
    """8-bit 4:2:0 for H.264 (what players decode); 10-bit kept for the newer codecs."""
    if settings.codec != "h264" and video.bit_depth > 8:
        return "yuv420p10le"
    return "yuv420p"


def geometry_filters(settings: Settings, video: VideoInfo) -> list[str]:
    """Rotation baked into the pixels (the output carries no display matrix), then size.

    No upscaling: `--height` above the source keeps the source height. 4:2:0 needs even sizes: odd
    dimensions lose their last row/column by crop rather than a resample of the whole picture.
    """
    filters = [ROTATION_FILTERS[video.rotation]] if video.rotation in ROTATION_FILTERS else []
    _, display_height = video.display_size
    if settings.height and settings.height < display_height:
        filters.append(f"scale=-2:{settings.height - settings.height % 2}")
    elif video.width % 2 or video.height % 2:
        filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0")
    return filters


def encoder_options(settings: Settings, video: VideoInfo) -> dict[str, str | int | None]:
    crf, preset, threads = settings.effective_crf, settings.preset, settings.encoder_threads
    options: dict[str, str | int | None] = {"c:v": ENCODER[settings.codec]}
    if settings.codec == "h264":
        options |= {"preset": preset, "crf": crf, "x264-params": "open-gop=0"}
    elif settings.codec == "h265":
        pools = f"pools={threads}:frame-threads={threads}"
        options |= {"preset": preset, "crf": crf, "x265-params": f"{pools}:open-gop=0:log-level=error"}
    elif settings.codec == "vp9":
        options |= {"crf": crf, "b:v": 0, "deadline": "good", "cpu-used": VP9_CPU_USED[preset], "row-mt": 0}
    else:
        options |= {"crf": crf, "preset": SVT_PRESET[preset], "svtav1-params": f"lp={threads}"}
    return options | {"threads": threads, "pix_fmt": output_pix_fmt(settings, video)}


def seek_seconds(segment: Segment, time_base: Fraction, source_start: float) -> float | None:
    if segment.seek_pts is None:
        return None
    seconds = float(segment.seek_pts * time_base) - source_start - SEEK_MARGIN_S
    return seconds if seconds > 0 else None


def encode_args(
    settings: Settings,
    video: VideoInfo,
    segment: Segment,
    *,
    segment_file: Path | None,
    source: Path,
    source_start: float,
    output: Path,
) -> list[str]:
    """argv (without the program) that encodes `segment` to `output`.

    With `segment_file` (copy path) the whole file is the segment; without it the frames are taken from
    `source` by timestamp.
    """
    in_opts: dict[str, str | int | float | None] = {"threads": 1, "noautorotate": None}
    if segment_file is not None:
        stream = input_stream(segment_file, in_opts)["v:0"]
        trim = None
    else:
        seek = seek_seconds(segment, video.time_base, source_start)
        if seek is not None:
            in_opts |= {"noaccurate_seek": None, "ss": f"{seek:.6f}"}
        stream = input_stream(source, in_opts | {"copyts": None})[str(video.index)]
        end = f":end_pts={segment.end_pts}" if segment.end_pts is not None else ""
        trim = f"trim=start_pts={segment.start_pts}{end}"
    vf = filter_chain(trim, "setpts=PTS-STARTPTS", *geometry_filters(settings, video))
    options = {
        "an": None, "sn": None, "dn": None, "vf": vf,
        **encoder_options(settings, video),
        "fps_mode": "passthrough", "enc_time_base:v": "demux", "f": SEGMENT_MUXER,
    }  # fmt: skip
    return compile_args(stream, output=output, options=options)


def count_packets(path: Path, timeout: float = 300.0) -> int:
    out = run_ffprobe(
        ["-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0",
         f"file:{path}"], timeout=timeout,
    ).stdout  # fmt: skip
    digits = "".join(ch for ch in out.split("\n")[0] if ch.isdigit())
    return int(digits) if digits else 0


def encode_segment(
    settings: Settings,
    video: VideoInfo,
    segment: Segment,
    *,
    segment_file: Path | None,
    source: Path,
    source_start: float,
    output: Path,
    timeout: float = 3600.0,
    on_progress: Callable[[float], None] | None = None,
) -> EncodedSegment:
    """Encode, then check the segment: exactly the planned frames, and a full decode with no warnings."""
    started = time.perf_counter()
    args = encode_args(
        settings, video, segment, segment_file=segment_file, source=source, source_start=source_start, output=output
    )
    run_ffmpeg(args, timeout=timeout, on_progress=on_progress)
    seconds = time.perf_counter() - started
    frames = count_packets(output)
    if frames != segment.frames:
        raise SegmentMismatchError(f"segment {segment.name}: encoded {frames} frames, planned {segment.frames}")
    decode_started = time.perf_counter()
    check = decode_check(output, PROBE_CODEC[settings.codec], maps=("0:v",))
    if not check.ok:
        raise SegmentMismatchError(f"segment {segment.name} does not decode cleanly: {check.detail}")
    decode_seconds = time.perf_counter() - decode_started
    log.info("segment %s: %d frames in %.2f s, decoded in %.2f s", segment.name, frames, seconds, decode_seconds)
    return EncodedSegment(
        segment.index, str(output), frames, round(seconds, 3), output.stat().st_size, round(decode_seconds, 3)
    )
