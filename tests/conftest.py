"""Shared fixtures: generated media (cached per test session and worker) and an independent ffprobe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from splitstitch.samples import make_sample

SAMPLE_SECONDS = {"long_gop": 12.0}


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory):
    """`samples(kind)` -> path of a small generated clip of that kind (made once per session)."""
    folder = tmp_path_factory.mktemp("samples")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            made[kind] = make_sample(kind, folder, SAMPLE_SECONDS.get(kind, 4.0))
        return made[kind]

    return get


_BINARY_ENV_AT_START = {
    k: os.environ.get(k) for k in ("SPLITSTITCH_FFMPEG", "SPLITSTITCH_FFPROBE", "SPLITSTITCH_AV1_DECODER")
}


@pytest.fixture(autouse=True)
def _binaries_as_at_start():
    """A test that points SPLITSTITCH_FFMPEG at another build must not leak it: a local stack started inside
    such a test restores the environment it saw (the override included) at its teardown, after the test's own
    undo. Put the variables back as the session found them, and forget the resolved binaries."""
    yield
    from splitstitch.binaries import binaries, decoder_ffmpeg

    changed = False
    for key, value in _BINARY_ENV_AT_START.items():
        if os.environ.get(key) != value:
            changed = True
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if changed:
        binaries.cache_clear()
        decoder_ffmpeg.cache_clear()
