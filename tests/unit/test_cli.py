"""CLI behaviour that needs no media: exit codes, one-line errors, the report on failure, the summary line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch import pipeline
from splitstitch.cli import main
from splitstitch.codecs import output_format
from splitstitch.encode import EncodedSegment
from splitstitch.errors import INTERNAL_EXIT_CODE, VerificationError
from splitstitch.fmp4 import Mp4Error
from splitstitch.job import Job
from splitstitch.plan import Fanout, plan_segments
from splitstitch.report import StageTimer, build_report
from splitstitch.settings import Settings
from splitstitch.stages import Finished
from splitstitch.verify import Check, Verification
from tests.unit.factories import media


def test_usage_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.mp4"
    src.write_bytes(b"x")
    assert main(["transcode", str(src), "-o", str(tmp_path / "no" / "such" / "dir.mp4")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_output_may_not_overwrite_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.mp4"
    src.write_bytes(b"data")
    assert main(["transcode", str(src), "-o", str(src)]) == 2
    assert "overwrite the source" in capsys.readouterr().err
    assert src.read_bytes() == b"data"


def test_failed_verification_exits_3_and_writes_the_report(monkeypatch, tmp_path: Path, capsys) -> None:
    def fail(*args, **kwargs):
        raise VerificationError(["video_frames: 599 frames, source 600"], {"status": "failed"})

    monkeypatch.setattr(pipeline, "transcode", fail)
    report = tmp_path / "r.json"
    assert main(["transcode", "in.mp4", "-o", str(tmp_path / "out.mp4"), "--report", str(report), "--quiet"]) == 3
    assert capsys.readouterr().err == "error: verification failed: video_frames: 599 frames, source 600\n"
    assert json.loads(report.read_text()) == {"status": "failed"}


def a_report() -> dict:
    """A report of the real shape (build_report) for a 10 s source in 3 segments."""
    info, settings, fanout = media(), Settings(), Fanout(1, segments_per_encoder=3.0)
    plan = plan_segments(info, settings, fanout)
    job = Job("job1", "in.mp4", settings, output_format("h264", Path("o.mp4")), info, plan, None, fanout)
    encoded = tuple(
        EncodedSegment(s.index, s.frames, 100, "x", "i", 0, 1, 1, 90000, 1.0, 0.1, "ok") for s in plan.segments
    )
    verification = Verification((Check("video_frames", True, "300 frames"),))
    finished = Finished(verification, info, encoded, None, 300, 1)
    timer = StageTimer()
    timer.add("total", 2.5)
    return build_report(job, finished, "out.mp4", timer, {"kind": "local", "workers": 1}, verification)


def test_summary_line_reads_the_report_it_is_given(monkeypatch, tmp_path: Path, capsys) -> None:
    report = a_report()
    assert len(report["plan"]["segments"]) == 3 and report["status"] == "succeeded"
    out = tmp_path / "out.mp4"
    monkeypatch.setattr(pipeline, "transcode", lambda *a, **k: pipeline.JobResult(out, report, Verification(())))
    assert main(["transcode", "in.mp4", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{out}: 3 segments") and err.endswith("verified, 2.5 s\n") and err.count("\n") == 1


README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize(
    "error",
    [Mp4Error("trun has no per-sample durations\nto change the last one"), KeyError("track"), AssertionError()],
    ids=["Mp4Error", "KeyError", "AssertionError"],
)
def test_an_internal_error_is_one_line_with_its_documented_exit_code(monkeypatch, tmp_path: Path, capsys,
                                                                     error: Exception) -> None:  # fmt: skip
    """Any exception that is not one of splitstitch's own (a bug) ends as one line and exit 4, no traceback."""
    src = tmp_path / "in.mp4"
    src.write_bytes(b"data")

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(pipeline, "transcode", broken)
    assert main(["transcode", str(src), "-o", str(tmp_path / "out.mp4"), "--quiet"]) == INTERNAL_EXIT_CODE == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: internal error ({type(error).__name__}): ")
    if isinstance(error, Mp4Error):
        assert "trun has no per-sample durations to change the last one" in err
    exit_codes = " ".join(README.read_text().split("Exit codes:", 1)[1].split("\n\n", 1)[0].split())
    assert "`4` internal error" in exit_codes  # the README documents the code it exits with
