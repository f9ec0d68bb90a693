"""Measurements on this machine, each under a CPU quota: the core's own stages (`splitstitch.stages`), the
local executor (`splitstitch.pipeline`), and one ffmpeg command. Processes are started only by
`splitstitch.ffmpeg`; quotas come from cgroup.py.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from splitstitch import stages, streaming
from splitstitch.audio import AudioPlan
from splitstitch.codecs import ENCODER, output_format
from splitstitch.encode import EncodedSegment, SegmentTask
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.inputs import Limits, check_file
from splitstitch.job import Job
from splitstitch.pipeline import FileSink, run_pool, transcode
from splitstitch.plan import Fanout
from splitstitch.progress import SILENT
from splitstitch.report import StageTimer
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.storage import LocalStorage
from splitstitch.streaming_local import FolderWriter
from splitstitch_bench import cgroup
from splitstitch_bench.cpufit import Sample

T = TypeVar("T")


@dataclass(frozen=True)
class Timed:
    wall_s: float
    cpu_s: float
    throttled_s: float = 0.0
    throttled_at: float | None = None


def timed(vcpus: float | None, run: Callable[[], T], credits: cgroup.CreditPlan | None = None) -> tuple[T, Timed]:
    """`run()` in a cgroup at `vcpus` (None: no quota); wall and CPU seconds of everything it started."""
    with cgroup.quota(vcpus) as group:
        used, started = group.usage_s(), time.perf_counter()
        if credits is None:
            result = run()
            at = None
        else:
            with cgroup.CreditThrottle(group, credits) as throttle:
                result = run()
            at = throttle.throttled_at
        wall = time.perf_counter() - started
        return result, Timed(wall, group.usage_s() - used, group.throttled_s(), at)


def single_command_args(source: Path, settings: Settings, output: Path) -> list[str]:
    """One ffmpeg doing the whole job ("laptop"): the same encoder settings, x264 choosing its threads, an output
    that plays while it downloads like ours (`+faststart`; issue 7's baseline command)."""
    return ["-i", f"file:{source}", "-c:v", ENCODER[settings.codec], "-preset", settings.preset,
            "-crf", str(settings.effective_crf), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
            "-movflags", "+faststart", "-f", "mp4", f"file:{output}"]  # fmt: skip


def laptop(source: Path, settings: Settings, output: Path) -> Timed:
    _, t = timed(None, lambda: run_ffmpeg(single_command_args(source, settings, output), timeout=7200))
    return t


def prepare(source: Path, settings: Settings, fanout: Fanout, vcpus: float | None) -> tuple[Job, Timed]:
    """The prepare stage (probe, packet scan, plan) on a local file."""
    media = MediaSource.local(source)
    fmt = output_format(settings.codec, Path("out.mp4"))

    def run() -> Job:
        head = check_file(source, Limits())
        with tempfile.TemporaryDirectory(prefix="splitstitch-bench-") as tmp:
            return stages.prepare(uuid.uuid4().hex[:8], media, settings, fmt, fanout, store=LocalStorage(Path(tmp)),
                                  work=Path(tmp), head=head)  # fmt: skip

    return timed(vcpus, run)


def encode_segment(job: Job, index: int, threads: int, vcpus: float | None, work: Path) -> Timed:
    """One segment through `stages.encode_segment` (encode, frame checks, decode check, store)."""
    return encode_task(job, dataclasses.replace(job.segment_task(index), threads=threads), vcpus, work)[1]


def encode_task(job: Job, task: SegmentTask, vcpus: float | None, work: Path) -> tuple[EncodedSegment, Timed]:
    """One encode (a segment, or a segment of one rung) through `stages.encode_segment`: its result and time."""
    media = MediaSource.local(Path(job.source))
    folder = work / f"enc-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        return timed(vcpus, lambda: stages.encode_segment(task, media, LocalStorage(folder / "store"), folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def cut(source: Path, seconds: float, out: Path) -> Path:
    """The first `seconds` of `source`, stream-copied (a second, shorter length for a fit)."""
    run_ffmpeg(["-y", "-i", str(source), "-t", f"{seconds:.3f}", "-map", "0", "-c", "copy", str(out)])
    return out


def encode_audio(job: Job, vcpus: float | None, work: Path, plan: AudioPlan | None = None) -> Timed:
    """The audio plan of a file job (or `plan`, a streaming rendition) through `stages.encode_audio`."""
    chosen = plan or job.audio
    assert chosen is not None
    media = MediaSource.local(Path(job.source))
    folder = work / f"aud-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    try:
        _, t = timed(vcpus, lambda: stages.encode_audio(chosen, media, LocalStorage(folder / "store"), folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return t


class CountingStorage(LocalStorage):
    """LocalStorage that counts reads: the finish stage's requests, as S3 would see them."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.gets: list[tuple[str, int]] = []

    def get_bytes(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        data = super().get_bytes(name, offset, size)
        self.gets.append((name, len(data)))
        return data


@dataclass(frozen=True)
class Stored:
    """A job whose segments and audio are encoded and stored, ready for the finish stage."""

    job: Job
    store: CountingStorage
    folder: Path


def stored_job(job: Job, folder: Path, workers: int) -> Stored:
    """Encode every segment and the audio of `job` with the local pool (no quota): finish's input."""
    media = MediaSource.local(Path(job.source))
    store = CountingStorage(folder / "store")
    run_pool(job, media, store, folder, workers, StageTimer(), SILENT)
    return Stored(job, store, folder)


def finish(stored: Stored, vcpus: float | None) -> tuple[dict[str, Any], Timed]:
    """`stages.finish` into a file: output bytes, parts, and the reads it made (small JSON reads in turn)."""
    out = stored.folder / f"out-{uuid.uuid4().hex[:8]}.mp4"
    stored.store.gets.clear()
    try:
        done, t = timed(vcpus, lambda: stages.finish(stored.job, stored.store, FileSink(out), str(out)))
    finally:
        out.unlink(missing_ok=True)
    small = sum(1 for name, _ in stored.store.gets if name.endswith(".json"))
    info = {"bytes": done.size, "parts": done.parts, "ok": done.verification.ok, "gets": len(stored.store.gets),
            "serial_json_gets": small, "segments": len(stored.job.plan.segments)}  # fmt: skip
    return info, t


def local_job(source: Path, settings: Settings, output: Path, workers: int, vcpus: float | None, work: Path,
              credits: cgroup.CreditPlan | None = None) -> tuple[dict[str, Any], Timed]:  # fmt: skip
    """The local executor end to end (`splitstitch transcode`), under a quota and optionally CPU credits."""
    result, t = timed(vcpus, lambda: transcode(source, output, settings, workers=workers, work_root=work), credits)
    return result.report, t


def sample(stage: str, group: str, work: float, vcpus: float | None, threads: int, t: Timed, role: str,
           note: str = "") -> Sample:  # fmt: skip
    return Sample(stage, group, work, vcpus or 0.0, threads, t.wall_s, t.cpu_s, role, note)


def package(stored: Stored, vcpus: float | None) -> tuple[dict[str, Any], Timed]:
    """`streaming.finish_streaming` of a stored streaming job into a folder: its own CPU (the cloud's copies
    happen on the server; here each segment is read and written locally, which errs slow)."""
    out = stored.folder / f"package-{uuid.uuid4().hex[:8]}"
    out.mkdir()
    try:
        done, t = timed(vcpus, lambda: streaming.finish_streaming(stored.job, stored.store, FolderWriter(out)))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    info = {"bytes": done.size, "files": len(done.files), "ok": done.verification.ok,
            "items": len(stored.job.tasks()), "manifests": sum(1 for f in done.files if f.endswith((".m3u8", ".mpd")))}  # fmt: skip
    return info, t
