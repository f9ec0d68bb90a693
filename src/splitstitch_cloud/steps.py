"""The core's stages on S3, one function per Lambda handler and named like the stage it runs:
`prepare` (S3-triggered), `encode_segment` (Distributed Map item), `encode_audio` (beside the Map),
`finish`, plus `record_failure` (the Catch target). Each only adapts: it finds the source (a presigned
URL), the job's storage (`work/<job>/`) and the output (a multipart upload), and calls `splitstitch.stages`.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitstitch import stages
from splitstitch.audio import AudioPlan, AudioResult
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment, SegmentTask
from splitstitch.errors import SplitstitchError, UsageError, VerificationError
from splitstitch.inputs import SNIFF_BYTES, Limits
from splitstitch.job import Job
from splitstitch.plan import Fanout
from splitstitch.report import StageTimer, build_report
from splitstitch.settings import Settings
from splitstitch_cloud import contract, cost
from splitstitch_cloud.jobs import FAILED, RUNNING, SUCCEEDED, failure_reason, read_status, write_status
from splitstitch_cloud.storage import MultipartSink, S3Storage, S3Store

MB_PER_VCPU = 1769  # Lambda: 1,769 MB buys one vCPU, linearly, up to 6
ENCODE_BUDGET = 0.35  # a segment's estimated encode time may use this share of the encode function's timeout
UNSUPPORTED_IN_LAMBDA = {
    "av1": "av1 output is not supported in Lambda (the ffmpeg layer has no AV1 decoder to verify it)"
}


def arch() -> cost.Arch:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


@dataclass(frozen=True)
class Deployment:
    """What the template tells the prepare function (environment variables set in template.yaml)."""

    max_concurrency: int = 1000
    encode_memory_mb: int = MB_PER_VCPU
    encode_timeout_s: int = 900
    max_source_bytes: int = 100 * 10**9
    scan_parallel: int = 16

    @classmethod
    def from_env(cls) -> Deployment:
        env = os.environ
        return cls(int(env.get("MAX_CONCURRENCY", 1000)), int(env.get("ENCODE_MEMORY_MB", MB_PER_VCPU)),
                   int(env.get("ENCODE_TIMEOUT_S", 900)), int(env.get("MAX_SOURCE_BYTES", 100 * 10**9)),
                   int(env.get("SCAN_PARALLEL", 16)))  # fmt: skip

    def fanout(self) -> Fanout:
        vcpus = min(self.encode_memory_mb / MB_PER_VCPU, 6.0)
        return Fanout(self.max_concurrency, 1.0, 1.0, 600.0, vcpus, self.encode_timeout_s * ENCODE_BUDGET)


@dataclass(frozen=True)
class Started:
    job: str
    state: str  # "started", "duplicate" or "failed"
    segments: int = 0
    reason: str | None = None


def job_settings(defaults_json: str | None, metadata: dict[str, str]) -> Settings:
    """Template defaults (env DEFAULT_SETTINGS) overridden by the upload's metadata."""
    try:
        merged = json.loads(defaults_json or "{}") | json.loads(metadata.get(contract.SETTINGS_METADATA) or "{}")
    except ValueError as exc:
        raise UsageError(f"bad settings: {str(exc).splitlines()[0]}") from None
    settings = Settings.from_dict(merged)
    if settings.codec in UNSUPPORTED_IN_LAMBDA:
        raise UsageError(UNSUPPORTED_IN_LAMBDA[settings.codec])
    return settings


def source_ref(key: str, version: str | None, size: int) -> dict[str, Any]:
    return {"key": key, "version": version, "size": size}


def prepare(
    store: S3Store, sfn: Any, key: str, etag: str, version: str | None, state_machine_arn: str,
    deployment: Deployment, memory_mb: int, tmp: Path,
) -> Started:  # fmt: skip
    """Probe and plan from ranged reads of the upload (nothing is copied); write the job, its Map items and
    its status; start the execution. A refused upload is a failed job with its one-line reason."""
    began = time.perf_counter()
    job_id = contract.job_name(key, version or etag)
    if read_status(store, job_id) is not None:
        return Started(job_id, "duplicate")
    try:
        head = store.head(key, version)
        size = int(head["ContentLength"])
        settings = job_settings(os.environ.get("DEFAULT_SETTINGS"), head.get("Metadata", {}))
        fmt = output_format(settings.codec, Path("output.mp4"))
        limits = Limits(max_bytes=deployment.max_source_bytes)
        first_bytes = store.get(key, 0, min(SNIFF_BYTES, size), version) if size else b""
        source = store.source(key, version, size)
        job = stages.prepare(job_id, source, settings, fmt, deployment.fanout(), store=S3Storage(store, job_id),
                             work=tmp, limits=limits, head=first_bytes, scan_parallel=deployment.scan_parallel)  # fmt: skip
    except SplitstitchError as exc:
        write_status(store, job_id, FAILED, source_key=key, reason=str(exc))
        return Started(job_id, "failed", reason=str(exc))
    ref = source_ref(key, version, size)
    if job.rebuilt:  # timestamps restarted: the encoders read the copy rebuilt on one timeline
        rebuilt_key = contract.work_key(job_id, job.rebuilt)
        ref = source_ref(rebuilt_key, None, int(store.head(rebuilt_key)["ContentLength"]))
    store.put_json(contract.job_key(job_id), job.to_dict() | {"source_ref": ref})
    items = [{"job": job_id, "bucket": store.bucket, "source": ref, "task": job.segment_task(s.index).to_dict()}
             for s in job.plan.longest_first()]  # fmt: skip
    store.put_json(contract.items_key(job_id), items)
    usage = {"function": "prepare", "memory_mb": memory_mb, "seconds": round(time.perf_counter() - began, 3),
             "arch": arch()}  # fmt: skip
    output_key = contract.output_key(key, fmt.extension)
    write_status(store, job_id, RUNNING, source_key=key, output_key=output_key, segments=len(job.plan.segments),
                 plan=job.plan.reason, prepare=usage)  # fmt: skip
    audio = None
    if job.audio:
        audio = {"job": job_id, "bucket": store.bucket, "source": ref, "audio": job.audio.to_dict()}
    execution_input = {"job": job_id, "bucket": store.bucket, "items_key": contract.items_key(job_id), "audio": audio}
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=job_id, input=json.dumps(execution_input))
    except sfn.exceptions.ExecutionAlreadyExists:
        return Started(job_id, "duplicate", len(job.plan.segments))
    return Started(job_id, "started", len(job.plan.segments))


def _usage(storage: S3Storage, name: str, function: str, began: float, memory_mb: int) -> None:
    record = {"function": function, "memory_mb": memory_mb, "seconds": round(time.perf_counter() - began, 3),
              "arch": arch(), "s3_puts": storage.puts + 1, "s3_gets": storage.gets}  # fmt: skip
    storage.put_bytes(f"usage/{name}.json", json.dumps(record).encode())


def encode_segment(store: S3Store, item: dict[str, Any], tmp: Path, memory_mb: int) -> EncodedSegment:
    """One Map item: the segment's range read from the upload by a presigned URL, encoded and stored."""
    began = time.perf_counter()
    ref, task = item["source"], SegmentTask.from_dict(item["task"])
    storage = S3Storage(store, item["job"])
    result = stages.encode_segment(task, store.source(ref["key"], ref.get("version"), ref["size"]), storage, tmp)
    _usage(storage, f"segment-{task.segment.index:05d}", "encode_segment", began, memory_mb)
    return result


def encode_audio(store: S3Store, item: dict[str, Any], tmp: Path, memory_mb: int) -> AudioResult:
    began = time.perf_counter()
    ref, plan = item["source"], AudioPlan.from_dict(item["audio"])
    assert plan is not None
    storage = S3Storage(store, item["job"])
    result = stages.encode_audio(plan, store.source(ref["key"], ref.get("version"), ref["size"]), storage, tmp)
    _usage(storage, "audio", "encode_audio", began, memory_mb)
    return result


def finish(store: S3Store, job_id: str, memory_mb: int) -> dict[str, Any]:
    """Assemble the output with parallel part uploads, verify it from the bytes written, and only then let it
    appear; write the report and the status; remove work/<job>/."""
    began = time.perf_counter()
    job = Job.from_dict(store.get_json(contract.job_key(job_id)))
    status = read_status(store, job_id) or {}
    output_key = status.get("output_key") or contract.output_key(job.source, job.output.extension)
    storage = S3Storage(store, job_id)
    sink = MultipartSink(store, output_key, contract.CONTENT_TYPES.get(job.output.extension, "video/mp4"))
    finished = stages.finish(job, storage, sink, f"s3://{store.bucket}/{output_key}")
    usages = [store.get_json(k) for k in store.keys(contract.work_key(job_id, "usage/"))]
    timer = StageTimer()
    timer.add("prepare", float(status.get("prepare", {}).get("seconds", 0.0)))
    timer.add("encode", max((u["seconds"] for u in usages if u["function"] == "encode_segment"), default=0.0))
    timer.add("audio", next((u["seconds"] for u in usages if u["function"] == "encode_audio"), 0.0))
    timer.add("finish", time.perf_counter() - began)
    timer.add("total", time.time() - job.created)
    executor = {"kind": "lambda", "functions": len(usages) + 2, "part_uploads": sink.requests}
    report = build_report(job, finished, f"s3://{store.bucket}/{output_key}", timer, executor, finished.verification)
    if not finished.verification.ok:
        raise VerificationError(finished.verification.failed(), report)
    usage = {"function": "finish", "memory_mb": memory_mb, "seconds": round(time.perf_counter() - began, 3),
             "arch": arch(), "s3_puts": sink.requests + 3, "s3_gets": storage.gets + len(usages) + 3}  # fmt: skip
    report["cost"] = job_cost(status.get("prepare", {}), usages, usage, len(job.plan.segments), finished.size,
                              time.time() - job.created)  # fmt: skip
    report_key = contract.report_key(output_key)
    store.put_json(report_key, report)
    final = write_status(store, job_id, SUCCEEDED, output_key=output_key, report_key=report_key,
                         timings_s=report["timings_s"], cost=report["cost"])  # fmt: skip
    store.delete_prefix(contract.work_prefix(job_id))
    return final


def job_cost(prepare_usage: dict[str, Any], usages: list[dict[str, Any]], finish_usage: dict[str, Any],
             segments: int, work_bytes: int, seconds: float) -> dict[str, Any]:  # fmt: skip
    records = [r for r in (prepare_usage, *usages, finish_usage) if r]
    invocations = tuple(cost.Invocation(r["function"], int(r["memory_mb"]), float(r["seconds"]), r.get("arch", "x86_64"))
                        for r in records)  # fmt: skip
    puts = 4 + sum(int(r.get("s3_puts", 0)) for r in records)  # + upload, job, items, status writes
    gets = 3 + sum(int(r.get("s3_gets", 0)) for r in records)  # + head, sniff, items read by the Map
    usage = cost.JobUsage(invocations, segments, 0, puts, gets, 2 * work_bytes, seconds / 3600)
    return cost.estimate(usage)


def record_failure(store: S3Store, job: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """Catch step: the job is failed with a one-line reason; nothing is written to outputs/."""
    return write_status(store, job, FAILED, reason=failure_reason(error))
