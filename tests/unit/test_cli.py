"""CLI behaviour that needs no media: exit codes, one-line errors, the report on failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch import pipeline
from splitstitch.cli import main
from splitstitch.errors import VerificationError


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
