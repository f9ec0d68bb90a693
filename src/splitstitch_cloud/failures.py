"""Failures that no handler could record itself, recorded by the record-failure function:

- a prepare that died (out of memory, timed out, crashed) on every attempt: Lambda's on-failure destination
  sends its record ({requestContext, requestPayload: the S3 event, responsePayload: the runtime's error}); the
  job, if still `starting` (or never written), is failed with what happened;
- an encode the runtime killed (out of memory, `Runtime.ExitError`) once the ASL's retries were spent: the Map
  item's Catch sends {job, task | audio, error}; the item's reason is written under work/<job>/errors/ unless
  its handler wrote one, so that the job's reason names what happened.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from splitstitch.audio import AudioPlan
from splitstitch.audio import item_name as audio_item_name
from splitstitch.encode import SegmentTask
from splitstitch.encode import item_name as encode_item_name
from splitstitch_cloud import contract
from splitstitch_cloud.jobs import FAILED, STARTING, failure_reason, item_failure, read_status, write_status
from splitstitch_cloud.steps import Upload, identified
from splitstitch_cloud.storage import S3Store


def is_destination_record(event: dict[str, Any]) -> bool:
    return "requestContext" in event and "requestPayload" in event


def runtime_error(response: Any) -> dict[str, str]:
    """A Lambda error payload as a Catch-style {"Error", "Cause"} (a timeout's payload may have no errorType)."""
    response = response if isinstance(response, dict) else {"errorMessage": str(response)}
    message = str(response.get("errorMessage") or "no message")
    name = response.get("errorType") or ("Sandbox.Timedout" if "timed out" in message else "Runtime.Unknown")
    return {"Error": name, "Cause": json.dumps({"errorType": name, "errorMessage": message})}


def prepare_died(store: S3Store, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Fail the job of each upload in a failed prepare's S3 event that is not already planned or ended."""
    attempts = record.get("requestContext", {}).get("approximateInvokeCount")
    reason = f"prepare did not finish: {failure_reason(runtime_error(record.get('responsePayload')))}"
    if attempts:
        reason += f" ({attempts} attempts)"
    written = []
    for s3_record in (record.get("requestPayload") or {}).get("Records", []):
        obj = s3_record["s3"]["object"]
        upload = Upload(unquote_plus(obj["key"]), obj.get("eTag", ""), obj.get("versionId"), obj.get("sequencer"))
        job = identified(store, upload).job
        status = read_status(store, job)
        if status is not None and status["state"] != STARTING:
            continue  # planned (its execution reports its own end) or already ended
        written.append(write_status(store, job, FAILED, stage="prepare", source_key=upload.key, reason=reason))
    return written


def record_item_failure(store: S3Store, event: dict[str, Any]) -> str:
    """The reason of a Map item that failed without recording one (its handler was killed); returns it."""
    if "task" in event:
        item = encode_item_name(SegmentTask.from_dict(event["task"]))
    else:
        plan = AudioPlan.from_dict(event["audio"])
        assert plan is not None
        item = audio_item_name(plan)
    key = contract.work_key(event["job"], contract.error_name(item))
    recorded = store.get_json_or_none(key)
    if recorded is not None:  # the handler said why itself
        return str(recorded["reason"])
    name, _, message = failure_reason(event.get("error")).partition(": ")
    failure = item_failure(name, message)
    store.put_json(key, failure)
    return str(failure["reason"])
