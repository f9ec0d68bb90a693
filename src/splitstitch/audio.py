"""Audio is handled once for the whole file, never per segment (no AAC priming at joins).

Copied when every chosen track already fits the output container and no bitrate was asked for,
otherwise encoded. Audio that starts before the first video frame is trimmed to it; audio that starts
later is delayed at mux time, so the A/V offset of the source is kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from splitstitch.codecs import AUDIO_ENCODER, OutputFormat
from splitstitch.command import compile_args, input_stream
from splitstitch.media import MediaInfo
from splitstitch.settings import Settings

OFFSET_TOLERANCE_S = 0.001
INTERMEDIATE = {
    "mp4": ("mp4", ".m4a"),
    "mov": ("mp4", ".m4a"),
    "webm": ("webm", ".webm"),
    "matroska": ("matroska", ".mka"),
}


@dataclass(frozen=True)
class AudioPlan:
    stream_indexes: tuple[int, ...]  # absolute source stream indexes, in output order
    mode: str  # "copy" or "encode"
    codec: str  # output audio codec
    bitrates: tuple[str, ...]
    trim_start_s: float  # seconds cut from the start (audio began before the video)
    delay_s: float  # seconds of delay at mux (audio began after the video)
    muxer: str
    file_name: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_bitrate(channels: int) -> str:
    return "128k" if channels <= 2 else f"{64 * channels}k"


def plan_audio(info: MediaInfo, settings: Settings, fmt: OutputFormat) -> AudioPlan | None:
    chosen = [info.audio[n] for n in settings.audio_track_numbers(len(info.audio))]
    if not chosen:
        return None
    starts = [a.start_time for a in chosen if a.start_time is not None]
    offset = (min(starts) if starts else info.start_time) - info.video_start()
    trim = -offset if offset < -OFFSET_TOLERANCE_S else 0.0
    copy = settings.audio_bitrate is None and trim == 0.0 and all(a.codec in fmt.audio_copyable for a in chosen)
    muxer, ext = INTERMEDIATE[fmt.muxer]
    return AudioPlan(
        stream_indexes=tuple(a.index for a in chosen),
        mode="copy" if copy else "encode",
        codec=chosen[0].codec if copy else fmt.audio_codec,
        bitrates=tuple(settings.audio_bitrate or default_bitrate(a.channels) for a in chosen),
        trim_start_s=round(trim, 6),
        delay_s=round(offset, 6) if offset > OFFSET_TOLERANCE_S else 0.0,
        muxer=muxer,
        file_name="audio" + ext,
    )


def audio_args(plan: AudioPlan, info: MediaInfo, output: Path) -> list[str]:
    in_opts: dict[str, str | int | float | None] = {"threads": 1}
    if plan.trim_start_s:
        in_opts["ss"] = f"{info.video_start() - info.start_time:.6f}"
    source = input_stream(Path(info.path), in_opts)
    streams = [source[str(i)] for i in plan.stream_indexes]
    options: dict[str, str | int | None] = {"vn": None, "sn": None, "dn": None, "map_metadata": -1}
    if plan.mode == "copy":
        options["c:a"] = "copy"
    else:
        options["c:a"] = AUDIO_ENCODER[plan.codec]
        for n, bitrate in enumerate(plan.bitrates):
            options[f"b:a:{n}"] = bitrate
        if plan.codec == "opus":
            options["ar"] = 48000
    options["f"] = plan.muxer
    return compile_args(*streams, output=output, options=options)
