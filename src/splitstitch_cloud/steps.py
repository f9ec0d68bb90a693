"""The pipeline's stages on S3, one function per Lambda: the same core calls, in the same order, as the
local runner `splitstitch.pipeline.transcode` (probe -> plan -> split + audio once -> encode segments ->
stitch -> verify), with a manifest in work/<job>/ carrying the core's values between functions.
"""

from __future__ import annotations

import json
import os
import platform
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from splitstitch.audio import audio_args, plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment, encode_segment, encoded_name
from splitstitch.errors import SplitstitchError, UsageError, VerificationError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import open_source
from splitstitch.manifest import JobManifest
from splitstitch.pipeline import build_report
from splitstitch.plan import plan_segments
from splitstitch.report import StageTimer
from splitstitch.settings import Settings
from splitstitch.split import split_source
from splitstitch.stitch import stitch_segments
from splitstitch.verify import verify_output
from splitstitch_cloud import cost, layout
from splitstitch_cloud.jobs import FAILED, RUNNING, SUCCEEDED, failure_reason, read_status, write_status
from splitstitch_cloud.storage import S3Store

SETTINGS_METADATA = "splitstitch-settings"  # x-amz-meta-splitstitch-settings: JSON of Settings fields
UNSUPPORTED_IN_LAMBDA = {
    "av1": "av1 output is not supported in Lambda (the ffmpeg layer has no AV1 decoder to verify it)"
}


def arch() -> cost.Arch:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


@dataclass(frozen=True)
class Started:
    job: str
    state: str  # "started", "duplicate" or "failed"
    segments: int = 0
    split_path: str | None = None
    reason: str | None = None


def job_settings(defaults_json: str | None, metadata: dict[str, str]) -> Settings:
    """Template defaults (env DEFAULT_SETTINGS) overridden by the upload's metadata."""
    try:
        merged = json.loads(defaults_json or "{}") | json.loads(metadata.get(SETTINGS_METADATA) or "{}")
        settings = Settings(**merged)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"bad settings: {str(exc).splitlines()[0]}") from None
    if settings.codec in UNSUPPORTED_IN_LAMBDA:
        raise UsageError(UNSUPPORTED_IN_LAMBDA[settings.codec])
    return settings


def local_name(key: str) -> str:
    """A safe local file name that keeps the extension (ffmpeg guesses formats from it)."""
    path = PurePosixPath(key)
    return "source" + re.sub(r"[^A-Za-z0-9.]", "", path.suffix)[:10]


def start_job(
    store: S3Store, sfn: Any, key: str, etag: str, state_machine_arn: str, tmp: Path, memory_mb: int
) -> Started:
    """Split step: probe, plan, split, audio once; write the manifest and the Map items; start the execution.

    A refused input is recorded as a failed job (with the one-line reason) and starts nothing.
    """
    began = time.perf_counter()
    job = layout.job_name(key, etag)
    if read_status(store, job) is not None:
        return Started(job, "duplicate")
    timer = StageTimer()
    try:
        settings = job_settings(os.environ.get("DEFAULT_SETTINGS"), store.head(key).get("Metadata", {}))
        fmt = output_format(settings.codec, Path("output"))
        source = store.download(key, tmp / local_name(key))
        with timer.stage("probe"):
            info = open_source(source)
        with timer.stage("plan"):
            plan = plan_segments(info, settings.segment_seconds)
            audio = plan_audio(info, settings, fmt)
        segment_files = None
        with timer.stage("split"):
            if plan.split_path == "copy":
                assert info.video
                segment_files = split_source(plan, info.video, source, tmp)
        with timer.stage("audio"):
            if audio:
                run_ffmpeg(audio_args(audio, info, tmp / audio.file_name))
    except SplitstitchError as exc:
        write_status(store, job, FAILED, source_key=key, reason=str(exc).replace(str(tmp / local_name(key)), key))
        return Started(job, "failed", reason=str(exc))
    for path in segment_files or []:
        store.upload(path, layout.work_key(job, path.name))
    if audio:
        store.upload(tmp / audio.file_name, layout.work_key(job, audio.file_name))
    manifest = JobManifest(
        job=job, source_key=key, output_key=layout.output_key(key, fmt.extension), source_name=source.name,
        settings=settings, info=replace(info, path=f"s3://{store.bucket}/{key}"), plan=plan, audio=audio,
        segment_files=tuple(p.name for p in segment_files) if segment_files else None, created=time.time(),
    )  # fmt: skip
    store.put_json(layout.manifest_key(job), manifest.to_dict())
    store.put_json(layout.items_key(job), [{"job": job, "index": s.index} for s in plan.longest_first()])
    split = {"seconds": round(time.perf_counter() - began, 3), "memory_mb": memory_mb, "arch": arch()}
    write_status(store, job, RUNNING, source_key=key, output_key=manifest.output_key, segments=len(plan.segments),
                 split_path=plan.split_path, split_reason=plan.reason, split=split, stages_s=timer.as_dict())  # fmt: skip
    execution_input = {"job": job, "bucket": store.bucket, "items_key": layout.items_key(job)}
    try:
        sfn.start_execution(stateMachineArn=state_machine_arn, name=job, input=json.dumps(execution_input))
    except sfn.exceptions.ExecutionAlreadyExists:
        return Started(job, "duplicate", len(plan.segments), plan.split_path)
    return Started(job, "started", len(plan.segments), plan.split_path)


def encode_one(store: S3Store, job: str, index: int, tmp: Path, memory_mb: int) -> EncodedSegment:
    """Encode-segment step: one segment in (its split file, or the whole source on the decode path)."""
    began = time.perf_counter()
    m = JobManifest.from_dict(store.get_json(layout.manifest_key(job)))
    assert m.info.video
    segment = m.plan.segments[index]
    if m.segment_files is not None:
        segment_file = store.download(layout.work_key(job, m.segment_files[index]), tmp / m.segment_files[index])
        source = segment_file
    else:  # decode path: every encoder reads (and so downloads) the source; see docs/cloud.md for the cost
        segment_file, source = None, store.download(m.source_key, tmp / m.source_name)
    out = tmp / encoded_name(index)
    encoded = encode_segment(m.settings, m.info.video, segment, segment_file=segment_file, source=source,
                             source_start=m.info.start_time, output=out)  # fmt: skip
    metadata = {"encoded": json.dumps({k: v for k, v in asdict(encoded).items() if k != "path"}),
                "lambda-seconds": f"{time.perf_counter() - began:.3f}", "memory-mb": str(memory_mb), "arch": arch()}  # fmt: skip
    store.s3.upload_file(str(out), store.bucket, layout.work_key(job, out.name), ExtraArgs={"Metadata": metadata})
    return encoded


def _download_encoded(store: S3Store, job: str, index: int, folder: Path) -> tuple[EncodedSegment, dict[str, str]]:
    name = encoded_name(index)
    obj = store.s3.get_object(Bucket=store.bucket, Key=layout.work_key(job, name))
    path = folder / name
    with path.open("wb") as f:
        for chunk in obj["Body"].iter_chunks(1 << 20):
            f.write(chunk)
    meta = obj.get("Metadata", {})
    encoded = EncodedSegment(**{**json.loads(meta["encoded"]), "path": str(path)})  # the core's own fields
    return encoded, meta


def s3_requests(m: JobManifest, retries: int = 0) -> tuple[int, int]:
    """(PUT-class, GET-class) requests of one job, counted from what the steps do (see cost.py)."""
    n, copy, audio = len(m.plan.segments), m.segment_files is not None, m.audio is not None
    puts = 1 + (n if copy else 0) + audio + 2 + 2 + (n + retries) + 2 + 1 + 2  # upload, segs, audio, manifest+items,
    # status x2, encoded, output+report, final status, list+delete
    gets = 3 + 1 + 2 * (n + retries) + 3 + n + audio  # head+status+source, items, manifest+input per encode,
    # manifest+status x2 in stitch, encoded, audio
    return puts, gets


def job_cost(m: JobManifest, status: dict[str, Any], metas: list[dict[str, str]], stitch_s: float,
             memory_mb: int, work_bytes: int, hours: float) -> dict[str, Any]:  # fmt: skip
    split = status.get("split", {})
    invocations = [cost.Invocation("split", int(split.get("memory_mb", 0)), float(split.get("seconds", 0)),
                                   split.get("arch", "x86_64"))]  # fmt: skip
    invocations += [
        cost.Invocation("encode_segment", int(meta.get("memory-mb", 0)), float(meta.get("lambda-seconds", 0)),
                        meta.get("arch", "x86_64"))  # type: ignore[arg-type]
        for meta in metas
    ]  # fmt: skip
    invocations.append(cost.Invocation("stitch", memory_mb, stitch_s, arch()))
    puts, gets = s3_requests(m)
    usage = cost.JobUsage(tuple(invocations), len(metas), 0, puts, gets, work_bytes, hours)
    return cost.estimate(usage)


CONTENT_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
                 ".webm": "video/webm"}  # fmt: skip


def stitch_job(store: S3Store, job: str, tmp: Path, memory_mb: int) -> dict[str, Any]:
    """Stitch step: concat + audio mux + the core's verification; output, report and status; work/ removed."""
    began = time.perf_counter()
    m = JobManifest.from_dict(store.get_json(layout.manifest_key(job)))
    fmt = output_format(m.settings.codec, Path("output"))
    timer = StageTimer()
    timer.seconds.update((read_status(store, job) or {}).get("stages_s", {}))
    folder = tmp / "enc"
    folder.mkdir()
    pairs = [_download_encoded(store, job, s.index, folder) for s in m.plan.segments]
    encoded, metas = [e for e, _ in pairs], [meta for _, meta in pairs]
    timer.add("encode", max(float(meta.get("lambda-seconds", 0)) for meta in metas))
    audio_input = None
    if m.audio:
        audio_input = (m.audio, store.download(layout.work_key(job, m.audio.file_name), tmp / m.audio.file_name))
    partial = tmp / f"output{fmt.extension}"
    with timer.stage("stitch"):
        stitch_segments(m.plan, [Path(e.path) for e in encoded], audio_input, m.settings.codec, fmt, partial)
    with timer.stage("verify"):
        # each encode Lambda decoded its own segment; here: packet identity with them + audio decode
        verification = verify_output(m.info, partial, m.audio, [Path(e.path) for e in encoded])
    status = read_status(store, job) or {}
    timer.add("total", time.time() - status.get("created", time.time()))
    report = build_report(m.info, partial, Path(m.output_key), m.settings, m.plan, m.audio, encoded, timer,
                          verification, len(m.plan.segments))  # fmt: skip
    report["output"]["path"] = f"s3://{store.bucket}/{m.output_key}"
    if not verification.ok:
        raise VerificationError(verification.failed(), report)
    store.upload(partial, m.output_key, CONTENT_TYPES.get(fmt.extension, "application/octet-stream"))
    report_key = layout.report_key(m.output_key)
    work_bytes = sum(e.bytes for e in encoded) + partial.stat().st_size
    hours = (time.time() - m.created) / 3600
    report["cost"] = job_cost(m, status, metas, time.perf_counter() - began, memory_mb, work_bytes, hours)
    store.put_json(report_key, report)
    final = write_status(store, job, SUCCEEDED, output_key=m.output_key, report_key=report_key,
                         timings_s=report["timings_s"], cost=report["cost"])  # fmt: skip
    store.delete_prefix(layout.work_prefix(job))
    return final


def record_failure(store: S3Store, job: str, error: dict[str, Any] | None) -> dict[str, Any]:
    """Catch step: the job is failed with a one-line reason; nothing is written to outputs/."""
    return write_status(store, job, FAILED, reason=failure_reason(error))
