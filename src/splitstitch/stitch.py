"""Outputs that are not MP4 (Matroska, WebM): the assembled fragmented MP4 remuxed by stream copy.

MP4 outputs need nothing here: they are the segments' fragments concatenated (see assemble.py). Matroska
keeps every packet and timestamp (to its 1 ms time base); the result is checked again with ffprobe.
"""

from __future__ import annotations

from pathlib import Path

from splitstitch.codecs import OutputFormat
from splitstitch.command import compile_args, input_stream
from splitstitch.ffmpeg import run_ffmpeg


def remux_args(assembled: Path, fmt: OutputFormat, output: Path) -> list[str]:
    source = input_stream(assembled)
    options: dict[str, str | int | None] = {"map": "0", "c": "copy", "map_metadata": -1, "f": fmt.muxer}
    return compile_args(source, output=output, options=options)


def remux(assembled: Path, fmt: OutputFormat, output: Path, timeout: float = 3600.0) -> None:
    run_ffmpeg(remux_args(assembled, fmt, output), timeout=timeout)
