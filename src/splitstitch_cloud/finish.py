"""The finish step on S3: a single file assembled by parallel part uploads (verified before it may appear), or
a streaming package whose media segments are copied on the server and whose manifests are written last;
then the report and the status, and work/<job>/ removed."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from splitstitch import stages, streaming
from splitstitch.errors import VerificationError
from splitstitch.job import Job
from splitstitch.report import StageTimer, build_report, build_stream_report
from splitstitch_cloud import contract, usage
from splitstitch_cloud.jobs import RUNNING, SUCCEEDED, write_status
from splitstitch_cloud.steps import output_key_of
from splitstitch_cloud.storage import MultipartSink, S3Storage, S3Store, S3Writer

USAGE_READERS = 32  # usage records read at once (one GET each)


def finish(store: S3Store, job_id: str, memory_mb: int) -> dict[str, Any]:
    """Publish the job's output, verified from the bytes written; write the report and the status."""
    began, init_s = time.perf_counter(), usage.init_seconds()
    status = write_status(store, job_id, RUNNING, stage="finish")
    job = Job.from_dict(store.get_json(contract.job_key(job_id)))
    output_key = status.get("output_key") or output_key_of(job, job.source)
    storage = S3Storage(store, job_id)
    if job.settings.streaming:
        folder = output_key.rsplit("/", 1)[0] + "/"
        writer = S3Writer(store, job_id, folder)
        packaged = streaming.finish_streaming(job, storage, writer, output_key.rsplit("/", 1)[1])
        verification, size, requests = packaged.verification, packaged.size, writer.requests
    else:
        sink = MultipartSink(store, output_key, contract.CONTENT_TYPES.get(job.output.extension, "video/mp4"))
        finished = stages.finish(job, storage, sink, f"s3://{store.bucket}/{output_key}")
        verification, size, requests = finished.verification, finished.size, sink.requests
    with ThreadPoolExecutor(max_workers=USAGE_READERS) as pool:
        records = list(pool.map(store.get_json, store.keys(contract.work_key(job_id, "usage/"))))
    ok = [u for u in records if u.get("ok", True)]
    timer = StageTimer()
    timer.add("prepare", float((status.get("prepare") or {}).get("seconds", 0.0)))
    timer.add("encode", max((u["seconds"] for u in ok if u["function"] == "encode_segment"), default=0.0))
    timer.add("audio", max((u["seconds"] for u in ok if u["function"] == "encode_audio"), default=0.0))
    timer.add("finish", time.perf_counter() - began)
    timer.add("total", time.time() - job.created)
    executor = {"kind": "lambda", "functions": len(records) + 2, "output_requests": requests}
    where = f"s3://{store.bucket}/{output_key}"
    if job.settings.streaming:
        report = build_stream_report(job, packaged, where, timer, executor, verification)
    else:
        report = build_report(job, finished, where, timer, executor, verification)
    if not verification.ok:
        if job.settings.streaming:  # nothing of a package that failed may stay under outputs/
            store.delete_prefix(output_key.rsplit("/", 1)[0] + "/")
        raise VerificationError(verification.failed(), report)
    mine = usage.record("finish", memory_mb, began, init_s, True, s3_puts=requests + 4,
                        s3_gets=storage.gets + len(records) + 4)  # fmt: skip
    all_records = [r for r in (status.get("prepare"), *records, mine) if r]
    report["source_reads"] = usage.source_read_report(status.get("prepare"), records, store.source_bytes,
                                                      job.info.size)  # fmt: skip
    report["cost"] = usage.job_cost(all_records, len(job.tasks()), size, time.time() - job.created,
                                    len(job.audio_plans()))  # fmt: skip
    report_key = contract.report_key(output_key)
    store.put_json(report_key, report)
    final = write_status(store, job_id, SUCCEEDED, stage="done", output_key=output_key, report_key=report_key,
                         timings_s=report["timings_s"], cost=report["cost"], reason=None)  # fmt: skip
    store.delete_prefix(contract.work_prefix(job_id))
    return final
