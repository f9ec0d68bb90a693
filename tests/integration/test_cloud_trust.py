"""The trust boundary on the local stack (issue 16, items 1-3): an upload replaced or removed during its job,
a source whose bytes became a playlist, settings metadata that asks for too much, a job over budget.

moto and AWS: moto keeps versions and answers a GET with a failed `If-Match` with 412, as AWS documents
(S3 GetObject: "If-Match ... otherwise return a 412 (precondition failed) error"); moto does not enforce IAM
or account concurrency, so the reserved concurrency is checked as the local invoker applies it.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import open_source
from splitstitch.source import MediaSource
from splitstitch_cloud import contract
from splitstitch_cloud.local.template import FunctionSpec
from tests.cloud.conftest import FAST
from tests.cloud.support import Stack, context, handler, segment_index, served_stack, upload


@pytest.fixture
def make_stack(aws_env: None) -> Iterator:
    """`make_stack(execute=True, **template parameters)`: a local stack (one per test)."""
    opened: list[Any] = []

    def make(execute: bool = True, **overrides: object) -> Stack:
        cm = served_stack(FAST | overrides, execute=execute)
        opened.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(opened):
        cm.__exit__(None, None, None)


def other_clip(out: Path) -> Path:
    """A different video (another size, rate and length) to replace an upload with."""
    run_ffmpeg(["-f", "lavfi", "-i", "testsrc2=size=96x64:rate=12:duration=3", "-c:v", "libx264", "-preset",
                "ultrafast", "-pix_fmt", "yuv420p", "-f", "mp4", str(out)], timeout=60)  # fmt: skip
    return out


def before_segment(stack: Stack, index: int, action: Any) -> None:
    """Run `action()` once, just before the first encode of segment `index` starts."""
    done = threading.Event()

    def hook(spec: FunctionSpec, event: Any) -> None:
        if spec.logical == "EncodeSegmentFunction" and segment_index(event) == index and not done.is_set():
            done.set()
            action()

    stack.invoker.hooks.insert(0, hook)


def probe(path: Path) -> tuple[int, int, int]:
    info = open_source(MediaSource.local(path))
    assert info.video and info.frames
    return info.video.width, info.video.height, info.frames.count


# --- 1. the upload is pinned ------------------------------------------------------------------------------------


def test_an_upload_replaced_during_its_job_never_reaches_its_encoders(make_stack, samples, tmp_path) -> None:
    """The attack: replace the file at the key once the job is planned. Every encoder reads the planned version,
    so the output is the planned file's (today: the encoders read whatever the key holds)."""
    stack = make_stack()
    key, original, replacement = "uploads/swap.mp4", samples("cfr"), other_clip(tmp_path / "other.mp4")
    before_segment(stack, 1, lambda: stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=replacement.read_bytes()))
    job = upload(stack, original, key)
    assert stack.wait(job)["status"] == "SUCCEEDED"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "succeeded", status
    out = tmp_path / "out.mp4"
    stack.s3.download_file(stack.bucket, status["output_key"], str(out))
    assert probe(out) == probe(original)


def test_a_source_version_gone_during_the_job_fails_it_with_that_reason(make_stack, samples) -> None:
    """The planned version deleted mid-job: the job fails, saying why (today: an ffmpeg 404, retried)."""
    stack = make_stack()
    key = "uploads/vanishing.mp4"

    def remove() -> None:
        head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
        stack.s3.delete_object(Bucket=stack.bucket, Key=key, **({"VersionId": head["VersionId"]}
                                                                   if head.get("VersionId") else {}))  # fmt: skip

    before_segment(stack, 1, remove)
    job = upload(stack, samples("cfr"), key)
    assert stack.wait(job)["status"] == "FAILED"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and "the source changed during the job" in status["reason"], status
    assert stack.keys("outputs/") == []


def planned_items(stack: Stack, path: Path, key: str, content_type: str | None = None) -> list[dict[str, Any]]:
    job = upload(stack, path, key)
    status = stack.json(contract.status_key(job))
    assert status["state"] == "running", status
    return stack.json(contract.items_key(job))


def test_an_encoder_refuses_bytes_that_are_not_the_planned_ones(make_stack, samples) -> None:
    """Every read sends If-Match with the planned ETag: S3 answers 412 to a source whose bytes are not those
    planned, and the item fails with "the source changed during the job" (not retried)."""
    stack = make_stack(execute=False)
    items = planned_items(stack, samples("cfr"), "uploads/etag.mp4")
    item = json.loads(json.dumps(items[0]))
    assert item["source"]["etag"] and item["source"]["version"]
    item["source"]["etag"] = "0" * 32  # as if S3 held other bytes than those planned
    with pytest.raises(Exception) as caught:
        handler(stack, "EncodeSegmentFunction")(item, context(stack, "EncodeSegmentFunction"))
    assert type(caught.value).__name__ == "SourceChangedError"
    assert "the source changed during the job" in str(caught.value)
    job = item["job"]
    recorded = stack.json(contract.work_key(job, contract.error_name(f"{item['task']['segment']['index']:05d}")))
    assert recorded["reason"].startswith("SourceChangedError: ")


def test_an_upload_event_without_a_version_is_refused(make_stack, samples) -> None:
    """An event with no versionId (an unversioned bucket) cannot be pinned: the job fails, saying so."""
    stack = make_stack(execute=False)
    stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    key = "uploads/unversioned.mp4"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=samples("cfr").read_bytes())
    head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
    record = {"s3": {"bucket": {"name": stack.bucket}, "object": {"key": key, "size": head["ContentLength"],
                                                                   "eTag": head["ETag"].strip('"'), "sequencer": "01"}}}  # fmt: skip
    result = handler(stack, "PrepareFunction")({"Records": [record]}, context(stack, "PrepareFunction"))
    assert result["jobs"][0]["state"] == "failed"
    (status_key,) = stack.keys("jobs/")
    status = stack.json(status_key)
    assert status["state"] == "failed" and "no versionId" in status["reason"], status
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


# --- 2. the demuxer is pinned -----------------------------------------------------------------------------------


class Recorder(http.server.BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        Recorder.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_an_encoder_never_opens_a_url_its_source_names(make_stack, samples) -> None:
    """The SSRF: the bytes an item points to are an HLS playlist naming an internal URL. The encoder reads them
    with the demuxer found at probe time only, so ffmpeg never requests that URL (today it does)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Recorder.paths = []
    try:
        stack = make_stack(execute=False)
        items = planned_items(stack, samples("cfr"), "uploads/victim.mp4")
        port = server.server_address[1]
        playlist = (f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nhttp://127.0.0.1:{port}/internal/secret.ts\n"
                    "#EXT-X-ENDLIST\n").encode()  # fmt: skip
        key = "uploads/swapped.m3u8"
        stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
        put = stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=playlist, ContentType="application/x-mpegURL")
        item = json.loads(json.dumps(items[0]))
        item["source"] |= {"key": key, "size": len(playlist), "version": put.get("VersionId"),
                           "etag": put["ETag"].strip('"')}  # fmt: skip
        with pytest.raises(Exception):  # noqa: B017 - any failure will do; what matters is no request was made
            handler(stack, "EncodeSegmentFunction")(item, context(stack, "EncodeSegmentFunction"))
        assert Recorder.paths == []
    finally:
        server.shutdown()


# --- 3. bounded cost per upload ---------------------------------------------------------------------------------


def test_settings_metadata_cannot_plan_more_segments_than_max_concurrency(make_stack, samples) -> None:
    """A tiny segment length in the metadata: at most MaxConcurrency (4) segments, none under 1 s."""
    stack = make_stack(execute=False)
    job = upload(stack, samples("cfr"), "uploads/many.mp4", '{"segment_seconds": 0.001, "preset": "ultrafast"}')
    status = stack.json(contract.status_key(job))
    assert status["state"] == "running", status
    assert 1 <= status["segments"] <= 4, status
    plan = stack.json(contract.job_key(job))["plan"]
    assert all(s["duration_seconds"] >= 1.0 for s in plan["segments"][:-1]), plan["segments"]


@pytest.mark.parametrize(
    ("settings", "words"),
    [('{"preset": "placebo"}', "AllowedPresets"), ('{"codec": "h265", "preset": "ultrafast"}', "AllowedCodecs"),
     ('{"height": 4320, "preset": "ultrafast"}', "MaxOutputHeight"),
     ('{"streaming": "hls", "ladder": "144,160,180,200,240,260,280", "preset": "ultrafast"}', "MaxLadderRungs")],
)  # fmt: skip
def test_settings_metadata_is_bounded_by_the_template(make_stack, samples, settings: str, words: str) -> None:
    stack = make_stack(execute=False, AllowedCodecs="h264,vp9")
    job = upload(stack, samples("cfr"), "uploads/greedy.mp4", settings)
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and words in status["reason"], status
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


def test_a_job_over_the_per_job_budget_is_refused_before_its_map(make_stack, samples) -> None:
    stack = make_stack(execute=False, MaxJobCost=0.0001)
    job = upload(stack, samples("cfr"), "uploads/costly.mp4", '{"preset": "slow", "codec": "vp9"}')
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed", status
    assert "estimated encode cost $" in status["reason"] and "per-job budget of $0.0001" in status["reason"], status
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
    assert stack.keys(contract.work_prefix(job)) == []


def test_the_encode_function_has_a_concurrency_bound_by_default(make_stack) -> None:
    """Reserved concurrency holds across every job of the stack (the local invoker throttles above it, as
    Lambda does); the template's default is not unbounded."""
    stack = make_stack(execute=False, **{})
    spec = stack.specs[stack.functions["EncodeSegmentFunction"]]
    assert int(spec.properties.get("ReservedConcurrentExecutions", 0)) == 500
