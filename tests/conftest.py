"""Shared fixtures: generated media (cached per test session and worker) and an independent ffprobe."""

from __future__ import annotations

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
