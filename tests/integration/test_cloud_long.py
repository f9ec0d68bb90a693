"""A long source through the whole local stack (issue 8): 30 minutes of low-resolution video in 180 segments."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch_cloud import contract
from tests.cloud.media import long_source
from tests.cloud.support import served_stack
from tests.probe import ffprobe

MINUTES = 30
SEGMENTS = 180  # MaxConcurrency: the planner cuts the source into this many segments to fill it


def video_packets(path: Path) -> int:
    data = ffprobe("-select_streams", "v:0", "-count_packets", "-show_entries", "stream=nb_read_packets", str(path))
    return int(data["streams"][0]["nb_read_packets"])


@pytest.mark.slow
def test_thirty_minutes_in_180_segments(aws_env: None, tmp_path: Path) -> None:
    source = long_source(tmp_path / "long.mp4", MINUTES * 60)
    # EncodeWavePercent 0: fill the fan-out (this tiny video would otherwise be cut into a few long segments)
    overrides = {"Preset": "ultrafast", "MaxConcurrency": SEGMENTS, "EncodeWavePercent": 0, "RetryIntervalSeconds": 1}
    with served_stack(overrides, concurrency=4) as stack:
        stack.s3.upload_file(str(source), stack.bucket, "uploads/long.mp4")
        stack.settle()
        etag = stack.s3.head_object(Bucket=stack.bucket, Key="uploads/long.mp4")["ETag"].strip('"')
        job = contract.job_name("uploads/long.mp4", etag)
        assert stack.wait(job, timeout=300)["status"] == "SUCCEEDED", stack.history(job)
        status = stack.json(contract.status_key(job))
        assert status["state"] == "succeeded" and status["segments"] >= SEGMENTS, status
        report = stack.json(status["report_key"])
        assert report["verification"]["ok"] is True, report["verification"]
        assert stack.keys(contract.work_prefix(job)) == []
        out = tmp_path / "long.out.mp4"
        stack.s3.download_file(stack.bucket, status["output_key"], str(out))
    assert video_packets(out) == video_packets(source) == MINUTES * 60 * 10
    print(f"{status['segments']} segments; timings {status['timings_s']}")
