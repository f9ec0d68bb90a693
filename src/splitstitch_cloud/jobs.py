"""Job status documents in jobs/<job>.json: merged updates, never deleted by the pipeline.

A job is one uploaded object (its key and version/ETag). Its attempts run as executions `<job>`, `<job>-2`...;
`state` is starting (prepare is planning it) -> running -> succeeded | failed, `stage` says where it is.
"""

from __future__ import annotations

import json
import time
from typing import Any

from splitstitch_cloud import contract
from splitstitch_cloud.contract import status_key
from splitstitch_cloud.storage import S3Store

STARTING, RUNNING, SUCCEEDED, FAILED = "starting", "running", "succeeded", "failed"
ENDED = (SUCCEEDED, FAILED)


def read_status(store: S3Store, job: str) -> dict[str, Any] | None:
    try:
        return store.get_json(status_key(job))
    except store.s3.exceptions.NoSuchKey:
        return None


def write_status(store: S3Store, job: str, state: str, **fields: Any) -> dict[str, Any]:
    """Merge `fields` into the job's status and set its state; returns what was written."""
    status = (read_status(store, job) or {"job": job, "created": time.time()}) | fields
    status |= {"state": state, "updated": time.time()}
    store.put_json(status_key(job), status)
    return status


def one_line(text: str) -> str:
    text = str(text).strip()
    return text.splitlines()[0] if text else "no details"


def failure_reason(error: dict[str, Any] | None) -> str:
    """One line from a Step Functions Catch result ({"Error", "Cause"}; Cause may be a Lambda error JSON)."""
    if not error:
        return "unknown error"
    name, cause = error.get("Error", "Error"), error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and parsed.get("errorMessage"):
        name, cause = parsed.get("errorType", name), parsed["errorMessage"]
    return f"{name}: {one_line(cause)}"


def item_failure(error_type: str, message: str) -> dict[str, Any]:
    return {"error": error_type, "reason": f"{error_type}: {one_line(message)}", "at": time.time()}


def first_item_failure(store: S3Store, job: str) -> str | None:
    """The earliest reason an item (segment or audio) recorded under work/<job>/errors/, leaving out segments
    that succeeded on a later attempt; None when no item recorded one."""
    prefix = contract.work_prefix(job)
    keys = store.keys(prefix)
    done = {f"{item}.json" for k in keys if (item := contract.item_of_result(k[len(prefix) :]))}
    recorded = []
    for key in keys:
        if "/errors/" in key and key.rsplit("/", 1)[-1] not in done:
            try:
                recorded.append(store.get_json(key))
            except store.s3.exceptions.NoSuchKey:
                continue
    return min(recorded, key=lambda r: r.get("at", 0.0))["reason"] if recorded else None
