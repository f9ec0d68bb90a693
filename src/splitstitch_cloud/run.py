"""A client of a deployed (or local) stack: upload, follow, download; find a job by its upload key; describe
its progress. Used by `splitstitch cloud run|status` and by the benchmark's `aws:STACK` runtime (timed from
upload to downloaded output)."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from splitstitch.errors import SplitstitchError, UsageError
from splitstitch_cloud import contract, cost
from splitstitch_cloud.jobs import ENDED, FAILED, read_status
from splitstitch_cloud.storage import S3Store, client

POLL_SECONDS = 1.0
PACKAGE_ENTRIES = (".m3u8", ".mpd")  # a streaming job's output_key: its folder holds the package
DOWNLOADERS = 16


class CloudError(SplitstitchError):
    """The stack, the bucket or the job could not be found, or the job failed."""


def stack_outputs(stack: str, endpoint_url: str | None = None, region: str | None = None) -> dict[str, str]:
    cfn = client("cloudformation", endpoint_url, region)
    try:
        outputs = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except cfn.exceptions.ClientError as exc:
        raise CloudError(f"stack {stack}: {exc.response['Error']['Message']}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def open_store(
    stack: str, *, bucket: str | None = None, endpoint_url: str | None = None, region: str | None = None
) -> S3Store:
    """The stack's media bucket (its `BucketName` output), or `bucket` when given."""
    s3 = client("s3", endpoint_url, region)
    if bucket:
        return S3Store(bucket, s3)
    name = stack_outputs(stack, endpoint_url, region).get("BucketName")
    if not name:
        raise CloudError(f"stack {stack}: no BucketName output (deploy template.yaml, or pass --bucket)")
    return S3Store(name, s3)


def job_of_key(store: S3Store, key: str) -> str:
    """The job of the object now at `key` (its version or ETag names it)."""
    return upload_of_key(store, key)[0]


def upload_of_key(store: S3Store, key: str) -> tuple[str, float]:
    """The job of the object now at `key`, and when S3 stored it (S3's clock, as the functions' statuses): a
    failure recorded before then is an earlier attempt's, and the upload starts a new one."""
    try:
        head = store.head(key)
    except store.s3.exceptions.ClientError as exc:
        raise CloudError(f"{key}: no such upload in {store.bucket} ({exc.response['Error'].get('Code')})") from None
    return contract.job_of_head(key, head), head["LastModified"].timestamp()


def progress(store: S3Store, job: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    """The status plus what can be seen of the job's progress: segments encoded so far and seconds elapsed."""
    status = status or read_status(store, job)
    if status is None:
        raise CloudError(f"job {job}: no status in jobs/ (wrong stack or job name?)")
    encoded = status.get("segments", 0) if status["state"] in ENDED else sum(
        1 for k in store.keys(contract.work_key(job, "segments/")) if k.endswith(".json"))  # fmt: skip
    end = float(status.get("updated", time.time())) if status["state"] in ENDED else time.time()
    return status | {"segments_done": encoded, "elapsed_s": round(end - float(status.get("created", end)), 1)}


def describe(p: dict[str, Any]) -> str:
    """One job's progress for people, a few lines."""
    lines = [f"job {p['job']}: {p['state']}, stage {p.get('stage', '?')}, attempt {p.get('attempt', 1)}, "
             f"{p['segments_done']}/{p.get('segments', '?')} segments, {p['elapsed_s']:.1f} s"]  # fmt: skip
    if p.get("source_key"):
        lines.append(f"upload: {p['source_key']}")
    if p.get("reason"):
        lines.append(f"reason: {p['reason']}")
    if p.get("output_key") and p["state"] == "succeeded":
        lines.append(f"output: {p['output_key']}")
    return "\n".join(lines)


def follow(
    store: S3Store, job: str, timeout: float, on_poll: Any = None, after: float = 0.0
) -> tuple[dict[str, Any], int]:
    """Poll jobs/<job>.json until the job ends; `on_poll(progress)` sees every poll. A failure recorded before
    `after` (the upload's S3 time: an earlier attempt's) is not the end: the upload starts a new attempt.
    Returns the status and the poll count."""
    deadline, polls = time.monotonic() + timeout, 0
    while time.monotonic() < deadline:
        polls += 1
        status = read_status(store, job)
        stale = status is not None and status["state"] == FAILED and float(status.get("updated", 0)) < after
        current = status is not None and not stale
        if current and on_poll is not None:
            on_poll(progress(store, job, status))
        if current and status["state"] in ENDED:
            return status, polls
        time.sleep(POLL_SECONDS)
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
    """Upload `source` to uploads/, wait for the job, download its output; returns what happened, with the job's
    cost plus this client's (its polls and the download)."""
    if not source.is_file():
        raise UsageError(f"{source}: no such file")
    started = time.perf_counter()
    store = open_store(stack, bucket=bucket, endpoint_url=endpoint_url, region=region)
    upload_key = contract.UPLOADS + (key or source.name)
    metadata = {contract.SETTINGS_METADATA: json.dumps(settings)} if settings else {}
    store.s3.upload_file(str(source), store.bucket, upload_key, ExtraArgs={"Metadata": metadata})
    job, uploaded_at = upload_of_key(store, upload_key)
    status, polls = follow(store, job, timeout, on_poll, after=uploaded_at)
    if status["state"] == FAILED:
        raise CloudError(f"job {job} failed: {status.get('reason') or 'no reason recorded'}")
    if status["output_key"].endswith(PACKAGE_ENTRIES):
        target, size, files = download_package(
            store, status["output_key"], output or source.with_name(f"{source.stem}.out")
        )
    else:
        target = output or source.with_name(f"{source.stem}.out{Path(status['output_key']).suffix}")
        size, files = store.download(status["output_key"], target).stat().st_size, 1
    total = cost.add(status["cost"], cost.client_cost(polls, size, files)) if status.get("cost") else None
    return {
        "job": job,
        "bucket": store.bucket,
        "upload_key": upload_key,
        "output": str(target),
        "status": status,
        "cost": total,
        "cost_usd": total["usd"]["total"] if total else None,
        "polls": polls,
        "client_seconds": round(time.perf_counter() - started, 3),
    }


def download_package(store: S3Store, entry_key: str, folder: Path) -> tuple[Path, int, int]:
    """A streaming package (every key beside its entry playlist or MPD) into `folder`, DOWNLOADERS at once;
    the folder appears whole (downloaded beside it, then renamed) and replaces only an earlier package.
    Returns the local entry, the bytes and the files downloaded."""
    prefix, entry = entry_key.rsplit("/", 1)
    keys = store.keys(prefix + "/")
    if folder.exists() and not any((folder / n).is_file() for n in ("master.m3u8", "manifest.mpd", entry)):
        raise CloudError(f"{folder}: exists and holds no streaming package; choose another -o")
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)

    def get(key: str) -> int:
        path = partial / key[len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        return store.download(key, path).stat().st_size

    try:
        with ThreadPoolExecutor(DOWNLOADERS) as pool:
            size = sum(pool.map(get, keys))
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    partial.rename(folder)
    return folder / entry, size, len(keys)
