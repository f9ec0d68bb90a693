"""Job status documents in jobs/<job>.json: one writer, merged updates, never deleted by the pipeline."""

from __future__ import annotations

import json
import time
from typing import Any

from splitstitch_cloud.contract import status_key
from splitstitch_cloud.storage import S3Store

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"


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
    line = str(cause).strip().splitlines()[0] if str(cause).strip() else "no details"
    return f"{name}: {line}"
