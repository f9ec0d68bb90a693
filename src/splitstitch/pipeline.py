"""The local runner: probe -> plan -> split -> encode segments on a worker pool (+ audio once) -> stitch -> verify.

Every stage is a core function that the Lambda handlers call too. The output is written under a temporary
name beside OUT and moved into place only after verification passes; the work folder always goes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from splitstitch import __version__
from splitstitch.audio import AudioPlan, audio_args, plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment, encode_segment, encoded_name
from splitstitch.errors import ToolError, UsageError, VerificationError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import Limits, open_source, rebuild_timeline
from splitstitch.media import MediaInfo, probe_streams
from splitstitch.plan import Plan, Segment, plan_segments
from splitstitch.report import StageTimer, describe, write_json_atomic
from splitstitch.settings import Settings
from splitstitch.split import split_source
from splitstitch.stitch import stitch_segments
from splitstitch.verify import Verification, verify_output

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
SEGMENT_RETRIES = 1


@dataclass(frozen=True)
class JobResult:
    output: Path
    report: dict[str, Any]
    verification: Verification


def _noop(stage: str, done: int, total: int) -> None:
    return None


def spare_cores_to_encoders(settings: Settings, workers: int, segments: int) -> Settings:
    """Fewer segments than workers (short or long-GOP sources) would leave cores idle: give every encoder
    the same larger thread count instead, so the parameters stay identical across segments."""
    threads = max(settings.encoder_threads, workers // max(segments, 1))
    if threads != settings.encoder_threads:
        log.info("%d segments for %d workers: %d encoder threads each", segments, workers, threads)
        return replace(settings, encoder_threads=threads)
    return settings


def check_paths(source: Path, output: Path) -> None:
    if output.exists() and output.is_dir():
        raise UsageError(f"{output}: is a folder")
    if not output.parent.is_dir():
        raise UsageError(f"{output}: folder {output.parent} does not exist")
    if source.exists() and output.exists() and source.resolve() == output.resolve():
        raise UsageError(f"{output}: would overwrite the source")


def _encode_with_retry(
    settings: Settings, info: MediaInfo, segment: Segment, segment_file: Path | None, out: Path
) -> EncodedSegment:
    assert info.video
    for attempt in range(SEGMENT_RETRIES + 1):
        try:
            return encode_segment(
                settings, info.video, segment, segment_file=segment_file, source=Path(info.path),
                source_start=info.start_time, output=out,
            )  # fmt: skip
        except ToolError:
            if attempt == SEGMENT_RETRIES:
                raise
            log.warning("segment %s failed, retrying", segment.name)
    raise AssertionError("unreachable")


def _run_pool(
    info: MediaInfo, plan: Plan, settings: Settings, audio: AudioPlan | None, work: Path, workers: int,
    segment_files: list[Path] | None, timer: StageTimer, progress: Progress,
) -> list[EncodedSegment]:  # fmt: skip
    """Audio first (one job, whole file), then segments longest first; the first failure cancels the rest."""
    done: dict[int, EncodedSegment] = {}
    total = len(plan.segments)

    def audio_job() -> None:
        assert audio
        started = time.perf_counter()
        run_ffmpeg(audio_args(audio, info, work / audio.file_name))
        timer.add("audio", time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="encode") as pool:
        futures: list[Future[Any]] = [pool.submit(audio_job)] if audio else []
        for segment in plan.longest_first():
            source_file = segment_files[segment.index] if segment_files else None
            out = work / encoded_name(segment.index)
            futures.append(pool.submit(_encode_with_retry, settings, info, segment, source_file, out))
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    result = future.result()
                    if isinstance(result, EncodedSegment):
                        done[result.index] = result
                        progress("encode", len(done), total)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [done[s.index] for s in plan.segments]


def transcode(
    source: Path,
    output: Path,
    settings: Settings,
    *,
    workers: int | None = None,
    limits: Limits | None = None,
    work_root: Path | None = None,
    progress: Progress = _noop,
) -> JobResult:
    """Transcode `source` to `output`; raises a `SplitstitchError` subclass on any failure."""
    check_paths(source, output)
    fmt = output_format(settings.codec, output)
    workers = workers or os.cpu_count() or 1
    timer = StageTimer()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="splitstitch-", dir=work_root))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".partial{fmt.extension}", dir=output.parent)
    os.close(fd)
    partial = Path(tmp_name)
    try:
        progress("probe", 0, 1)
        with timer.stage("probe"):
            info = rebuild_timeline(open_source(source, limits), work, limits)  # restarts: read a rebuilt copy
        with timer.stage("plan"):
            plan = plan_segments(info, settings.segment_seconds)
            audio = plan_audio(info, settings, fmt)
            settings = spare_cores_to_encoders(settings, workers, len(plan.segments))
        segment_files = None
        progress("split", 0, len(plan.segments))
        with timer.stage("split"):
            if plan.split_path == "copy":
                assert info.video
                segment_files = split_source(plan, info.video, Path(info.path), work)
        progress("encode", 0, len(plan.segments))
        with timer.stage("encode"):
            encoded = _run_pool(info, plan, settings, audio, work, workers, segment_files, timer, progress)
        progress("stitch", 0, 1)
        with timer.stage("stitch"):
            audio_input = (audio, work / audio.file_name) if audio else None
            stitch_segments(plan, [Path(e.path) for e in encoded], audio_input, settings.codec, fmt, partial)
        progress("verify", 0, 1)
        with timer.stage("verify"):
            verification = verify_output(info, partial, audio, [Path(e.path) for e in encoded])
        timer.add("total", time.perf_counter() - started)
        report = build_report(info, partial, output, settings, plan, audio, encoded, timer, verification, workers)
        if not verification.ok:
            raise VerificationError(verification.failed(), report)
        os.replace(partial, output)
        return JobResult(output, report, verification)
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def build_report(
    info: MediaInfo, written: Path, output: Path, settings: Settings, plan: Plan, audio: AudioPlan | None,
    encoded: list[EncodedSegment], timer: StageTimer, verification: Verification, workers: int,
) -> dict[str, Any]:  # fmt: skip
    # the output as verification probed it; probed here only for a Verification made without one
    out_info = describe(verification.output or probe_streams(written)) | {"path": str(output)}
    by_index = {e.index: e for e in encoded}
    segments = [
        {"index": s.index, "start_s": round(s.start_seconds, 6), "duration_s": round(s.duration_seconds, 6),
         "start_frame": s.start_frame, "frames": s.frames, "split_path": plan.split_path,
         "encode_seconds": by_index[s.index].seconds, "decode_check_seconds": by_index[s.index].decode_seconds,
         "bytes": by_index[s.index].bytes}
        for s in plan.segments
    ]  # fmt: skip
    return {
        "tool": "splitstitch",
        "version": __version__,
        "status": "succeeded" if verification.ok else "failed",
        "source": describe(info) | ({"path": info.rebuilt_from} if info.rebuilt_from else {}),
        "output": out_info,
        "settings": settings.to_dict(),
        "workers": workers,
        "plan": {"split_path": plan.split_path, "reason": plan.reason, "target_seconds": plan.target_seconds,
                 "segments": segments},
        "audio": audio.to_dict() if audio else None,
        "timings_s": timer.as_dict(),
        "cpu_seconds": timer.cpu_dict(),  # of the ffmpeg/ffprobe processes each stage ran
        "verification": verification.to_dict(),
        "timeline": [join.to_dict() for join in info.timeline],  # where a rebuilt timeline joins the source's runs
    }  # fmt: skip


def write_report(path: Path, report: dict[str, Any]) -> None:
    write_json_atomic(path, report)
