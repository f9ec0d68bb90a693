"""Copy-split the video stream at the planned safe keyframes (no re-encode).

`-segment_frames` takes decode-order packet counts; at a safe cut (closed GOP) that count equals the
frame's presentation index, which is what the plan holds. Timestamps are kept; each encoder rebases
its segment to zero.
"""

from __future__ import annotations

import logging
from pathlib import Path

from splitstitch.command import compile_args, input_stream
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import VideoInfo
from splitstitch.plan import Plan

log = logging.getLogger(__name__)

SEGMENT_EXTENSION = {"mpegts": ".ts", "matroska": ".mkv"}


def segment_file_name(plan: Plan, index: int) -> str:
    assert plan.segment_format
    return f"src_{index:05d}{SEGMENT_EXTENSION[plan.segment_format]}"


def split_args(plan: Plan, video: VideoInfo, source: Path, out_dir: Path) -> list[str]:
    assert plan.split_path == "copy" and plan.segment_format
    stream = input_stream(source)[str(video.index)]
    options: dict[str, str | int | None] = {"c": "copy", "map_metadata": -1}
    if len(plan.segments) == 1:
        return compile_args(
            stream, output=out_dir / segment_file_name(plan, 0), options=options | {"f": plan.segment_format}
        )
    pattern = out_dir / f"src_%05d{SEGMENT_EXTENSION[plan.segment_format]}"
    cuts = ",".join(str(s.start_frame) for s in plan.segments[1:])
    options |= {"f": "segment", "segment_format": plan.segment_format, "segment_frames": cuts}
    return compile_args(stream, output=pattern, options=options)


def split_source(plan: Plan, video: VideoInfo, source: Path, out_dir: Path, timeout: float = 3600.0) -> list[Path]:
    """Write one file per planned segment; returns their paths in index order."""
    run_ffmpeg(split_args(plan, video, source, out_dir), timeout=timeout)
    paths = [out_dir / segment_file_name(plan, s.index) for s in plan.segments]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"split wrote no {missing[0]}")
    log.info("split into %d segment files", len(paths))
    return paths
