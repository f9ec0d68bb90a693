"""Stitch encoded segments with the concat demuxer (stream copy) and mux the audio encoded once.

Each segment's `duration` in the ffconcat script is the source time from its first frame to the next
segment's first frame, so every frame lands on its source timestamp, VFR included.
"""

from __future__ import annotations

from pathlib import Path

from splitstitch.audio import AudioPlan
from splitstitch.codecs import Codec, OutputFormat, codec_tag
from splitstitch.command import compile_args, input_stream
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.plan import Plan


def concat_script(plan: Plan, file_names: list[str]) -> str:
    """An ffconcat script with bare file names (safe mode) and exact durations."""
    lines = ["ffconcat version 1.0"]
    for segment, name in zip(plan.segments, file_names, strict=True):
        if not name or "/" in name or "'" in name or name.startswith("."):
            raise ValueError(f"unsafe segment file name: {name!r}")
        lines += [f"file '{name}'", f"duration {segment.duration_seconds:.6f}"]
    return "\n".join(lines) + "\n"


def stitch_args(
    script: Path, audio: tuple[AudioPlan, Path] | None, codec: Codec, fmt: OutputFormat, output: Path
) -> list[str]:
    video = input_stream(
        script, {"f": "concat", "safe": 1, "auto_convert": 0}
    )  # segments share one parameter set: copy packets untouched
    streams = [video["v:0"]]
    if audio is not None:
        audio_plan, audio_path = audio
        opts = {"itsoffset": f"{audio_plan.delay_s:.6f}"} if audio_plan.delay_s else {}
        streams.append(input_stream(audio_path, opts)["a"])
    options: dict[str, str | int | None] = {"c": "copy", "map_metadata": -1}
    tag = codec_tag(codec, fmt.muxer)
    if tag:
        options["tag:v"] = tag
    if fmt.muxer in ("mp4", "mov"):
        options["movflags"] = "+faststart"
    options["f"] = fmt.muxer
    return compile_args(*streams, output=output, options=options)


def stitch_segments(
    plan: Plan,
    encoded_paths: list[Path],
    audio: tuple[AudioPlan, Path] | None,
    codec: Codec,
    fmt: OutputFormat,
    output: Path,
    timeout: float = 3600.0,
) -> None:
    """Write the ffconcat script beside the segments (they must share a folder) and mux to `output`."""
    folder = encoded_paths[0].parent
    if any(p.parent != folder for p in encoded_paths):
        raise ValueError("encoded segments must share one folder")
    script = folder / "segments.ffconcat"
    script.write_text(concat_script(plan, [p.name for p in encoded_paths]), encoding="utf-8")
    run_ffmpeg(stitch_args(script, audio, codec, fmt, output), timeout=timeout)
