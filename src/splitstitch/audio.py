"""Audio is handled once for the whole file, never per segment (no AAC priming at joins).

Copied when every chosen track already fits the output container and no bitrate was asked for,
otherwise encoded. Audio that starts before the first video frame is trimmed to it; audio that starts
later is delayed when the output is assembled, so the A/V offset of the source is kept.

The trim is made on the decoded samples (`atrim` at a sample count), never with an input `-ss`: in AVI
and MPEG-PS, audio packets do not start on codec frames, and a seek lands on a byte position, so it lost
part of a frame, or, on a real AC-3 AVI, 469 ms.

The audio job writes a fragmented MP4 (`delay_moov`, so ffmpeg's edit list carries the encoder priming)
cut into fragments about one segment long, which the finish stage interleaves with the video segments.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from splitstitch import fmp4
from splitstitch.assemble import AudioFragment
from splitstitch.codecs import AUDIO_ENCODER, OutputFormat
from splitstitch.command import compile_args, input_stream
from splitstitch.errors import SegmentMismatchError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import AudioInfo, MediaInfo
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.verify import decode_check

log = logging.getLogger(__name__)

OFFSET_TOLERANCE_S = 0.001
AUDIO_FRAGMENTED = "+frag_custom+delay_moov+default_base_moof"
MAIN = "main"  # the audio of a single-file output; streaming renditions are named for their track and layout


def init_name(name: str = MAIN) -> str:
    return f"audio/{name}/init.mp4"


def fragments_name(name: str = MAIN) -> str:
    return f"audio/{name}/fragments.m4s"


def result_name(name: str = MAIN) -> str:
    return f"audio/{name}/result.json"


def item_name(plan: AudioPlan) -> str:
    """What an audio job is called in logs, usage and error records: audio, or audio-a0-stereo."""
    return "audio" if plan.name == MAIN else f"audio-{plan.name}"


@dataclass(frozen=True)
class AudioPlan:
    stream_indexes: tuple[int, ...]  # absolute source stream indexes, in output order
    mode: str  # "copy" or "encode"
    codec: str  # output audio codec
    bitrates: tuple[str, ...]
    trim_start_s: float  # seconds cut from the start (audio began before the video)
    delay_s: float  # seconds of delay at assembly (audio began after the video)
    trim_samples: tuple[int, ...]  # per track: decoded samples before the first video frame (when trimming)
    fragment_s: float  # about one segment: how the audio interleaves with the video
    name: str = MAIN
    channels: int | None = None  # downmix (or keep) to this many channels; None keeps the source's
    pad_samples: tuple[int, ...] = ()  # per track: silence before the first sample (streaming renditions)
    lengths_s: tuple[float, ...] = ()  # per track: seconds the source presents from where the output starts it
    end_samples: tuple[int, ...] = ()  # per track: the same in samples, where an encode stops (its padding goes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> AudioPlan | None:
        if d is None:
            return None
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class AudioResult:
    fragments: tuple[AudioFragment, ...]
    bytes: int
    init_sha256: str
    seconds: float
    check_seconds: float
    check: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fragments": [asdict(f) for f in self.fragments]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioResult:
        return cls(**{**d, "fragments": tuple(AudioFragment(**f) for f in d["fragments"])})


def default_bitrate(channels: int) -> str:
    return "128k" if channels <= 2 else f"{64 * channels}k"


def track_start(info: MediaInfo, track: AudioInfo) -> float:
    """Where a track's first presented sample is: from its packets when scanned (AVI reports a start time of
    0 for every stream, whatever the index says), else ffprobe's stream start time, else the file's."""
    extent = info.audio_extent(track.index)
    if extent:
        return extent[0]
    return track.start_time if track.start_time is not None else info.start_time


def trim_samples(info: MediaInfo, track: AudioInfo) -> int:
    """Samples of `track`'s decoded timeline before the first video frame.

    ffmpeg starts every decoded stream's timeline at the file's start time, and gives decoded audio a time
    base of one sample, so this is the first sample to keep, counted from that origin.
    """
    return round((info.video_start() - info.start_time) * track.sample_rate)


def presented_s(info: MediaInfo, track: AudioInfo) -> float:
    """Seconds of `track` the source presents from where the output starts it (the first video frame, or
    its own later start): the source's packets, which end where its edit list ends (AAC padding and MP3's
    last frame are not presented). The output's edit list presents exactly this, never the padding."""
    extent = info.audio_extent(track.index)
    assert extent is not None
    return round(max(extent[1] - max(extent[0], info.video_start()), 0.0), 6)


def plan_audio(info: MediaInfo, settings: Settings, fmt: OutputFormat, fragment_s: float = 10.0) -> AudioPlan | None:
    chosen = [info.audio[n] for n in settings.audio_track_numbers(len(info.audio))]
    if not chosen:
        return None
    offset = min(track_start(info, a) for a in chosen) - info.video_start()
    trim = -offset if offset < -OFFSET_TOLERANCE_S else 0.0
    # copied only when it needs no cut and no delay: the audio job's output must start at 0 (a copied stream
    # keeps its own start, which ffmpeg's fragmented MP4 writes as an empty edit)
    aligned = abs(offset) <= OFFSET_TOLERANCE_S
    copy = settings.audio_bitrate is None and aligned and all(a.codec in fmt.audio_copyable for a in chosen)
    known = all(info.audio_extent(a.index) for a in chosen)  # lengths from the packets, when they were scanned
    return AudioPlan(
        stream_indexes=tuple(a.index for a in chosen),
        mode="copy" if copy else "encode",
        codec=chosen[0].codec if copy else fmt.audio_codec,
        bitrates=tuple(settings.audio_bitrate or default_bitrate(a.channels) for a in chosen),
        trim_start_s=round(trim, 6),
        delay_s=round(offset, 6) if offset > OFFSET_TOLERANCE_S else 0.0,
        trim_samples=tuple(trim_samples(info, a) for a in chosen) if trim else (),
        fragment_s=round(fragment_s, 3),
        lengths_s=tuple(presented_s(info, a) for a in chosen) if known else (),
        end_samples=tuple(round(presented_s(info, a) * a.sample_rate) for a in chosen) if known else (),
    )


def plan_renditions(info: MediaInfo, settings: Settings, fragment_s: float) -> tuple[AudioPlan, ...]:
    """Streaming audio: every chosen track once as AAC stereo, and once more as AAC 5.1 where it has 5.1 or
    more; each starts with the video (a later start is padded with silence: players ignore edit lists)."""
    aac = OutputFormat("mp4", ".mp4", "aac", frozenset())
    plans: list[AudioPlan] = []
    for n in settings.audio_track_numbers(len(info.audio)):
        track = info.audio[n]
        one = plan_audio(info, replace(settings, audio_tracks=str(n)), aac, fragment_s)
        assert one is not None
        pad = (round(one.delay_s * track.sample_rate),) if one.delay_s else ()
        base = replace(one, mode="encode", codec="aac", delay_s=0.0, pad_samples=pad)
        plans.append(replace(base, name=f"a{n}-stereo", channels=2, bitrates=(settings.audio_bitrate or "128k",)))
        if track.channels >= 6:
            plans.append(replace(base, name=f"a{n}-5.1", channels=6, bitrates=(settings.audio_bitrate or "384k",)))
    return tuple(plans)


def audio_args(plan: AudioPlan, source: MediaSource, output: Path) -> list[str]:
    stream = input_stream(source, {"threads": 1})
    streams = [stream[str(i)] for i in plan.stream_indexes]
    if plan.trim_start_s:
        # Cut every track at the first video frame and move that instant to 0 (not each track's own first
        # sample: a track that starts after the video keeps its offset, exactly as the video is shifted).
        streams = [s.filter("atrim", start_pts=n).filter("asetpts", f"PTS-{n}")
                   for s, n in zip(streams, plan.trim_samples, strict=True)]  # fmt: skip
    elif plan.mode == "encode":
        # Encoded audio starts at 0, so the encoder's priming falls before 0 and is marked to be skipped; a
        # stream that starts later keeps its offset to the video as `delay_s`, applied at assembly.
        streams = [s.filter("asetpts", "PTS-STARTPTS") for s in streams]
    if plan.mode == "encode" and plan.end_samples:
        # Stop where the source's presentation ends (its edit list, DiscardPadding): decoders emit the last
        # frame whole, padding included, and an encode would carry that padding on as sound.
        streams = [s.filter("atrim", end_sample=n) if n else s for s, n in zip(streams, plan.end_samples, strict=True)]
    if plan.pad_samples:  # a rendition that starts with the video: the delay becomes silence
        streams = [s.filter("adelay", delays=f"{n}S", all=1) for s, n in zip(streams, plan.pad_samples, strict=True)]
    options: dict[str, str | int | None] = {"vn": None, "sn": None, "dn": None, "map_metadata": -1}
    if plan.mode == "copy":
        options["c:a"] = "copy"
    else:
        options["c:a"] = AUDIO_ENCODER[plan.codec]
        for n, bitrate in enumerate(plan.bitrates):
            options[f"b:a:{n}"] = bitrate
        if plan.codec == "opus":
            options["ar"] = 48000
        if plan.channels:
            options["ac"] = plan.channels
    options |= {"movflags": AUDIO_FRAGMENTED, "frag_duration": round(plan.fragment_s * 1e6), "f": "mp4"}
    return compile_args(*streams, output=output, options=options)


def audio_fragments(split: fmp4.Split) -> list[AudioFragment]:
    """Each fragment's place in the stored bytes and its start on the audio timeline (first track)."""
    tracks = fmp4.tracks(split.init)
    first = tracks[0]
    out = []
    for frag in fmp4.fragments(split.fragments, tracks):
        run = next(r for r in frag.runs if r.track_id == first.track_id)
        start = (run.decode_time + run.cts[0] - first.edit_media_time) / first.timescale
        raw = split.fragments[frag.start : frag.start + frag.size]
        out.append(AudioFragment(frag.start, frag.size, hashlib.sha256(raw).hexdigest(), round(start, 6),
                                 run.span, run.decode_time + run.cts[0]))  # fmt: skip
    return out


def encode_audio(
    plan: AudioPlan, source: MediaSource, work: Path, timeout: float = 3600.0,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[AudioResult, Path, bytes]:  # fmt: skip
    """Encode (or copy) the chosen tracks once, check that they decode cleanly; returns the result, the file
    of the fragments and the init bytes."""
    output = work / f"audio-{plan.name}.mp4"  # one file per plan: streaming renditions are encoded at once
    started = time.perf_counter()
    run_ffmpeg(audio_args(plan, source, output), timeout=timeout, on_progress=on_progress)
    seconds = time.perf_counter() - started
    check_started = time.perf_counter()
    check = decode_check(output, "", maps=("0:a",), name="audio_decodes_cleanly")
    if not check.ok:
        raise SegmentMismatchError(f"audio does not decode cleanly: {check.detail}")
    split = fmp4.split_file(output.read_bytes())
    fragments = work / f"audio-{plan.name}.m4s"
    fragments.write_bytes(split.fragments)
    output.unlink()
    result = AudioResult(tuple(audio_fragments(split)), len(split.fragments), hashlib.sha256(split.init).hexdigest(),
                         round(seconds, 3), round(time.perf_counter() - check_started, 3), check.detail)  # fmt: skip
    log.info("audio: %d tracks, %d fragments in %.2f s", len(plan.stream_indexes), len(result.fragments), seconds)
    return result, fragments, split.init
