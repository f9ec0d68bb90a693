"""The core's stages on S3, one function per Lambda handler and named like the stage it runs:
`prepare` (S3-triggered), `encode_segment` (Distributed Map item), `encode_audio` (beside the Map),
`finish`, plus `record_failure` (the Catch target, and the EventBridge rule's for executions that ended badly).
Each only adapts: it finds the source (a presigned URL), the job's storage (`work/<job>/`) and the output (a
multipart upload), and calls `splitstitch.stages`; every invocation records what it used (`usage.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from splitstitch import stages
from splitstitch.audio import AudioPlan, AudioResult
from splitstitch.audio import item_name as audio_item_name
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment, SegmentTask
from splitstitch.encode import item_name as encode_item_name
from splitstitch.errors import SplitstitchError, ToolError, UsageError
from splitstitch.inputs import SNIFF_BYTES, Limits, check_head
from splitstitch.job import Job
from splitstitch.plan import Fanout
from splitstitch.settings import Settings
from splitstitch_cloud import contract, usage
from splitstitch_cloud.admission import admit, check_decodable
from splitstitch_cloud.jobs import (
    ENDED,
    FAILED,
    RUNNING,
    STARTING,
    failure_reason,
    first_item_failure,
    item_failure,
    read_status,
    write_status,
)  # fmt: skip
from splitstitch_cloud.storage import S3Storage, S3Store

MB_PER_VCPU = 1769  # Lambda: 1,769 MB buys one vCPU, linearly, up to 6
ENCODE_BUDGET = 0.35  # a segment's estimated encode time may use this share of the encode function's timeout
T = TypeVar("T")


class EncodeTimeout(SplitstitchError):
    """An encode would not finish within its function's timeout. Not retried: it would run out of time again."""


@dataclass(frozen=True)
class Deployment:
    """What the template tells the prepare function (environment variables set in template.yaml)."""

    max_concurrency: int = 500
    encode_memory_mb: int = MB_PER_VCPU
    encode_timeout_s: int = 900
    max_source_bytes: int = 100 * 10**9
    scan_parallel: int = 16
    encode_wave_percent: float = 1.0  # template EncodeWavePercent: see Fanout.wave_share

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Deployment:
        """From the prepare function's environment (or `env`, e.g. a deployed function's configuration)."""
        env = os.environ if env is None else env
        d = cls()
        return cls(int(env.get("MAX_CONCURRENCY", d.max_concurrency)),
                   int(env.get("ENCODE_MEMORY_MB", d.encode_memory_mb)),
                   int(env.get("ENCODE_TIMEOUT_S", d.encode_timeout_s)),
                   int(env.get("MAX_SOURCE_BYTES", d.max_source_bytes)),
                   int(env.get("SCAN_PARALLEL", d.scan_parallel)),
                   float(env.get("ENCODE_WAVE_PERCENT", d.encode_wave_percent)))  # fmt: skip

    def fanout(self) -> Fanout:
        vcpus = min(self.encode_memory_mb / MB_PER_VCPU, 6.0)
        return Fanout(
            self.max_concurrency,
            1.0,
            1.0,
            600.0,
            vcpus,
            self.encode_timeout_s * ENCODE_BUDGET,
            wave_share=self.encode_wave_percent / 100,
        )


@dataclass(frozen=True)
class Started:
    job: str
    state: str  # "started", "duplicate", "ignored" or "failed"
    segments: int = 0
    reason: str | None = None
    attempt: int = 1


@dataclass(frozen=True)
class Upload:
    """One S3 ObjectCreated record."""

    key: str
    etag: str
    version: str | None = None
    sequencer: str | None = None
    settings: str | None = None  # its x-amz-meta-splitstitch-settings (see `described`)
    size: int | None = None  # its ContentLength; None until `described`

    @property
    def job(self) -> str:
        return contract.job_name(self.key, self.version or self.etag, self.settings)


def described(store: S3Store, upload: Upload, head: dict[str, Any] | None = None) -> Upload:
    """`upload` with what its HEAD says (`head`, or one made here): its size, and its settings metadata, part of
    the job's identity (S3 events carry no metadata)."""
    head = head if head is not None else store.head(upload.key, upload.version)
    settings = head.get("Metadata", {}).get(contract.SETTINGS_METADATA)
    return dataclasses.replace(upload, settings=settings, size=int(head["ContentLength"]))


def identified(store: S3Store, upload: Upload) -> Upload:
    """`described`, before the job is named; an object already gone stays as it is: planning it fails as before."""
    try:
        return described(store, upload)
    except store.s3.exceptions.ClientError:
        return upload


def job_settings(defaults_json: str | None, settings_json: str | None) -> Settings:
    """Template defaults (env DEFAULT_SETTINGS) overridden by the upload's settings metadata."""
    try:
        merged = json.loads(defaults_json or "{}") | json.loads(settings_json or "{}")
    except ValueError as exc:
        raise UsageError(f"bad settings: {str(exc).splitlines()[0]}") from None
    output = merged.pop("output", "mp4")  # the template's OutputFormat: mp4, or a streaming format
    if output != "mp4":
        merged.setdefault("streaming", output)
    settings = Settings.from_dict(merged)
    return settings


def source_ref(key: str, version: str | None, size: int) -> dict[str, Any]:
    return {"key": key, "version": version, "size": size}


def plan_job(
    store: S3Store, upload: Upload, deployment: Deployment, defaults: str | None = None
) -> tuple[Job, dict[str, Any]]:
    """Probe and plan from ranged reads of the upload (its HEAD made once, by `described`, unless it was already);
    refuses (InputError/UsageError) before reading anything when the upload is empty or over MaxSourceBytes.
    `defaults`: the template's settings (env DEFAULT_SETTINGS)."""
    if upload.size is None:
        upload = described(store, upload)
    assert upload.size is not None
    size = upload.size
    limits = Limits(max_bytes=deployment.max_source_bytes)
    check_head(upload.key, size, b"", limits)  # size only: nothing has been read yet
    settings = job_settings(defaults if defaults is not None else os.environ.get("DEFAULT_SETTINGS"), upload.settings)
    fmt = output_format(settings.codec, Path("output.mp4"))
    first_bytes = store.get(upload.key, 0, min(SNIFF_BYTES, size), upload.version)
    source = store.source(upload.key, upload.version, size)
    with tempfile.TemporaryDirectory() as tmp:  # used only to rebuild a source whose timestamps restart
        job = stages.prepare(upload.job, source, settings, fmt, deployment.fanout(), store=S3Storage(store, upload.job),
                             work=Path(tmp), limits=limits, head=first_bytes, scan_parallel=deployment.scan_parallel)  # fmt: skip
    check_decodable(source, job.info)
    if job.rebuilt:  # timestamps restarted: the encoders read the copy rebuilt on one timeline
        return job, source_ref(contract.work_key(job.id, job.rebuilt), None, job.info.size)  # the copy's probe
    return job, source_ref(upload.key, upload.version, size)


def output_key_of(job: Job, source_key: str) -> str:
    """Where a job's output goes: a file, or a streaming package's entry (its folder holds the rest)."""
    if job.settings.streaming:
        return contract.package_entry(source_key, job.id, job.settings.streaming)
    return contract.output_key(source_key, job.id, job.output.extension)


def map_item(job: Job, bucket: str, ref: dict[str, Any], task: SegmentTask) -> dict[str, Any]:
    """One Distributed Map item: everything an encoder needs, nothing it must look up (see events/encode_segment.json)."""
    return {"job": job.id, "bucket": bucket, "source": ref, "task": task.to_dict()}


def prepare(store: S3Store, sfn: Any, upload: Upload, state_machine_arn: str, deployment: Deployment,
            memory_mb: int) -> Started:  # fmt: skip
    """Write the job, its Map items and its status; start the execution. The status is written before the
    execution starts and marked running after, so a retry of this invocation (StartExecution failed) carries
    on where it stopped. A refused upload is a failed job with its one-line reason."""
    began, init_s = time.perf_counter(), usage.init_seconds()
    job_id = upload.job
    admission = admit(upload.key, read_status(store, job_id), upload.sequencer)
    if admission.action != "start":
        return Started(
            job_id if admission.action == "duplicate" else "",
            "duplicate" if admission.action == "duplicate" else "ignored",
        )
    if admission.fresh:
        store.delete_prefix(contract.work_prefix(job_id))
    fresh = {"created": time.time(), "reason": None, "cost": None, "output_key": None} if admission.fresh else {}
    write_status(store, job_id, STARTING, stage="prepare", source_key=upload.key, sequencer=upload.sequencer,
                 attempt=admission.attempt, **fresh)  # fmt: skip
    try:
        job, ref = plan_job(store, upload, deployment)
    except SplitstitchError as exc:
        write_status(store, job_id, FAILED, stage="prepare", reason=str(exc))
        return Started(job_id, "failed", reason=str(exc), attempt=admission.attempt)
    store.put_json(contract.job_key(job_id), job.to_dict() | {"source_ref": ref})
    items = [map_item(job, store.bucket, ref, task) for task in job.tasks()]
    store.put_json(contract.items_key(job_id), items)
    audio = [
        {"job": job_id, "bucket": store.bucket, "source": ref, "audio": plan.to_dict()} for plan in job.audio_plans()
    ]
    execution = contract.execution_name(job_id, admission.attempt)
    record = usage.record("prepare", memory_mb, began, init_s, True, s3_puts=4, s3_gets=4)
    write_status(store, job_id, STARTING, segments=len(job.plan.segments), plan=job.plan.reason, execution=execution,
                 output_key=output_key_of(job, upload.key), prepare=record)  # fmt: skip
    execution_input = {"job": job_id, "bucket": store.bucket, "items_key": contract.items_key(job_id), "audio": audio}
    with contextlib.suppress(sfn.exceptions.ExecutionAlreadyExists):  # started by the invocation this one retries
        sfn.start_execution(stateMachineArn=state_machine_arn, name=execution, input=json.dumps(execution_input))
    write_status(store, job_id, RUNNING, stage="encode")
    return Started(job_id, "started", len(job.plan.segments), attempt=admission.attempt)


def encode_budget(remaining_s: float | None) -> float:
    """Seconds ffmpeg may take: the invocation's remaining time less a margin to check and store the result."""
    if remaining_s is None:
        return 3600.0
    return remaining_s - min(max(10.0, 0.1 * remaining_s), 0.5 * remaining_s)


def _attempt(storage: S3Storage, item: str, function: str, memory_mb: int, remaining_s: float | None,
             work: Callable[[float], T]) -> T:  # fmt: skip
    """Run one item's work within the time left; record its usage, and on failure its one-line reason."""
    began, init_s = time.perf_counter(), usage.init_seconds()
    budget = encode_budget(remaining_s)
    try:
        result = work(budget)
    except Exception as exc:
        error: Exception = exc
        if isinstance(exc, ToolError) and exc.timed_out:
            error = EncodeTimeout(f"{function} {item}: not finished within {budget:.0f} s of the function's "
                                  f"{remaining_s or 0:.0f} s (the plan keeps estimates under {ENCODE_BUDGET:.0%} of it)")  # fmt: skip
        storage.put_bytes(
            contract.error_name(item), json.dumps(item_failure(type(error).__name__, str(error))).encode()
        )
        usage.store_record(storage, item, usage.record(function, memory_mb, began, init_s, False, s3_gets=storage.gets,
                                                       s3_puts=storage.puts))  # fmt: skip
        if error is not exc:
            raise error from None
        raise
    usage.store_record(storage, item, usage.record(function, memory_mb, began, init_s, True, s3_gets=storage.gets,
                                                   s3_puts=storage.puts))  # fmt: skip
    return result


def encode_segment(store: S3Store, item: dict[str, Any], tmp: Path, memory_mb: int,
                   remaining_s: float | None = None) -> EncodedSegment:  # fmt: skip
    """One Map item: the segment's range read from the upload by a presigned URL, encoded and stored."""
    ref, task = item["source"], SegmentTask.from_dict(item["task"])
    storage = S3Storage(store, item["job"])
    source = store.source(ref["key"], ref.get("version"), ref["size"])
    return _attempt(storage, encode_item_name(task), "encode_segment", memory_mb, remaining_s,
                    lambda budget: stages.encode_segment(task, source, storage, tmp, timeout=budget))  # fmt: skip


def encode_audio(store: S3Store, item: dict[str, Any], tmp: Path, memory_mb: int,
                 remaining_s: float | None = None) -> AudioResult:  # fmt: skip
    ref, plan = item["source"], AudioPlan.from_dict(item["audio"])
    assert plan is not None
    storage = S3Storage(store, item["job"])
    source = store.source(ref["key"], ref.get("version"), ref["size"])
    return _attempt(storage, audio_item_name(plan), "encode_audio", memory_mb, remaining_s,
                    lambda budget: stages.encode_audio(plan, source, storage, tmp))  # fmt: skip


def record_failure(store: S3Store, job: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """Catch step: the job is failed with its first real reason (an item's recorded error, else the Catch's);
    nothing is written to outputs/."""
    reason = first_item_failure(store, job) or failure_reason(error)
    return write_status(store, job, FAILED, stage="failed", reason=reason)


def execution_ended(store: S3Store, event: dict[str, Any]) -> dict[str, Any] | None:
    """EventBridge: an execution FAILED, TIMED_OUT or was ABORTED. A job still starting/running on that
    execution is failed with a reason (its first recorded item error, else the execution's end); a job that
    already ended, or has moved on to a newer attempt, is left alone (None)."""
    detail = event["detail"]
    job = json.loads(detail.get("input") or "{}").get("job") or detail["name"]
    status = read_status(store, job)
    if status is None or status["state"] in ENDED or status.get("execution", detail["name"]) != detail["name"]:
        return None
    cause = detail.get("error") or detail["status"]
    reason = (
        first_item_failure(store, job)
        or f"execution {detail['status'].lower()}: {failure_reason({'Error': cause, 'Cause': detail.get('cause')})}"
    )
    return write_status(store, job, FAILED, stage="failed", reason=reason)
