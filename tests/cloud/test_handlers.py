"""Each handler on its own against the moto server (executions are started but not run): prepare, encode
segment, encode audio, finish, record failure, driven with the events/*.json files `sam local invoke -e` uses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch_cloud import contract
from tests.cloud.conftest import TEST_SETTINGS
from tests.cloud.support import ROOT, FakeContext, Stack, handler

EVENTS = ROOT / "events"


def event(name: str, **replace: str) -> dict:
    text = (EVENTS / name).read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.loads(text)


def upload(stack: Stack, path: Path, key: str, settings: str = TEST_SETTINGS) -> str:
    """Put an upload (the S3 notification runs the prepare handler); returns its ETag as S3 events carry it."""
    stack.s3.put_object(
        Bucket=stack.bucket, Key=key, Body=path.read_bytes(), Metadata={contract.SETTINGS_METADATA: settings}
    )
    stack.settle()  # the notification is an asynchronous invocation
    return stack.s3.head_object(Bucket=stack.bucket, Key=key)["ETag"].strip('"')


def test_prepare_encode_finish_handlers(stack: Stack, samples, lambda_context: FakeContext) -> None:
    clip = samples("cfr")
    etag = upload(stack, clip, "uploads/holiday clip.mp4")  # the notification already ran prepare once
    s3_event = event("prepare.json", **{"splitstitch-media-123456789012": stack.bucket,
                                        "uploads/movie.mp4": "uploads/holiday+clip.mp4", "ETAG": etag})  # fmt: skip
    result = handler(stack, "PrepareFunction")(s3_event, lambda_context)
    job = result["jobs"][0]["job"]
    assert result["jobs"][0]["state"] == "duplicate"  # same key + ETag as the notification's run
    assert job == contract.job_name("uploads/holiday clip.mp4", etag, TEST_SETTINGS)
    status = stack.json(contract.status_key(job))
    assert status["state"] == "running" and status["segments"] >= 2, status
    items = stack.json(contract.items_key(job))
    assert sorted(i["task"]["segment"]["index"] for i in items) == list(range(status["segments"]))
    example = event("encode_segment.json")
    assert set(items[0]) == set(example) and set(items[0]["task"]) == set(example["task"])  # the example is current
    executions = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [job]
    execution_input = json.loads(stack.sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])

    for item in items:
        out = handler(stack, "EncodeSegmentFunction")(item, lambda_context)
        assert out["index"] == item["task"]["segment"]["index"] and out["frames"] > 0
    for audio_item in execution_input["audio"]:  # one item per audio plan
        assert handler(stack, "EncodeAudioFunction")(audio_item, lambda_context)["fragments"] >= 1
    done = handler(stack, "FinishFunction")(event("finish.json", **{"movie-0123456789abcdef": job,
                                                                     "splitstitch-media-123456789012": stack.bucket}),
                                             lambda_context)  # fmt: skip
    output_key = contract.output_key("uploads/holiday clip.mp4", job, ".mp4")
    assert output_key == f"outputs/holiday clip-{job.rsplit('-', 1)[1]}.mp4"
    assert done == {"job": job, "state": "succeeded", "output_key": output_key}
    report = stack.json(contract.report_key(output_key))
    assert report["verification"]["ok"] is True and report["status"] == "succeeded"
    final = stack.json(contract.status_key(job))
    assert final["state"] == "succeeded" and final["cost"]["usd"]["total"] > 0
    assert stack.keys(contract.work_prefix(job)) == []


def test_prepare_refuses_a_corrupt_upload(stack: Stack, tmp_path: Path, lambda_context: FakeContext) -> None:
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    upload(stack, bad, "uploads/broken.mp4")  # the notification runs the prepare handler
    (job,) = [k[len("jobs/") : -len(".json")] for k in stack.keys("jobs/")]
    status = stack.json(contract.status_key(job))
    assert status["state"] == "failed" and "ffprobe cannot read it" in status["reason"], status
    assert status["reason"].startswith("uploads/broken.mp4: ") and "\n" not in status["reason"]
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
    assert stack.keys("outputs/") == [] and stack.keys(contract.work_prefix(job)) == []


def test_record_failure_writes_one_line_reason(stack: Stack, lambda_context: FakeContext) -> None:
    cause = json.dumps({"errorType": "ToolError", "errorMessage": "ffmpeg exit 1: Invalid data\nmore"})
    out = handler(stack, "RecordFailureFunction")(
        event("record_failure.json", **{"CAUSE": json.dumps(cause)[1:-1]}), lambda_context
    )
    assert out["reason"] == "ToolError: ffmpeg exit 1: Invalid data"
    assert stack.json(contract.status_key(out["job"]))["state"] == "failed"


@pytest.mark.parametrize("settings", ['{"codec": "mpeg2"}', '{"crf": 99}', "not json", '{"verify": "maybe"}'])
def test_bad_settings_fail_the_job_with_one_line(stack: Stack, samples, settings: str, lambda_context) -> None:
    stack.s3.put_bucket_notification_configuration(Bucket=stack.bucket, NotificationConfiguration={})
    etag = upload(stack, samples("cfr"), "uploads/x.mp4", settings)  # metadata present before the event
    s3_event = event("prepare.json", **{"splitstitch-media-123456789012": stack.bucket,
                                        "uploads/movie.mp4": "uploads/x.mp4", "ETAG": etag})  # fmt: skip
    assert handler(stack, "PrepareFunction")(s3_event, lambda_context)["jobs"][0]["state"] == "failed"
    (key,) = stack.keys("jobs/")
    status = stack.json(key)
    assert status["state"] == "failed" and status["reason"].count("\n") == 0, status
    assert stack.keys("work/") == []
    assert stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []


@pytest.mark.parametrize("fmt", ["mp4", "cmaf"])
@pytest.mark.parametrize("kind", ["stream_copy_cut", "chapters"])
def test_stream_copied_cuts_and_chaptered_sources_finish_in_the_cloud(stack: Stack, samples, kind: str, fmt: str,
                                                                      lambda_context: FakeContext) -> None:  # fmt: skip
    """Issue 15: a stream-copied cut (its last frame held, constant durations stored in the tfhd) and a source
    with chapters go through the Lambda handlers to a verified output, as a file and as a CMAF package. The
    preset has B-frames, so the encoder's constant decode steps do not end where the held frame does."""
    settings = json.dumps({"segment_seconds": 1, "preset": "veryfast", "format": fmt})
    key = f"uploads/{kind}.mp4"
    etag = upload(stack, samples(kind), key, settings)
    job = contract.job_name(key, etag, settings)
    items = stack.json(contract.items_key(job))
    for item in items:
        handler(stack, "EncodeSegmentFunction")(item, lambda_context)
    execution = stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"][-1]
    for audio_item in json.loads(stack.sfn.describe_execution(executionArn=execution["executionArn"])["input"])[
        "audio"
    ]:
        handler(stack, "EncodeAudioFunction")(audio_item, lambda_context)
    done = handler(stack, "FinishFunction")({"job": job, "bucket": stack.bucket}, lambda_context)
    assert done["state"] == "succeeded", stack.json(contract.status_key(job))
    status = stack.json(contract.status_key(job))
    report = stack.json(status["report_key"] if fmt == "cmaf" else contract.report_key(done["output_key"]))
    assert report["verification"]["ok"] is True


def test_a_raw_elementary_stream_is_decoded_once_and_transcoded(stack: Stack, tmp_path: Path, lambda_context) -> None:
    """No container, no timestamps: prepare stores a lossless copy for the encoders, the output has every frame."""
    raw = tmp_path / "logo.m1v"
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
                    "-t", "3", "-c:v", "mpeg1video", "-bf", "2", "-g", "12", "-f", "mpeg1video", str(raw)],
                   check=True, timeout=60)  # fmt: skip
    job = contract.job_name("uploads/logo.m1v", upload(stack, raw, "uploads/logo.m1v"), TEST_SETTINGS)
    assert stack.json(contract.status_key(job))["state"] == "running"
    items = stack.json(contract.items_key(job))
    assert items[0]["source"]["key"] != "uploads/logo.m1v"  # the encoders read the decoded copy
    for item in items:
        handler(stack, "EncodeSegmentFunction")(item, lambda_context)
    done = handler(stack, "FinishFunction")(event("finish.json", **{"movie-0123456789abcdef": job,
                                                                     "splitstitch-media-123456789012": stack.bucket}),
                                             lambda_context)  # fmt: skip
    assert done["state"] == "succeeded", done
    report = stack.json(contract.report_key(done["output_key"]))
    assert report["source"]["video"]["frames"] == 75 and report["source"]["format"] == "mpegvideo"
