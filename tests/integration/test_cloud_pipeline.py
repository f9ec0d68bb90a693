"""End to end in moto: the stack of template.yaml, a real upload, real ASL execution (Distributed Map with
an S3 ItemReader, Retry, Catch), every Lambda routed to its in-process handler."""

from __future__ import annotations

import json
from pathlib import Path

import boto3

from splitstitch.inputs import open_source
from splitstitch.source import MediaSource
from splitstitch_cloud import contract as layout
from tests.cloud.support import Stack
from tests.probe import decode_warnings, decoded_frames


def upload(stack: Stack, path: Path, key: str) -> str:
    """Put an upload: the S3 notification runs the prepare handler, which starts the execution."""
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=path.read_bytes())
    etag = stack.s3.head_object(Bucket=stack.bucket, Key=key)["ETag"].strip('"')
    stack.settle()  # the notification is an asynchronous invocation
    return layout.job_name(key, etag)


def encodes(stack: Stack, index: int | None = None) -> int:
    return sum(1 for fn, ev in stack.invocations
               if fn == "EncodeSegmentFunction" and (index is None or ev["task"]["segment"]["index"] == index))  # fmt: skip


def test_upload_gives_a_verified_output(running_stack: Stack, samples, tmp_path: Path) -> None:
    job = upload(running_stack, samples("cfr"), "uploads/movie.mp4")
    execution = running_stack.wait(job)
    assert execution["status"] == "SUCCEEDED", execution
    status = running_stack.json(layout.status_key(job))
    assert status["state"] == "succeeded" and status["segments"] >= 2
    assert encodes(running_stack) == status["segments"]
    output_key = layout.output_key("uploads/movie.mp4", job, ".mp4")
    assert status["output_key"] == output_key
    assert set(running_stack.keys("outputs/")) == {output_key, layout.report_key(output_key)}
    report = running_stack.json(layout.report_key(output_key))
    assert report["status"] == "succeeded" and len(report["plan"]["segments"]) == status["segments"]
    checks = {c["name"]: c["ok"] for c in report["verification"]["checks"]}
    assert checks["video_is_checked_segments"] and checks["audio_decodes_cleanly"] and all(checks.values())
    assert status["cost"]["quantities"]["lambda_requests"] == status["segments"] + 3  # prepare, audio, finish
    assert running_stack.keys(layout.work_prefix(job)) == []
    out = tmp_path / "movie.mp4"
    running_stack.s3.download_file(running_stack.bucket, output_key, str(out))
    assert (
        open_source(MediaSource.local(out)).frames.count == open_source(MediaSource.local(samples("cfr"))).frames.count
    )
    assert decoded_frames(out) == decoded_frames(samples("cfr")) and decode_warnings(out) == ""  # own ffprobe


def test_open_gop_job(running_stack: Stack, samples) -> None:
    """An open-GOP source is cut mid-GOP: its encoders decode from the keyframe before their range."""
    job = upload(running_stack, samples("open_gop"), "uploads/open.mp4")
    assert running_stack.wait(job)["status"] == "SUCCEEDED"
    status = running_stack.json(layout.status_key(job))
    assert status["state"] == "succeeded" and status["segments"] >= 2
    assert running_stack.keys(layout.work_prefix(job)) == []


def test_a_segment_that_fails_once_is_retried(running_stack: Stack, samples) -> None:
    running_stack.faults.add("EncodeSegmentFunction", 1, times=1)
    job = upload(running_stack, samples("cfr"), "uploads/retry.mp4")
    assert running_stack.wait(job)["status"] == "SUCCEEDED"
    assert encodes(running_stack, 1) == 2 and encodes(running_stack, 0) == 1
    assert running_stack.json(layout.status_key(job))["state"] == "succeeded"


def test_a_segment_that_keeps_failing_fails_the_job(running_stack: Stack, samples) -> None:
    running_stack.faults.add("EncodeSegmentFunction", 0, times=10)
    job = upload(running_stack, samples("cfr"), "uploads/doomed.mp4")
    execution = running_stack.wait(job)
    assert execution["status"] == "FAILED" and execution.get("error") == "TranscodeFailed"
    assert running_stack.invoker.count("FinishFunction") == 0  # AWS: the Map fails, Finish never runs
    status = running_stack.json(layout.status_key(job))
    # the invocation failed without its handler running (as a crash would): no item recorded a reason
    assert status["state"] == "failed" and status["reason"].startswith("States.ExceedToleratedFailureThreshold: "), (
        status
    )
    assert running_stack.keys("outputs/") == []


def test_corrupt_upload_is_a_failed_job_with_a_reason(running_stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x20ftypisom" + b"\x17" * 5000)
    job = upload(running_stack, bad, "uploads/corrupt.mp4")
    status = running_stack.json(layout.status_key(job))
    assert status["state"] == "failed"
    assert status["reason"].startswith("uploads/corrupt.mp4: ") and "\n" not in status["reason"], status
    assert running_stack.sfn.list_executions(stateMachineArn=running_stack.state_machine_arn)["executions"] == []
    assert running_stack.keys("outputs/") == []


def test_the_same_event_twice_runs_one_job(running_stack: Stack, samples) -> None:
    job = upload(running_stack, samples("cfr"), "uploads/twice.mp4")
    s3_event = next(ev for fn, ev in running_stack.invocations if fn == "PrepareFunction")
    lam = boto3.client("lambda", region_name="us-east-1")
    again = lam.invoke(FunctionName=running_stack.functions["PrepareFunction"], Payload=json.dumps(s3_event))
    assert json.loads(again["Payload"].read())["jobs"][0] == {"job": job, "state": "duplicate", "segments": 0}
    assert running_stack.wait(job)["status"] == "SUCCEEDED"
    executions = running_stack.sfn.list_executions(stateMachineArn=running_stack.state_machine_arn)["executions"]
    assert [e["name"] for e in executions] == [job]
    assert running_stack.keys("jobs/") == [layout.status_key(job)]


def test_ten_bit_hdr10_stays_ten_bit_in_the_cloud(running_stack: Stack, tmp_path: Path) -> None:
    """The Lambda path keeps 10 bits, colour and HDR10 (AV1, verified by the layer's own ffmpeg), and its report
    describes the file written."""
    from splitstitch.ffmpeg import run_ffmpeg
    from tests.cloud.support import upload as upload_with_settings
    from tests.functional.test_bit_depth import COLOUR, SOURCES, hdr10_values, video_stream

    source = tmp_path / "hdr10.mp4"
    run_ffmpeg([*SOURCES["hdr10_x265"], str(source)], timeout=120)
    job = upload_with_settings(running_stack, source, "uploads/hdr.mp4",
                               '{"codec": "av1", "segment_seconds": 1, "preset": "ultrafast"}')  # fmt: skip
    assert running_stack.wait(job)["status"] == "SUCCEEDED"
    output_key = running_stack.json(layout.status_key(job))["output_key"]
    out = tmp_path / "out.mp4"
    running_stack.s3.download_file(running_stack.bucket, output_key, str(out))
    src, dst = video_stream(source), video_stream(out)
    assert (dst["codec_name"], dst["pix_fmt"]) == ("av1", "yuv420p10le")
    assert {k: dst.get(k) for k in COLOUR} == {k: src.get(k) for k in COLOUR}
    assert hdr10_values(out) == hdr10_values(source) and len(hdr10_values(out)) == 2
    written = running_stack.json(layout.report_key(output_key))["output"]["video"]
    assert (written["pix_fmt"], written["bit_depth"], written["color_transfer"]) == ("yuv420p10le", 10, "smpte2084")


def test_held_first_frame_with_b_frames(running_stack: Stack, tmp_path: Path) -> None:
    """An Android-like clip (a 0.3 s first frame) at a B-frame preset, through the Map: each encoder refits
    its decode span to the plan it was handed; the output keeps every frame on its source time."""
    from tests.cloud.support import upload as upload_with
    from tests.functional.test_held_frames import make
    from tests.stream_probe import frame_times

    source = tmp_path / "android.mp4"
    make("held_first_mp4", source)
    job = upload_with(running_stack, source, "uploads/android.mp4", '{"segment_seconds": 1, "preset": "medium"}')
    execution = running_stack.wait(job)
    assert execution["status"] == "SUCCEEDED", execution
    output_key = layout.output_key("uploads/android.mp4", job, ".mp4")
    out = tmp_path / "out.mp4"
    running_stack.s3.download_file(running_stack.bucket, output_key, str(out))
    assert frame_times(out) == frame_times(source) and decode_warnings(out) == ""
