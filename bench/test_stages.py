"""Stage benchmarks on a 12 s 640x360 clip (`make bench`): probe, plan, split, one segment, stitch, verify."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from conftest import Staged
from splitstitch.codecs import output_format
from splitstitch.encode import encode_segment
from splitstitch.inputs import open_source
from splitstitch.plan import plan_segments
from splitstitch.split import split_source
from splitstitch.stitch import stitch_segments
from splitstitch.verify import verify_output

COUNTER = itertools.count()


def fresh_dir(base: Path) -> Path:
    folder = base / f"run{next(COUNTER)}"
    folder.mkdir()
    return folder


def test_probe(benchmark, staged: Staged) -> None:
    info = benchmark(open_source, staged.source)
    assert info.video and info.frames


def test_plan(benchmark, staged: Staged) -> None:
    plan = benchmark(plan_segments, staged.info, staged.settings.segment_seconds)
    assert len(plan.segments) == len(staged.plan.segments)


def test_split(benchmark, staged: Staged, tmp_path: Path) -> None:
    assert staged.info.video
    if staged.plan.split_path != "copy":
        return
    files = benchmark.pedantic(
        lambda: split_source(staged.plan, staged.info.video, staged.source, fresh_dir(tmp_path)), rounds=5
    )
    assert len(files) == len(staged.plan.segments)


def test_encode_one_segment(benchmark, staged: Staged, tmp_path: Path) -> None:
    assert staged.info.video
    seg = staged.plan.longest_first()[0]
    seg_file = staged.split_files[seg.index] if staged.split_files else None

    def run():
        return encode_segment(staged.settings, staged.info.video, seg, segment_file=seg_file, source=staged.source,
                              source_start=staged.info.start_time, output=fresh_dir(tmp_path) / "enc.mp4")  # fmt: skip

    done = benchmark.pedantic(run, rounds=3)
    assert done.frames == seg.frames


def test_stitch(benchmark, staged: Staged, tmp_path: Path) -> None:
    fmt = output_format(staged.settings.codec, staged.output)
    audio = (staged.audio, staged.audio_file) if staged.audio and staged.audio_file else None

    def run() -> Path:
        folder = fresh_dir(tmp_path)
        copies = [Path(shutil.copy(p, folder / p.name)) for p in staged.encoded]
        out = folder / "out.mp4"
        stitch_segments(staged.plan, copies, audio, staged.settings.codec, fmt, out)
        return out

    out = benchmark.pedantic(run, rounds=5)
    shutil.copy(out, staged.output)
    assert out.stat().st_size > 0


def test_verify(benchmark, staged: Staged, tmp_path: Path) -> None:
    fmt = output_format(staged.settings.codec, staged.output)
    out = fresh_dir(tmp_path) / "out.mp4"
    audio = (staged.audio, staged.audio_file) if staged.audio and staged.audio_file else None
    stitch_segments(staged.plan, staged.encoded, audio, staged.settings.codec, fmt, out)
    result = benchmark.pedantic(verify_output, args=(staged.info, out, staged.audio), rounds=3)
    assert result.ok, result.failed()
