"""The whole application on this machine (issue 9, item 14): `splitstitch cloud local` with a plain boto3 client,
and the limits a process-isolated local function runs under (Timeout, /tmp size, CPU share, cold starts)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import pytest

from splitstitch_cloud import contract
from splitstitch_cloud.local import leftovers
from splitstitch_cloud.local.invoker import CGROUP_CPU, cgroup_quota_us
from splitstitch_cloud.local.server import free_port, local_stack
from tests.cloud.support import ROOT
from tests.functional.test_signals import session_members
from tests.probe import decoded_frames

LIMITS = Path(__file__).resolve().parents[1] / "cloud" / "limits"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1"}


def invoke(lam, name: str, event: dict) -> tuple[dict, str | None]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event))
    return json.loads(answer["Payload"].read()), answer.get("FunctionError")


@pytest.fixture
def limited(aws_env: None):
    with local_stack(LIMITS, isolation="process", stack_name="limits") as stack:
        yield stack, stack.client("lambda"), stack.functions["Probe"]


def test_timeout_kills_the_invocation(limited) -> None:
    _, lam, name = limited
    began = time.monotonic()
    payload, error = invoke(lam, name, {"sleep": 30})
    assert error and payload["errorType"] == "Sandbox.Timedout" and "after 3.00 seconds" in payload["errorMessage"]
    assert time.monotonic() - began < 15
    payload, error = invoke(lam, name, {})  # a new environment serves the next invocation
    assert error is None and payload["function"] == name


def test_tmp_is_the_ephemeral_storage_size(limited) -> None:
    _, lam, name = limited
    payload, error = invoke(lam, name, {"fill_mb": 8})
    assert error is None
    payload, error = invoke(lam, name, {"fill_mb": 40})  # over the template's 16 MB
    assert error and "No space left on device" in payload["errorMessage"], payload


def test_cold_start_then_warm_and_the_cpu_share(limited) -> None:
    _, lam, name = limited
    cold, _ = invoke(lam, name, {})
    warm, _ = invoke(lam, name, {})
    assert cold["pid"] == warm["pid"] and cold["init_s"] > 0 and warm["init_s"] == 0
    if not os.access(CGROUP_CPU, os.W_OK):
        pytest.skip(f"{CGROUP_CPU} is not writable here: no CPU quota to check")
    quota = (CGROUP_CPU / cold["cgroup"].lstrip("/") / "cpu.cfs_quota_us").read_text().strip()
    assert int(quota) == cgroup_quota_us(884) == round(884 / 1769 * 100_000)


def test_cloud_local_serves_the_stack_to_a_plain_boto3_client(samples, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))} | CREDENTIALS
    argv = [
        sys.executable,
        "-m",
        "splitstitch.cli",
        "cloud",
        "local",
        "--port",
        str(port),
        "--template",
        str(ROOT / "template.yaml"),
        "--parameter",
        "Preset=ultrafast",
        "--parameter",
        "MaxConcurrency=2",
    ]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    try:
        line = server.stdout.readline().strip()
        fields = dict(part.split("=", 1) for part in line.split())
        assert fields == {"endpoint": f"http://127.0.0.1:{port}", "bucket": "splitstitch-media-123456789012"}, line
        s3 = boto3.client(
            "s3",
            endpoint_url=fields["endpoint"],
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )
        s3.upload_file(str(samples("cfr")), fields["bucket"], "uploads/demo.mp4")
        etag = s3.head_object(Bucket=fields["bucket"], Key="uploads/demo.mp4")["ETag"].strip('"')
        key, deadline, status = (
            contract.status_key(contract.job_name("uploads/demo.mp4", etag)),
            time.monotonic() + 120,
            {},
        )
        while time.monotonic() < deadline and status.get("state") not in ("succeeded", "failed"):
            time.sleep(0.5)
            try:
                status = json.loads(s3.get_object(Bucket=fields["bucket"], Key=key)["Body"].read())
            except s3.exceptions.NoSuchKey:
                continue
        assert status.get("state") == "succeeded", status
        out = tmp_path / "demo.mp4"
        s3.download_file(fields["bucket"], status["output_key"], str(out))
        assert decoded_frames(out) == decoded_frames(samples("cfr"))
        assert status["cost"]["quantities"]["lambda_init_s"] > 0  # every function had a cold start, billed
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 128 + signal.SIGTERM
    assert server.stdout.read() == ""  # one line on stdout, nothing else


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_cloud_local_stops_its_workers_on_a_stop_signal(sig: signal.Signals) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))} | CREDENTIALS
    argv = [
        sys.executable,
        "-m",
        "splitstitch.cli",
        "cloud",
        "local",
        "--port",
        str(port),
        "--template",
        str(LIMITS / "template.yaml"),
    ]
    server = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True, start_new_session=True
    )
    try:
        endpoint = dict(part.split("=", 1) for part in server.stdout.readline().split())["endpoint"]
        lam = boto3.client(
            "lambda",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="any",
            aws_secret_access_key="any",
        )
        name = next(f["FunctionName"] for f in lam.list_functions()["Functions"] if "Probe" in f["FunctionName"])
        lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 2}))
        deadline = time.monotonic() + 30
        while len(session_members(server.pid)) < 2 and time.monotonic() < deadline:  # a worker is running
            time.sleep(0.1)
        assert len(session_members(server.pid)) >= 2, "no worker started"
    finally:
        os.kill(server.pid, sig)  # the server alone
        code = server.wait(30)
    assert code == 128 + sig, server.stderr.read()
    time.sleep(0.3)
    assert session_members(server.pid) == [], "workers outlived `cloud local`"
    assert not [p for p in Path(tempfile.gettempdir()).glob(f"splitstitch-local-{server.pid}-*")]
    if CGROUP_CPU.is_dir():
        assert not list(CGROUP_CPU.glob(f"splitstitch-{server.pid}-*"))


def test_a_killed_runs_leftovers_are_removed_at_start(tmp_path: Path) -> None:
    """SIGKILL leaves a run no chance to clean up: its orphaned workers, CPU groups and tmpfs mounts are found by
    the owner's pid in their names and removed when the next local stack starts; a live run's are left alone."""
    if os.geteuid() != 0 or not os.access(CGROUP_CPU, os.W_OK):
        pytest.skip(f"needs root and a writable {CGROUP_CPU} to make a killed run's leftovers")
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = subprocess.Popen(["sleep", "60"], start_new_session=True)
    group = CGROUP_CPU / f"splitstitch-{dead.pid}-Encode-1"
    group.mkdir()
    (group / "cgroup.procs").write_text(str(orphan.pid))
    live_group = CGROUP_CPU / f"splitstitch-{os.getpid()}-Encode-1"
    live_group.mkdir()
    folder = tmp_path / f"splitstitch-local-{dead.pid}-abc" / "Encode-1"
    folder.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)]).returncode == 0
    try:
        swept = leftovers.sweep(CGROUP_CPU, tmp_path)
        assert orphan.wait(5) == -signal.SIGKILL
        assert not group.exists() and live_group.exists()
        assert not folder.parent.exists()
        assert swept == leftovers.Swept(processes=1, cgroups=1, mounts=int(mounted), folders=1)
    finally:
        live_group.rmdir()
        if orphan.poll() is None:
            orphan.kill()
