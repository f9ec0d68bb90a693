"""Stage benchmarks (`make bench`, compared against the stored baseline in bench/baseline/)."""

from __future__ import annotations

import itertools
from pathlib import Path

from conftest import Staged, prepare
from splitstitch import stages
from splitstitch.pipeline import FileSink
from splitstitch.storage import LocalStorage

COUNTER = itertools.count()


def fresh(base: Path) -> Path:
    folder = base / f"run{next(COUNTER)}"
    folder.mkdir()
    return folder


def test_prepare(benchmark, clip: Staged) -> None:
    job = benchmark.pedantic(prepare, args=(clip.source, clip.settings), rounds=3, warmup_rounds=1)
    assert job.plan.frames == clip.job.plan.frames


def test_encode_one_segment(benchmark, clip: Staged, tmp_path: Path) -> None:
    task = clip.job.segment_task(clip.job.plan.longest_first()[0].index)

    def run():
        folder = fresh(tmp_path)
        return stages.encode_segment(task, clip.media, LocalStorage(folder / "s"), folder)

    assert benchmark.pedantic(run, rounds=3).frames == task.segment.frames


def test_encode_audio(benchmark, clip: Staged, tmp_path: Path) -> None:
    assert clip.job.audio

    def run():
        folder = fresh(tmp_path)
        return stages.encode_audio(clip.job.audio, clip.media, LocalStorage(folder / "s"), folder)  # type: ignore[arg-type]

    assert benchmark.pedantic(run, rounds=3).fragments


def finish(staged: Staged, folder: Path) -> stages.Finished:
    out = folder / "out.mp4"
    return stages.finish(staged.job, staged.store, FileSink(out), str(out))


def test_finish(benchmark, clip: Staged, tmp_path: Path) -> None:
    done = benchmark.pedantic(lambda: finish(clip, fresh(tmp_path)), rounds=7, warmup_rounds=2)
    assert done.verification.ok, done.verification.failed()


def test_prepare_by_duration(benchmark, sweep: Staged) -> None:
    job = benchmark.pedantic(prepare, args=(sweep.source, sweep.settings), rounds=3, warmup_rounds=1)
    assert job.plan.frames == sweep.job.plan.frames


def test_finish_by_duration(benchmark, sweep: Staged, tmp_path: Path) -> None:
    done = benchmark.pedantic(lambda: finish(sweep, fresh(tmp_path)), rounds=7, warmup_rounds=2)
    assert done.verification.ok
