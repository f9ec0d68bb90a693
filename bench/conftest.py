"""Fixtures for the stage benchmarks: generated clips, each prepared and encoded once per session.

Stages measured (`make bench`): prepare (probe + packet scan + plan), one segment through
`stages.encode_segment`, the audio job, and finish (assembly + verification), on a 640x360 clip, a 1080p
clip, and prepare/finish over a sweep of source durations, where the serial stages show their slope.
"""

from __future__ import annotations

import dataclasses
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from splitstitch import stages
from splitstitch.codecs import output_format
from splitstitch.inputs import Limits, check_file
from splitstitch.job import Job
from splitstitch.pipeline import local_fanout, run_pool
from splitstitch.progress import SILENT
from splitstitch.report import StageTimer
from splitstitch.samples import make_clip
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.storage import LocalStorage

SEGMENT_SECONDS = 2.0
CLIPS = {"360p-12s": ("640x360", 12.0), "1080p-4s": ("1920x1080", 4.0)}
SWEEP_SECONDS = (4.0, 16.0, 64.0)  # 320x240: the serial stages against source duration


@dataclass(frozen=True)
class Staged:
    source: Path
    media: MediaSource
    settings: Settings
    job: Job
    store: LocalStorage
    folder: Path


def prepare(source: Path, settings: Settings) -> Job:
    """The prepare stage as the local executor runs it (a source on one timeline: nothing is written)."""
    head = check_file(source, Limits())
    fmt = output_format(settings.codec, Path("out.mp4"))
    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        return stages.prepare(uuid.uuid4().hex[:8], MediaSource.local(source), settings, fmt, local_fanout(2),
                              store=LocalStorage(Path(tmp)), work=Path(tmp), head=head)  # fmt: skip


def staged_clip(folder: Path, size: str, seconds: float) -> Staged:
    source = make_clip(folder / f"clip-{size}-{seconds:g}.mp4", seconds, size)
    settings = Settings(segment_seconds=SEGMENT_SECONDS, preset="veryfast")
    job = prepare(source, settings)
    store = LocalStorage(folder / f"store-{size}-{seconds:g}")
    run_pool(job, MediaSource.local(source), store, folder, 2, StageTimer(), SILENT)
    return Staged(source, MediaSource.local(source), settings, job, store, folder)


@pytest.fixture(scope="session", params=list(CLIPS))
def clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Staged:
    size, seconds = CLIPS[request.param]
    return staged_clip(tmp_path_factory.mktemp(request.param), size, seconds)


@pytest.fixture(scope="session", params=SWEEP_SECONDS, ids=[f"{s:g}s" for s in SWEEP_SECONDS])
def sweep(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Staged:
    staged = staged_clip(tmp_path_factory.mktemp(f"sweep{request.param:g}"), "320x240", request.param)
    return dataclasses.replace(staged)
