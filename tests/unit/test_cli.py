"""CLI behaviour that needs no media: exit codes, one-line errors, verification failure handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch import pipeline
from splitstitch.cli import main
from splitstitch.verify import Check, Verification


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


def test_failed_verification_exits_3_and_leaves_nothing(monkeypatch, samples, tmp_path: Path, capsys) -> None:
    bad = Verification((Check("video_frames", False, "599 frames, source 600"),))
    monkeypatch.setattr(pipeline, "verify_output", lambda *args: bad)
    out, report = tmp_path / "out.mp4", tmp_path / "r.json"
    code = main(["transcode", str(samples("cfr")), "-o", str(out), "--report", str(report), "--quiet",
                 "--preset", "ultrafast"])  # fmt: skip
    assert code == 3
    assert "verification failed: video_frames: 599 frames, source 600" in capsys.readouterr().err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # the report says why; no partial output
    assert '"status": "failed"' in report.read_text()
