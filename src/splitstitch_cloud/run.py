"""Run one job on a deployed stack from a client: upload, follow, download. Used by `splitstitch cloud run`
and by the benchmark's `aws:STACK` runtime (timed from upload to downloaded output)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from splitstitch.errors import SplitstitchError, UsageError
from splitstitch_cloud import contract
from splitstitch_cloud.jobs import FAILED, SUCCEEDED, read_status
from splitstitch_cloud.storage import S3Store, client


class CloudError(SplitstitchError):
    """The stack, the bucket or the job could not be found, or the job failed."""


def open_store(
    stack: str, *, bucket: str | None = None, endpoint_url: str | None = None, region: str | None = None
) -> S3Store:
    """The stack's media bucket (its `BucketName` output), or `bucket` when given."""
    s3 = client("s3", endpoint_url, region)
    if bucket:
        return S3Store(bucket, s3)
    cfn = client("cloudformation", endpoint_url, region)
    try:
        outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except cfn.exceptions.ClientError as exc:
        raise CloudError(f"stack {stack}: {exc.response['Error']['Message']}") from None
    name = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "BucketName"), None)
    if not name:
        raise CloudError(f"stack {stack}: no BucketName output (deploy template.yaml, or pass --bucket)")
    return S3Store(name, s3)


def follow(store: S3Store, job: str, timeout: float, on_poll: Any = None) -> dict[str, Any]:
    """Poll jobs/<job>.json until the job ends; `on_poll(status, encoded_segments)` sees every poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = read_status(store, job) or {"state": "waiting"}
        if on_poll is not None:
            encoded = sum(1 for k in store.keys(contract.work_key(job, "segments/")) if k.endswith(".json"))
            on_poll(status, encoded)
        if status["state"] in (SUCCEEDED, FAILED):
            return status
        time.sleep(1.0)
    raise CloudError(f"job {job}: still not finished after {timeout:.0f} s (see `splitstitch cloud status {job}`)")


def run_job(
    source: Path,
    stack: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    output: Path | None = None,
    key: str | None = None,
    settings: dict[str, Any] | None = None,
    timeout: float = 3600.0,
    on_poll: Any = None,
) -> dict[str, Any]:
    """Upload `source` to uploads/, wait for the job, download its output; returns what happened."""
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    started = time.perf_counter()
    store = open_store(stack, bucket=bucket, endpoint_url=endpoint_url, region=region)
    upload_key = contract.UPLOADS + (key or source.name)
    metadata = {contract.SETTINGS_METADATA: json.dumps(settings)} if settings else {}
    store.s3.upload_file(str(source), store.bucket, upload_key, ExtraArgs={"Metadata": metadata})
    head = store.head(upload_key)
    job = contract.job_name(upload_key, head.get("VersionId") or head["ETag"].strip('"'))
    status = follow(store, job, timeout, on_poll)
    if status["state"] == FAILED:
        raise CloudError(f"job {job} failed: {status.get('reason', 'no reason recorded')}")
    target = output or source.with_name(f"{source.stem}.out{Path(status['output_key']).suffix}")
    store.download(status["output_key"], target)
    return {
        "job": job,
        "bucket": store.bucket,
        "upload_key": upload_key,
        "output": str(target),
        "status": status,
        "cost_usd": status.get("cost", {}).get("usd", {}).get("total"),
        "client_seconds": round(time.perf_counter() - started, 3),
    }
