"""A bounded prepare, and faults that kill a function, on the local stack (issue 16, item 4).

moto and AWS: Lambda reports a runtime killed for memory as `Runtime.ExitError`/`Runtime.OutOfMemory` in the
function's error payload, and Step Functions as `Lambda.Unknown` with that payload in the Cause (Step
Functions docs, "Handle Lambda service exceptions"); the local stack passes the payload's errorType through,
so the tests inject that payload and the ASL retries every one of these names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from splitstitch import ffmpeg
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch_cloud import contract, steps
from splitstitch_cloud.local.context import LocalContext
from splitstitch_cloud.local.stack import ACCOUNT, REGION
from tests.cloud.conftest import FAST
from tests.cloud.support import Stack, handler, served_stack, upload


@pytest.fixture
def make_stack(aws_env: None) -> Iterator:
    opened: list[Any] = []

    def make(execute: bool = True, **overrides: object) -> Stack:
        cm = served_stack(FAST | overrides, execute=execute)
        opened.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(opened):
        cm.__exit__(None, None, None)


def tiny_frames(out: Path, rate: int, seconds: float) -> Path:
    """Many tiny frames: 16x16 at `rate` fps (MPEG-TS: no index declares their count)."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=16x16:rate={rate}:duration={seconds}", "-c:v", "libx264",
                "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-f", out.suffix[1:].replace("ts", "mpegts"),
                str(out)], timeout=120)  # fmt: skip
    return out


def status_of(stack: Stack, job: str) -> dict[str, Any]:
    return stack.json(contract.status_key(job))


def test_a_source_of_too_many_frames_is_refused_by_a_scan_that_stops(make_stack, tmp_path) -> None:
    stack = make_stack(execute=False, MaxSourceFrames=500)
    job = upload(stack, tiny_frames(tmp_path / "many.ts", 200, 10), "uploads/many.ts")  # 2,000 frames
    status = status_of(stack, job)
    assert status["state"] == "failed", status
    assert "has more than 500 video frames, over the limit (scan stopped)" in status["reason"], status
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


def test_a_source_over_the_frame_rate_limit_is_refused(make_stack, tmp_path) -> None:
    stack = make_stack(execute=False)
    job = upload(stack, tiny_frames(tmp_path / "fast.mp4", 1000, 1), "uploads/fast.mp4")
    status = status_of(stack, job)
    assert status["state"] == "failed" and "1000 fps is over the limit of 240" in status["reason"], status


def test_every_prepare_subprocess_is_bounded_by_the_remaining_time(make_stack, samples, monkeypatch) -> None:
    """The prepare invoked with 60 s left: no ffmpeg/ffprobe may be given more than what is left (less the
    margin to record the job)."""
    stack = make_stack(execute=False)
    clip = samples("cfr")  # made before ffmpeg is watched
    timeouts: list[float] = []
    run, stream = ffmpeg._run, getattr(ffmpeg, "_stream", None)  # _stream: output read as it comes

    def recording_run(argv: list[str], timeout: float):
        timeouts.append(timeout)
        return run(argv, timeout)

    def recording_stream(argv: list[str], timeout: float, consume):
        timeouts.append(timeout)
        assert stream is not None
        return stream(argv, timeout, consume)

    monkeypatch.setattr(ffmpeg, "_run", recording_run)
    monkeypatch.setattr(ffmpeg, "_stream", recording_stream, raising=False)
    stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    key = "uploads/timed.mp4"
    put = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=clip.read_bytes())
    obj = {"key": key, "eTag": put["ETag"].strip('"'), "sequencer": "01"} | (
        {"versionId": put["VersionId"]} if put.get("VersionId") else {}
    )
    record = {"s3": {"bucket": {"name": stack.bucket}, "object": obj}}
    spec = stack.specs[stack.functions["PrepareFunction"]]
    context = LocalContext(spec.name, spec.memory_mb, 60.0, REGION, ACCOUNT)
    result = handler(stack, "PrepareFunction")({"Records": [record]}, context)
    assert result["jobs"][0]["state"] == "started", result
    assert len(timeouts) >= 3 and max(timeouts) <= 60.0 - 15.0, timeouts


def test_a_prepare_that_runs_out_of_time_fails_its_job_saying_so(make_stack, samples, monkeypatch) -> None:
    stack = make_stack(execute=False)
    from splitstitch.errors import ToolError

    def out_of_time(*args: Any, **kwargs: Any) -> Any:
        raise ToolError(["/opt/bin/ffprobe", "-i", "x"], None, "", timed_out=True)

    monkeypatch.setattr(steps, "_plan_job", out_of_time, raising=False)
    job = upload(stack, samples("cfr"), "uploads/slow.mp4")
    status = status_of(stack, job)
    assert status["state"] == "failed", status
    assert "ffprobe did not finish within the prepare function's remaining" in status["reason"], status


def test_a_prepare_that_dies_leaves_its_job_failed_with_the_reason(make_stack, samples, monkeypatch) -> None:
    """A prepare killed on every attempt (here: out of memory while planning, after its status was written):
    Lambda's on-failure destination fails the job with what happened (today it stays `starting`)."""
    stack = make_stack(execute=False)

    def killed(*args: Any, **kwargs: Any) -> Any:
        raise MemoryError("Runtime exited with error: signal: killed")

    monkeypatch.setattr(steps, "plan_job", killed)
    job = upload(stack, samples("cfr"), "uploads/huge.mp4")
    stack.settle()  # the destination is an asynchronous invocation of its own
    assert stack.invoker.count("PrepareFunction") == 3  # the first try and Lambda's two retries
    status = status_of(stack, job)
    assert status["state"] == "failed", status
    assert status["reason"] == "prepare did not finish: MemoryError: Runtime exited with error: signal: killed " \
                               "(3 attempts)", status  # fmt: skip
    queue = stack.extra["queues"]["PrepareDeadLetterQueue"]
    (message,) = stack.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["Records"][0]["s3"]["object"]["key"] == "uploads%2Fhuge.mp4"


def test_a_prepare_killed_before_writing_anything_fails_its_job(make_stack, samples) -> None:
    stack = make_stack(execute=False)
    stack.faults.add("PrepareFunction", times=3, kind="Runtime.OutOfMemory")
    job = upload(stack, samples("cfr"), "uploads/oom.mp4")
    stack.settle()
    status = status_of(stack, job)
    assert status["state"] == "failed" and status["reason"].startswith("prepare did not finish: Runtime.OutOfMemory: "
                                                                       "RequestId: "), status  # fmt: skip


def encodes_of(stack: Stack, index: int) -> int:
    return stack.invoker.count("EncodeSegmentFunction", lambda ev: ev["task"]["segment"]["index"] == index)


def test_a_killed_encode_is_retried(make_stack, samples) -> None:
    stack = make_stack()
    stack.faults.add("EncodeSegmentFunction", 1, times=1, kind="Runtime.ExitError")
    job = upload(stack, samples("cfr"), "uploads/killed-once.mp4")
    assert stack.wait(job)["status"] == "SUCCEEDED"
    assert encodes_of(stack, 1) == 2 and status_of(stack, job)["state"] == "succeeded"


def test_an_encode_killed_every_time_fails_the_job_naming_what_happened(make_stack, samples) -> None:
    stack = make_stack()
    stack.faults.add("EncodeSegmentFunction", 1, times=99, kind="Runtime.ExitError")
    job = upload(stack, samples("cfr"), "uploads/killed.mp4")
    assert stack.wait(job)["status"] == "FAILED"
    assert encodes_of(stack, 1) == 2  # SegmentRetries 1
    status = status_of(stack, job)
    assert status["state"] == "failed", status
    assert status["reason"] == "Runtime.ExitError: RequestId: 0f1e Error: Runtime exited with error: signal: killed"
