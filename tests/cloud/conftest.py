"""Fixtures for the cloud tests: Powertools off, fake credentials, a moto stack built from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cloud.support import POWERTOOLS_OFF, FakeContext, Stack, served_stack

for _key, _value in POWERTOOLS_OFF.items():  # before any handler module creates its Logger/Metrics
    os.environ.setdefault(_key, _value)

TEST_SETTINGS = '{"segment_seconds": 1, "preset": "ultrafast"}'
# Template parameters for fast tests. Settings may also travel as object metadata (the local stack delivers the
# S3 notification after the PUT completed, so the metadata is there, as on AWS).
FAST = {"Preset": "ultrafast", "RetryIntervalSeconds": 1, "MaxConcurrency": 4}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in POWERTOOLS_OFF.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MOTO_PORT"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def stack(aws_env: None) -> Iterator[Stack]:
    """Template resources on a moto server; executions do not run (handler tests drive each step)."""
    with served_stack(FAST, execute=False) as built:
        yield built


@pytest.fixture
def running_stack(aws_env: None) -> Iterator[Stack]:
    """Template resources on a moto server with real ASL execution; retries 1 s apart to keep tests fast."""
    with served_stack(FAST, execute=True) as built:
        yield built
