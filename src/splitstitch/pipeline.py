"""The local executor of the stage graph (see stages.py): prepare, then the audio job and every segment
(longest first) on a pool of N workers, then finish into a file beside OUT.

The output is written under a temporary name beside OUT and moved into place only after verification
passes; the work folder always goes, on success, failure and Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitstitch import stages, streaming, streaming_local
from splitstitch.audio import MAIN, AudioPlan
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment, SegmentTask
from splitstitch.errors import ToolError, UsageError, VerificationError
from splitstitch.inputs import Limits, check_file
from splitstitch.interlace import FIRST_DISPLAYED
from splitstitch.job import Job
from splitstitch.plan import Fanout
from splitstitch.progress import SILENT, Progress
from splitstitch.report import StageTimer, build_report, build_stream_report, write_json_atomic
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.stitch import remux
from splitstitch.storage import LocalStorage
from splitstitch.verify import Check, Verification, compare, decode_check, probe_output, report_checks

log = logging.getLogger(__name__)

SEGMENT_RETRIES = 1
SEGMENTS_PER_WORKER = 3.0  # the longest-first pool then ends with every worker busy until near the end
LOCAL_MAX_SEGMENT_S = 30.0


@dataclass(frozen=True)
class JobResult:
    output: Path
    report: dict[str, Any]
    verification: Verification


def local_fanout(workers: int) -> Fanout:
    return Fanout(concurrency=workers, segments_per_encoder=SEGMENTS_PER_WORKER, min_seconds=1.0,
                  max_seconds=LOCAL_MAX_SEGMENT_S, vcpus=1.0, spare_cores_to_encoders=True)  # fmt: skip


def check_paths(source: Path, output: Path) -> None:
    if output.exists() and output.is_dir():
        raise UsageError(f"{output}: is a folder")
    if not output.parent.is_dir():
        raise UsageError(f"{output}: folder {output.parent} does not exist")
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise UsageError(f"{output}: would overwrite the source")


class FileSink:
    """Parts written in order to one file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write_parts(self, count: int, build: Callable[[int], bytes], commit: Callable[[], bool]) -> bool:
        """The file stays under its temporary name; the caller moves it into place (or deletes it)."""
        with self.path.open("wb") as f:
            for i in range(count):
                f.write(build(i))
        return commit()


def _with_retry(run: Callable[[], Any], what: str) -> Any:
    for attempt in range(SEGMENT_RETRIES + 1):
        try:
            return run()
        except ToolError:
            if attempt == SEGMENT_RETRIES:
                raise
            log.warning("%s failed, retrying", what)
    raise AssertionError("unreachable")


def run_pool(
    job: Job, source: MediaSource, store: LocalStorage, work: Path, workers: int, timer: StageTimer,
    progress: Progress,
) -> None:  # fmt: skip
    """Audio first (each plan once, whole file), then every segment (of every rung) longest first; the first
    failure cancels the rest."""

    def audio_job(plan: AudioPlan) -> None:
        started, reporter = time.perf_counter(), progress.reporter(audio_key(plan))
        _with_retry(lambda: stages.encode_audio(plan, source, store, work, reporter), f"audio {plan.name}")
        timer.add("audio", time.perf_counter() - started)

    def segment_job(task: SegmentTask) -> EncodedSegment:
        reporter = progress.reporter(task_key(task))
        return _with_retry(
            lambda: stages.encode_segment(task, source, store, work, reporter), f"segment {task_key(task)}"
        )

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encode") as pool:
        futures: list[Future[Any]] = [pool.submit(audio_job, plan) for plan in job.audio_plans()]
        futures += [pool.submit(segment_job, task) for task in job.tasks()]
        pending = set(futures)
        try:
            while pending:
                _, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in _:
                    future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise


def task_key(task: SegmentTask) -> str:
    return f"{task.rung}/{task.segment.name}" if task.rung else task.segment.name


def audio_key(plan: AudioPlan) -> str:
    return "audio" if plan.name == MAIN else f"audio {plan.name}"


def independent_checks(job: Job, written: Path, full: bool) -> list:
    """ffprobe's view of the written file against the source, and (full) a decode of all of it."""
    out = probe_output(written)
    checks = [replace_name(c, "probe_") for c in compare(job.info, out, job.audio)]
    if job.interlace and job.interlace.deinterlace and out.video:
        order = out.video.field_order
        checks.append(Check("probe_progressive", order not in FIRST_DISPLAYED, f"deinterlaced; field order {order}"))
    if full:
        checks.append(decode_check(written, out.video.codec if out.video else "", name="output_decodes_cleanly"))
    return checks


def replace_name(check: Any, prefix: str) -> Any:
    return type(check)(prefix + check.name, check.ok, check.detail)


def transcode(
    source: Path,
    output: Path,
    settings: Settings,
    *,
    workers: int | None = None,
    limits: Limits | None = None,
    work_root: Path | None = None,
    progress: Progress = SILENT,
    force: bool = False,
    entry: str | None = None,
) -> JobResult:
    """Transcode `source` to `output` (a file, or for streaming a folder); raises a `SplitstitchError`
    subclass on any failure, and leaves nothing at `output` then."""
    if settings.streaming:
        streaming_local.check_target(output, force, source)
    else:
        check_paths(source, output)
    fmt = output_format(settings.codec, Path("package.mp4") if settings.streaming else output)
    workers = workers or os.cpu_count() or 1
    timer = StageTimer()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="splitstitch-", dir=work_root))
    if settings.streaming:
        partial = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial", dir=output.parent))
    else:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".partial{fmt.extension}",
                                        dir=output.parent)  # fmt: skip
        os.close(fd)
        partial = Path(tmp_name)
    try:
        progress.stage("prepare")
        with timer.stage("prepare"):
            head = check_file(source, limits or Limits())
            media = MediaSource.local(source)
            store = LocalStorage(work / "store")
            job = stages.prepare(uuid.uuid4().hex[:12], media, settings, fmt, local_fanout(workers), store=store,
                                 work=work, limits=limits, head=head)  # fmt: skip
            media = store.media(job.rebuilt) if job.rebuilt else media
        seconds = {s.index: s.duration_seconds for s in job.plan.segments}
        parts = {task_key(t): seconds[t.segment.index] for t in job.tasks()}
        progress.stage("encode", parts, tuple(audio_key(p) for p in job.audio_plans()))
        with timer.stage("encode"):
            run_pool(job, media, store, work, workers, timer, progress)
        if settings.streaming:
            return _package(job, store, partial, output, timer, started, workers, progress, entry)
        progress.stage("finish")
        with timer.stage("finish"):
            assembled = partial if fmt.fragmented else work / "assembled.mp4"
            finished = stages.finish(job, store, FileSink(assembled), str(output))
            checks = list(finished.verification.checks)
        progress.stage("verify")
        with timer.stage("verify"):
            if not fmt.fragmented:
                remux(assembled, fmt, partial)
            if not fmt.fragmented or settings.verify == "full":
                checks += independent_checks(job, partial, full=settings.verify == "full")
            verification = report_checks(checks)
        timer.add("total", time.perf_counter() - started)
        executor = {"kind": "local", "workers": workers}
        report = build_report(job, finished, str(output), timer, executor, verification)
        if not verification.ok:
            raise VerificationError(verification.failed(), report)
        os.replace(partial, output)
        return JobResult(output, report, verification)
    finally:
        if partial.is_dir():
            shutil.rmtree(partial, ignore_errors=True)
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _package(
    job: Job, store: LocalStorage, built: Path, output: Path, timer: StageTimer, started: float, workers: int,
    progress: Progress, entry: str | None,
) -> JobResult:  # fmt: skip
    """The streaming finish: the package written into `built`, verified, then swapped in at `output`."""
    progress.stage("finish")
    with timer.stage("finish"):
        packaged = streaming.finish_streaming(job, store, streaming_local.FolderWriter(built), entry)
    progress.stage("verify")
    with timer.stage("verify"):
        assert job.info.frames
        checks = [
            *packaged.verification.checks,
            *streaming_local.playback_checks(built, packaged, job.info.frames.count),
        ]
        verification = report_checks(checks)
    timer.add("total", time.perf_counter() - started)
    report = build_stream_report(job, packaged, str(output), timer, {"kind": "local", "workers": workers},
                                 verification)  # fmt: skip
    if not verification.ok:
        raise VerificationError(verification.failed(), report)
    streaming_local.place(built, output)
    return JobResult(output / packaged.entry, report, verification)


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_json_atomic(path, report)
