"""`splitstitch cloud run` / `status` against a moto server on 127.0.0.1 holding the template's stack."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from splitstitch.cli import main
from tests.cloud.conftest import FAST
from tests.cloud.support import Stack, served_stack


@pytest.fixture
def server_stack(aws_env: None) -> Iterator[tuple[Stack, str]]:
    with served_stack(FAST, execute=True) as stack:
        yield stack, stack.endpoint


def test_cloud_run_uploads_follows_and_downloads(server_stack, samples, tmp_path: Path, capsys) -> None:
    stack, url = server_stack
    os.environ["AWS_ENDPOINT_URL"] = url  # for the in-process handlers the server invokes
    out = tmp_path / "movie.out.mp4"
    code = main(["cloud", "run", str(samples("cfr")), "--bucket", stack.bucket, "--endpoint-url", url,
                 "-o", str(out), "--timeout", "60"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert out.stat().st_size > 0 and str(out) in captured.out
    assert "verified" in captured.err and "cost $" in captured.err and "Step Functions" in captured.err
    (job_key,) = [k for k in stack.keys("jobs/")]
    job = job_key[len("jobs/") : -len(".json")]
    assert main(["cloud", "status", job, "--json", "--bucket", stack.bucket, "--endpoint-url", url]) == 0
    printed = capsys.readouterr().out  # the in-process handlers' JSON log lines may print here too (one line each)
    document, _ = json.JSONDecoder().raw_decode(printed[printed.index("{\n") :])
    assert document["state"] == "succeeded"


def test_cloud_run_downloads_a_streaming_package_whole(server_stack, samples, tmp_path: Path, capsys) -> None:
    stack, url = server_stack
    os.environ["AWS_ENDPOINT_URL"] = url
    folder = tmp_path / "movie-hls"
    code = main(["cloud", "run", str(samples("cfr")), "--bucket", stack.bucket, "--endpoint-url", url,
                 "--key", "hls/movie.mp4", "--format", "hls", "--ladder", "240", "-o", str(folder),
                 "--timeout", "90", "--quiet"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.strip() == str(folder / "master.m3u8")
    (entry,) = [k for k in stack.keys("outputs/hls/") if k.endswith("master.m3u8")]
    prefix = entry.rsplit("/", 1)[0] + "/"
    stored = {
        k[len(prefix) :]: stack.s3.get_object(Bucket=stack.bucket, Key=k)["Body"].read() for k in stack.keys(prefix)
    }
    local = {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert local == stored and "video/240p/playlist.m3u8" in local
    assert not (tmp_path / "movie-hls.partial").exists()


def test_cloud_status_of_an_unknown_job_is_one_line(server_stack, capsys) -> None:
    stack, url = server_stack
    assert main(["cloud", "status", "nope", "--bucket", stack.bucket, "--endpoint-url", url]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_bench_aws_runtime_times_a_job_on_the_stack(server_stack, samples, tmp_path: Path) -> None:
    """`splitstitch bench --runtimes aws:STACK`: the stack is found by name (its BucketName output), the job
    is timed from upload to downloaded output, and the figure is marked measured."""
    import boto3

    stack, url = server_stack
    os.environ["AWS_ENDPOINT_URL"] = url
    outputs_only = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {"BucketName": {"Value": stack.bucket}},
    }
    boto3.client("cloudformation", endpoint_url=url).create_stack(
        StackName="benchstack", TemplateBody=json.dumps(outputs_only)
    )
    report = tmp_path / "bench.json"
    code = main(["bench", str(samples("cfr")), "--runtimes", "laptop,aws:benchstack", "--endpoint-url", url,
                 "--json", str(report), "--preset", "ultrafast", "--segments-per-config", "1"])  # fmt: skip
    assert code == 0
    data = json.loads(report.read_text())
    (row,) = data["rows"]
    aws = next(r for r in row["runtimes"] if r["name"] == "aws:benchstack")
    assert aws["how"] == "measured" and aws["seconds"] > 0 and aws["usd"] > 0
    assert row["measured"]["aws:benchstack"]["state"] == "succeeded"
