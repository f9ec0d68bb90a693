"""Measurements on this machine: one ffmpeg command ("laptop"), the local pipeline (optionally restricted
to some CPUs), and every segment through the core's `encode_segment` at one encoder thread.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from splitstitch.benchmark.model import SegmentMeasure, StageTimes
from splitstitch.benchmark.procs import pinned
from splitstitch.codecs import ENCODER
from splitstitch.encode import encode_segment
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import open_source
from splitstitch.media import MediaInfo
from splitstitch.pipeline import transcode
from splitstitch.plan import Plan, plan_segments
from splitstitch.report import children_cpu_seconds
from splitstitch.settings import Settings
from splitstitch.split import split_source


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_s: float
    output_bytes: int
    report: dict[str, Any] | None = None

    @property
    def busy_cpus(self) -> float:
        return self.cpu_s / self.seconds if self.seconds else 0.0


def single_command_args(source: Path, settings: Settings, output: Path) -> list[str]:
    """The one-command baseline with the pipeline's settings; the encoder picks its own thread count."""
    args = ["-i", f"file:{source}", "-c:v", ENCODER[settings.codec], "-preset", settings.preset,
            "-crf", str(settings.effective_crf)]  # fmt: skip
    if settings.height:
        args += ["-vf", f"scale=-2:{settings.height - settings.height % 2}"]
    return [*args, "-c:a", "aac", f"file:{output}"]


def measure_laptop(source: Path, settings: Settings, output: Path) -> Run:
    cpu0, started = children_cpu_seconds(), time.perf_counter()
    run_ffmpeg(single_command_args(source, settings, output))
    seconds = time.perf_counter() - started
    return Run(seconds, children_cpu_seconds() - cpu0, output.stat().st_size)


def measure_local(
    source: Path, settings: Settings, output: Path, *, workers: int, cpus: set[int] | None = None,
    work_root: Path | None = None,
) -> Run:  # fmt: skip
    cpu0, started = children_cpu_seconds(), time.perf_counter()
    if cpus:
        with pinned(cpus):
            result = transcode(source, output, settings, workers=workers, work_root=work_root)
    else:
        result = transcode(source, output, settings, workers=workers, work_root=work_root)
    seconds = time.perf_counter() - started
    return Run(seconds, children_cpu_seconds() - cpu0, output.stat().st_size, result.report)


def stage_times(report: dict[str, Any], output_bytes: int) -> StageTimes:
    t = report["timings_s"]
    audio = report.get("audio")
    duration = report["source"]["duration_s"] or 0.0
    audio_bytes = 0
    if audio:
        kbps = sum(int(str(b).rstrip("k")) for b in audio["bitrates"])
        audio_bytes = int(kbps * 1000 / 8 * duration)
    return StageTimes(
        probe_plan_s=t["probe"] + t["plan"], split_s=t["split"], audio_s=t["audio"], stitch_s=t["stitch"],
        verify_s=t["verify"], source_bytes=report["source"]["bytes"], output_bytes=output_bytes,
        audio_bytes=audio_bytes, has_audio=bool(audio),
    )  # fmt: skip


@dataclass(frozen=True)
class SegmentRun:
    segments: list[SegmentMeasure]
    thread_efficiency: float  # extra speed from a second thread, as a fraction of one thread
    efficiency_probe: dict[str, float]


def _encode_jobs(info: MediaInfo, plan: Plan, settings: Settings, source: Path, work: Path) -> list[tuple]:
    assert info.video
    files = split_source(plan, info.video, source, work) if plan.split_path == "copy" else None
    jobs = []
    for seg in plan.longest_first():
        seg_file = files[seg.index] if files else None
        in_bytes = seg_file.stat().st_size if seg_file else int(info.size * seg.duration_seconds / info.video_seconds())
        jobs.append((seg, seg_file, in_bytes))
    return jobs


def measure_segments(source: Path, settings: Settings, cpus: list[int], work_root: Path | None = None) -> SegmentRun:
    """Every segment through the core's `encode_segment` (encode and its checks, what a worker does) at one
    encoder thread, `len(cpus)` at a time like the local pool. Wall seconds are per segment; CPU seconds are
    measured for the batch and shared out in proportion to wall time. Then the longest segment again at two
    threads pinned to two CPUs, for the thread scaling the Lambda model needs above 1 vCPU."""
    info = open_source(source)
    assert info.video
    video = info.video
    plan = plan_segments(info, settings.segment_seconds)
    work = Path(tempfile.mkdtemp(prefix="splitstitch-bench-", dir=work_root))
    try:
        jobs = _encode_jobs(info, plan, settings, source, work)

        def encode(job: tuple, threads: int, tag: str = "") -> tuple[float, int]:
            seg, seg_file, _ = job
            cfg = dataclasses.replace(settings, encoder_threads=threads)
            started = time.perf_counter()
            done = encode_segment(cfg, video, seg, segment_file=seg_file, source=source,
                                  source_start=info.start_time, output=work / f"enc{tag}_{seg.name}.mp4")  # fmt: skip
            return time.perf_counter() - started, done.bytes

        cpu0 = children_cpu_seconds()
        with ThreadPoolExecutor(max_workers=len(cpus)) as pool:
            results = list(pool.map(lambda job: encode(job, 1), jobs))
        batch_cpu = children_cpu_seconds() - cpu0
        walls = sum(wall for wall, _ in results) or 1.0
        segments = [
            SegmentMeasure(job[0].index, round(wall, 4), round(batch_cpu * wall / walls, 4), job[2], size)
            for job, (wall, size) in zip(jobs, results, strict=True)
        ]
        probe: dict[str, float] = {"batch_cpu_s": round(batch_cpu, 3), "batch_wall_sum_s": round(walls, 3)}
        efficiency = 0.0
        if len(cpus) >= 2:
            cpu0 = children_cpu_seconds()
            with pinned({cpus[0]}):
                wall1, _ = encode(jobs[0], 1, tag="1t")
            cpu1 = children_cpu_seconds() - cpu0
            with pinned(set(cpus[:2])):
                wall2, _ = encode(jobs[0], 2, tag="2t")
            efficiency = min(max(wall1 / wall2 - 1.0, 0.0), 1.0)
            probe |= {"segment": jobs[0][0].index, "wall_1_thread_1_cpu_s": round(wall1, 4),
                      "cpu_1_thread_s": round(cpu1, 4), "wall_2_threads_2_cpus_s": round(wall2, 4)}  # fmt: skip
        return SegmentRun(sorted(segments, key=lambda m: m.index), round(efficiency, 4), probe)
    finally:
        shutil.rmtree(work, ignore_errors=True)
