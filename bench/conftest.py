"""Fixtures for the stage benchmarks: one small generated clip, probed, planned, split and encoded once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from splitstitch.audio import AudioPlan, audio_args, plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import encode_segment, encoded_name
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import open_source
from splitstitch.media import MediaInfo
from splitstitch.plan import Plan, plan_segments
from splitstitch.samples import make_clip
from splitstitch.settings import Settings
from splitstitch.split import split_source

CLIP_SECONDS = 12.0
CLIP_SIZE = "640x360"
SEGMENT_SECONDS = 4.0


@dataclass(frozen=True)
class Staged:
    source: Path
    info: MediaInfo
    plan: Plan
    settings: Settings
    split_files: list[Path]
    encoded: list[Path]
    audio: AudioPlan | None
    audio_file: Path | None
    output: Path


@pytest.fixture(scope="session")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    folder = tmp_path_factory.mktemp("bench")
    source = make_clip(folder / "clip.mp4", CLIP_SECONDS, CLIP_SIZE)
    settings = Settings(segment_seconds=SEGMENT_SECONDS)
    info = open_source(source)
    assert info.video
    plan = plan_segments(info, settings.segment_seconds)
    split_dir = folder / "split"
    split_dir.mkdir()
    files = split_source(plan, info.video, source, split_dir) if plan.split_path == "copy" else []
    enc_dir = folder / "encoded"
    enc_dir.mkdir()
    encoded = []
    for seg in plan.segments:
        out = enc_dir / encoded_name(seg.index)
        encode_segment(settings, info.video, seg, segment_file=files[seg.index] if files else None, source=source,
                       source_start=info.start_time, output=out)  # fmt: skip
        encoded.append(out)
    fmt = output_format(settings.codec, folder / "out.mp4")
    audio = plan_audio(info, settings, fmt)
    audio_file = None
    if audio:
        audio_file = enc_dir / audio.file_name
        run_ffmpeg(audio_args(audio, info, audio_file))
    return Staged(source, info, plan, settings, files, encoded, audio, audio_file, folder / "out.mp4")
