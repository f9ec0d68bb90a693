"""`splitstitch bench` end to end on a tiny clip: JSON shape, modeled marks and both charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.samples import make_clip

pytestmark = pytest.mark.slow


def test_bench_cli_tiny_clip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "tiny.mp4", 2.0, "320x240")
    out, plot = tmp_path / "out.json", tmp_path / "out.png"
    code = main(["bench", str(clip), "--runtimes", "laptop,local,lambda:1769", "--json", str(out),
                 "--plot", str(plot), "--work-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data) >= {"source", "runtimes", "calibration"}
    assert data["source"]["duration_s"] == pytest.approx(2.0, abs=0.1)
    runs = {r["name"]: r for r in data["runtimes"]}
    assert list(runs) == ["laptop", "local", "lambda:1769"]
    for r in runs.values():
        assert set(r) >= {"name", "seconds", "measured", "cost_usd", "realtime_factor", "assumptions"}
        assert r["seconds"] > 0
    assert runs["laptop"]["measured"] and runs["local"]["measured"]
    assert not runs["lambda:1769"]["measured"] and runs["lambda:1769"]["cost_usd"] > 0
    assert runs["lambda:1769"]["assumptions"]["vcpus"] == 1.0
    calibration = data["calibration"]
    assert set(calibration) >= {"model_seconds", "measured_seconds", "error"}
    assert calibration["status"] in ("calibrated", "uncalibrated")
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "out-timeline.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "MODELED" in printed and "calibration:" in printed


@pytest.mark.parametrize(
    "argv",
    [["bench"], ["bench", "x.mp4", "--workload", "talk"], ["bench", "--workload", "talk", "--scale", "0"],
     ["bench", "missing.mp4"], ["bench", "--workload", "talk", "--runtimes", "ec2:nope"]],
)  # fmt: skip
def test_bench_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
