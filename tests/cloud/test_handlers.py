"""Each handler on its own against moto S3 (executions are started but not run): split, encode, stitch,
record failure, driven with the events/*.json files that `sam local invoke -e` uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch_cloud import layout
from tests.cloud.conftest import TEST_SETTINGS
from tests.cloud.support import ROOT, FakeContext, Stack

EVENTS = ROOT / "events"


def event(name: str, **replace: str) -> dict:
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def upload(stack: Stack, path: Path, key: str, settings: str = TEST_SETTINGS) -> str:
    """Put an upload (the S3 notification runs the split handler); returns its ETag as S3 events carry it."""
    stack.s3.put_object(
        Bucket=stack.bucket, Key=key, Body=path.read_bytes(), Metadata={"splitstitch-settings": settings}
    )
    return stack.s3.head_object(Bucket=stack.bucket, Key=key)["ETag"].strip('"')


def handler(stack: Stack, logical: str):
    return stack.handlers[stack.functions[logical]]


def test_split_encode_stitch_handlers(stack: Stack, samples, lambda_context: FakeContext) -> None:
    clip = samples("cfr")
    etag = upload(stack, clip, "uploads/holiday clip.mp4")  # the notification already ran split once
    s3_event = event("split.json", **{"splitstitch-media-123456789012": stack.bucket,
                                      "uploads/movie.mp4": "uploads/holiday+clip.mp4", "ETAG": etag})  # fmt: skip
    result = handler(stack, "SplitFunction")(s3_event, lambda_context)
    job = result["jobs"][0]["job"]
    assert result["jobs"][0]["state"] == "duplicate"  # same key + ETag as the notification's run
    assert job == layout.job_name("uploads/holiday clip.mp4", etag)
    status = stack.json(layout.status_key(job))
    assert status["state"] == "running" and status["segments"] >= 2, status
    items = stack.json(layout.items_key(job))
    assert sorted(i["index"] for i in items) == list(range(status["segments"]))
    executions = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [job]

    encode = handler(stack, "EncodeSegmentFunction")
    for item in items:
        out = encode(event("encode_segment.json", **{"movie-0123456789abcdef": job, '"index": 0': f'"index": {item["index"]}'}),
                     lambda_context)  # fmt: skip
        assert out["index"] == item["index"] and out["frames"] > 0
    assert len([k for k in stack.keys(layout.work_prefix(job)) if "/enc_" in k]) == status["segments"]

    done = handler(stack, "StitchFunction")(event("stitch.json", **{"movie-0123456789abcdef": job}), lambda_context)
    assert done == {"job": job, "state": "succeeded", "output_key": "outputs/holiday clip.mp4"}
    report = stack.json("outputs/holiday clip.report.json")
    assert report["verification"]["ok"] if "ok" in report["verification"] else report["status"] == "succeeded"
    final = stack.json(layout.status_key(job))
    assert final["state"] == "succeeded" and final["cost"]["usd"]["total"] > 0
    assert stack.keys(layout.work_prefix(job)) == []


def test_split_refuses_a_corrupt_upload(stack: Stack, tmp_path: Path, lambda_context: FakeContext) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    upload(stack, bad, "uploads/broken.mp4")  # the notification runs the split handler
    (job,) = [k[len("jobs/") : -len(".json")] for k in stack.keys("jobs/")]
    status = stack.json(layout.status_key(job))
    assert status["state"] == "failed" and "ffprobe cannot read it: " in status["reason"], status
    assert "\n" not in status["reason"]
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
    assert stack.keys("outputs/") == [] and stack.keys(layout.work_prefix(job)) == []


def test_record_failure_writes_one_line_reason(stack: Stack, lambda_context: FakeContext) -> None:
    cause = json.dumps({"errorType": "ToolError", "errorMessage": "ffmpeg exit 1: Invalid data\nmore"})
    out = handler(stack, "RecordFailureFunction")(
        event("record_failure.json", **{"CAUSE": json.dumps(cause)[1:-1]}), lambda_context
    )
    assert out["reason"] == "ToolError: ffmpeg exit 1: Invalid data"
    assert stack.json(layout.status_key(out["job"]))["state"] == "failed"


@pytest.mark.parametrize("settings", ['{"codec": "av1"}', '{"crf": 99}', "not json", '{"colour": "red"}'])
def test_bad_settings_fail_the_job_with_one_line(stack: Stack, samples, settings: str, lambda_context) -> None:
    stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    etag = upload(stack, samples("cfr"), "uploads/x.mp4", settings)  # metadata present before the event
    s3_event = event("split.json", **{"uploads/movie.mp4": "uploads/x.mp4", "ETAG": etag})
    assert handler(stack, "SplitFunction")(s3_event, lambda_context)["jobs"][0]["state"] == "failed"
    (key,) = stack.keys("jobs/")
    status = stack.json(key)
    assert status["state"] == "failed" and status["reason"].count("\n") == 0, status
    assert stack.keys("work/") == []
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
