"""Build ffmpeg argument lists with ffmpeg-python, as pure data (nothing here starts a process).

ffmpeg-python is unmaintained and untyped; this module is the only place that touches it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import ffmpeg as ffmpeg_python

from splitstitch.source import MediaSource

Options = Mapping[str, str | int | float | None]

# Sources are opened through the file protocol only; playlists/scripts are refused before this.
INPUT_PROTOCOLS = "file"


def source_url(path: str | os.PathLike[str]) -> str:
    """`file:` + absolute path, so names such as `concat:a|b` or `x:y.mp4` are never parsed as protocols."""
    return "file:" + os.path.abspath(os.fspath(path))


def input_stream(source: MediaSource | str | os.PathLike[str], options: Options | None = None):
    """An ffmpeg-python input: a MediaSource with its protocol options, or a local file (work files)."""
    if isinstance(source, MediaSource):
        return ffmpeg_python.input(source.url, **{**source.input_options(), **(options or {})})
    return ffmpeg_python.input(source_url(source), **{"protocol_whitelist": INPUT_PROTOCOLS, **(options or {})})


def compile_args(*inputs_and_maps: object, output: str | Path, options: Options) -> list[str]:
    """Compile `-i ...` inputs, `-map`s and output options to argv, without the program name.

    `inputs_and_maps` are ffmpeg-python stream selectors such as `source["v:0"]`.
    """
    node = ffmpeg_python.output(*inputs_and_maps, os.fspath(output), **dict(options))
    return node.compile(cmd="ffmpeg")[1:]


def filter_chain(*filters: str | None) -> str:
    """Join simple filters with commas; `None` entries are skipped."""
    return ",".join(f for f in filters if f)
