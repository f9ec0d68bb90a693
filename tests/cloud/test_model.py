"""Pure parts of the cloud package: job and task round trips, job names, key layout, cost model, reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch.codecs import output_format
from splitstitch.encode import SegmentTask, fragment_name
from splitstitch.job import Job
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.stages import prepare
from splitstitch.storage import LocalStorage
from splitstitch_cloud import contract as layout
from splitstitch_cloud import cost
from splitstitch_cloud.jobs import failure_reason
from splitstitch_cloud.steps import Deployment


@pytest.mark.parametrize("kind", ["cfr", "vfr", "two_audio"])
def test_job_and_tasks_round_trip_through_json(samples, kind: str, tmp_path: Path) -> None:
    source = MediaSource.local(samples(kind))
    job = prepare("j", source, Settings(), output_format("h264", Path("x.mp4")), Deployment().fanout(),
                  store=LocalStorage(tmp_path), work=tmp_path)  # fmt: skip
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    task = job.segment_task(len(job.plan.segments) - 1)
    assert SegmentTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task


def test_job_names_are_deterministic_sanitised_and_short() -> None:
    a = layout.job_name("uploads/My Holiday (2024).mov", "abc")
    assert (
        a
        == layout.job_name("uploads/My Holiday (2024).mov", "abc")
        != layout.job_name("uploads/My Holiday (2024).mov", "abd")
    )
    assert a.startswith("My-Holiday-2024-") and len(a) <= 80
    long = layout.job_name("uploads/" + "é" * 50 + "x" * 200 + ".mp4", "e")
    assert len(long) <= 80 and all(c.isalnum() or c in "-_" for c in long)


def test_keys() -> None:
    job = layout.job_name("uploads/a/movie.mov", "etag")
    assert layout.output_key("uploads/a/movie.mov", job, ".mp4") == f"outputs/a/movie-{job[-16:]}.mp4"
    assert layout.report_key("outputs/a/movie.mp4") == "outputs/a/movie.report.json"
    assert layout.work_key("j", fragment_name(42)) == "work/j/segments/00042.m4s"


def test_cost_model_matches_hand_arithmetic() -> None:
    usage = cost.JobUsage(
        (cost.Invocation("encode", 2048, 10.0), cost.Invocation("encode", 2048, 10.0, "arm64")), segments=2,
        s3_puts=1000, s3_gets=1000, work_bytes=10**9, work_hours=730,
    )  # fmt: skip
    usd = cost.estimate(usage)["usd"]
    assert usd["lambda_compute"] == pytest.approx(20 * 0.0000166667 + 20 * 0.0000133334, abs=1e-7)
    assert usd["lambda_requests"] == pytest.approx(2 * 0.2e-6)
    assert usd["step_functions"] == pytest.approx((5 + 2 * 2) * 0.000025)
    assert usd["s3_requests"] == pytest.approx(0.005 + 0.0004)
    assert usd["s3_storage"] == pytest.approx(0.023)
    assert usd["total"] == pytest.approx(sum(v for k, v in usd.items() if k != "total"), abs=1e-7)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ({"Error": "ToolError", "Cause": json.dumps({"errorType": "ToolError", "errorMessage": "x264 exit 1: bad"})},
         "ToolError: x264 exit 1: bad"),
        ({"Error": "States.Timeout", "Cause": "Task timed out\nsecond line"}, "States.Timeout: Task timed out"),
        ({"Error": "States.ExceedToleratedFailureThreshold"}, "States.ExceedToleratedFailureThreshold: no details"),
        (None, "unknown error"),
    ],
)  # fmt: skip
def test_failure_reason_is_one_line(error, reason) -> None:
    assert failure_reason(error) == reason
