"""Fixtures for the cloud tests: Powertools off, fake credentials, a moto stack built from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.cloud.support import POWERTOOLS_OFF, FakeContext, Stack, build_stack

for _key, _value in POWERTOOLS_OFF.items():  # before any handler module creates its Logger/Metrics
    os.environ.setdefault(_key, _value)

TEST_SETTINGS = '{"segment_seconds": 1, "preset": "ultrafast"}'
# Template parameters for fast tests. Settings travel as object metadata in real use, but moto 5.2.5 fires
# the S3 notification before it attaches the metadata, so the notification path tests use the defaults.
FAST = {"SegmentSeconds": 1, "Preset": "ultrafast", "RetryIntervalSeconds": 1}


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in POWERTOOLS_OFF.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "MOTO_PORT"):
        monkeypatch.delenv(key, raising=False)


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


def _stack(execute: bool, overrides: dict | None = None) -> Iterator[Stack]:
    from moto import mock_aws
    from moto.awslambda.models import LambdaFunction

    saved = dict(os.environ)
    holder: dict[str, Stack] = {}
    original = LambdaFunction._invoke_lambda

    def invoke(self: LambdaFunction, event: object = None) -> tuple[str, bool, str]:
        return holder["stack"].invoke(self.function_name, event)

    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": execute}}):
            holder["stack"] = build_stack(overrides)
            yield holder["stack"]
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def stack(aws_env: None) -> Iterator[Stack]:
    """Template resources in moto; executions do not run (handler unit tests drive each step)."""
    yield from _stack(execute=False, overrides=FAST)


@pytest.fixture
def running_stack(aws_env: None) -> Iterator[Stack]:
    """Template resources in moto with real ASL execution; retries 1 s apart to keep tests fast."""
    yield from _stack(execute=True, overrides=FAST)
