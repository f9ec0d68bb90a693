"""Test helpers around the local stack (`splitstitch_cloud.local`): the stack of template.yaml on a moto server
with in-process handlers, faults injected in front of chosen invocations, handlers called directly."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch_cloud.local.context import LocalContext
from splitstitch_cloud.local.server import local_stack
from splitstitch_cloud.local.stack import ACCOUNT, REGION, Stack
from splitstitch_cloud.local.template import FunctionSpec

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
POWERTOOLS_OFF = {
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "SplitstitchTest",
    "POWERTOOLS_SERVICE_NAME": "splitstitch",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def FakeContext(name: str = "test-fn", memory_mb: int = 1769, timeout_s: float = 900) -> LocalContext:
    return LocalContext(name, memory_mb, timeout_s, REGION, ACCOUNT)


def segment_index(event: Any) -> int:
    """The segment an encode event is about (-1 for other events)."""
    return int(event["task"]["segment"]["index"]) if isinstance(event, dict) and "task" in event else -1


def handler(stack: Stack, logical: str) -> Callable[[dict, Any], Any]:
    """The in-process handler of one function (thread isolation)."""
    return stack.invoker.runner.handler(stack.specs[stack.functions[logical]])  # type: ignore[union-attr]


def context(stack: Stack, logical: str) -> LocalContext:
    spec = stack.specs[stack.functions[logical]]
    return LocalContext(spec.name, spec.memory_mb, spec.timeout_s, REGION, ACCOUNT)


@dataclass
class Faults:
    """Invocations answered by an error instead of the handler: (logical id, segment index) -> times left.
    `kind` "ToolError" is a failed ffmpeg; "hang" blocks until the stack is torn down (a job that never ends)."""

    left: dict[tuple[str, int], int] = field(default_factory=dict)
    kind: dict[tuple[str, int], str] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, logical: str, index: int = -1, times: int = 1, kind: str = "ToolError") -> None:
        self.left[(logical, index)] = times
        self.kind[(logical, index)] = kind

    def __call__(self, spec: FunctionSpec, event: Any) -> tuple[str, bool, str] | None:
        key = (spec.logical, segment_index(event))
        with self.lock:
            if self.left.get(key, 0) <= 0:
                return None
            self.left[key] -= 1
        if self.kind[key] == "hang":
            self.release.wait()
            return json.dumps({"errorType": "Hung", "errorMessage": "released at teardown"}), True, ""
        message = "ffmpeg exit 1: injected fault" if self.kind[key] == "ToolError" else "injected fault"
        return json.dumps({"errorType": self.kind[key], "errorMessage": message}), True, "injected"


@contextlib.contextmanager
def served_stack(overrides: dict[str, Any] | None = None, execute: bool = True, **kwargs: Any) -> Iterator[Stack]:
    """The template's stack on a moto server at 127.0.0.1, ASL execution on or off, handlers in-process, and
    `stack.faults` in front of every invocation."""
    faults = Faults()
    with local_stack(ROOT, overrides=overrides, execute=execute, async_delays=(0.2, 0.4), **kwargs) as stack:
        stack.invoker.hooks.append(faults)
        stack.faults = faults  # type: ignore[attr-defined]
        try:
            yield stack
        finally:
            with contextlib.suppress(Exception):  # hung invocations end their executions quietly
                for e in stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")[
                    "executions"
                ]:
                    stack.sfn.stop_execution(executionArn=e["executionArn"])
            faults.release.set()
            time.sleep(0.05)


def upload(stack: Stack, path: Path, key: str, settings: str | None = None) -> str:
    """Put an upload and wait for its S3 notification (an asynchronous invocation); returns the job name."""
    from splitstitch_cloud import contract

    metadata = {contract.SETTINGS_METADATA: settings} if settings else {}
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
    stack.settle()
    head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    return contract.job_of_head(key, head)


def failing_encoder(
    monkeypatch: Any, index: int, times: int, stderr: str = "Invalid data found when processing input"
) -> dict[str, int]:
    """Segment `index`'s ffmpeg fails inside the handler (a ToolError) its first `times` attempts; returns the
    attempt counts by segment."""
    from splitstitch import stages
    from splitstitch.errors import ToolError

    original, attempts, lock = stages.encode_segment, {}, threading.Lock()

    def encode_segment(task: Any, *args: Any, **kwargs: Any) -> Any:
        i = task.segment.index
        with lock:
            attempts[i] = attempts.get(i, 0) + 1
            fail = i == index and attempts[i] <= times
        if fail:
            raise ToolError(["/opt/bin/ffmpeg"], 1, f"[h264 @ 0x1] {stderr}")
        return original(task, *args, **kwargs)

    monkeypatch.setattr(stages, "encode_segment", encode_segment)
    return attempts
