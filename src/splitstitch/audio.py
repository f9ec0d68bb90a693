"""Audio is handled once for the whole file, never per segment (no AAC priming at joins).

Copied when every chosen track already fits the output container and no bitrate was asked for,
otherwise encoded. Audio that starts before the first video frame is trimmed to it; audio that starts
later is delayed at mux time, so the A/V offset of the source is kept.

The trim is made on the decoded samples (`atrim` at a sample count), never with an input `-ss`: in AVI
and MPEG-PS, audio packets do not start on codec frames, and a seek lands on a byte position, so it lost
part of a frame, or, on a real AC-3 AVI, 469 ms.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from splitstitch.codecs import AUDIO_ENCODER, OutputFormat
from splitstitch.command import compile_args, input_stream
from splitstitch.media import AudioInfo, MediaInfo
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


def track_start(info: MediaInfo, track: AudioInfo) -> float:
    """Where a track's first presented sample is: from its packets when scanned (AVI reports a start time of
    0 for every stream, whatever the index says), else ffprobe's stream start time, else the file's."""
    extent = info.audio_extent(track.index)
    if extent:
        return extent[0]
    return track.start_time if track.start_time is not None else info.start_time


def plan_audio(info: MediaInfo, settings: Settings, fmt: OutputFormat) -> AudioPlan | None:
    chosen = [info.audio[n] for n in settings.audio_track_numbers(len(info.audio))]
    if not chosen:
        return None
    offset = min(track_start(info, a) for a in chosen) - info.video_start()
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


def trim_samples(info: MediaInfo, track: AudioInfo) -> int:
    """Samples of `track`'s decoded timeline before the first video frame.

    ffmpeg starts every decoded stream's timeline at the file's start time, and gives decoded audio a time
    base of one sample, so this is the first sample to keep, counted from that origin.
    """
    return round((info.video_start() - info.start_time) * track.sample_rate)


def audio_args(plan: AudioPlan, info: MediaInfo, output: Path) -> list[str]:
    source = input_stream(Path(info.path), {"threads": 1})
    streams = [source[str(i)] for i in plan.stream_indexes]
    if plan.trim_start_s:
        # Cut every track at the first video frame and move that instant to 0 (not each track's own first
        # sample: a track that starts after the video keeps its offset, exactly as the video is shifted).
        tracks = {a.index: a for a in info.audio}
        cuts = [trim_samples(info, tracks[i]) for i in plan.stream_indexes]
        streams = [
            s.filter("atrim", start_pts=n).filter("asetpts", f"PTS-{n}") for s, n in zip(streams, cuts, strict=True)
        ]
    elif plan.mode == "encode":
        # Encoded audio starts at 0, so the encoder's priming falls before 0 and is marked to be skipped; a
        # stream that starts later (decoded timestamps keep the source's offset) would present it. The
        # offset to the video is `delay_s`, applied at mux.
        streams = [s.filter("asetpts", "PTS-STARTPTS") for s in streams]
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
