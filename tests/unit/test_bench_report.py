"""The JSON document, table and charts, from a synthetic result (no encodes)."""

from __future__ import annotations

import json
from pathlib import Path

from splitstitch.benchmark.report import bar_chart, runtime_table, timeline_chart, write_json
from splitstitch.benchmark.runner import entry

REQUIRED = {"name", "seconds", "measured", "cost_usd", "realtime_factor", "assumptions"}


def synthetic() -> dict:
    slots = [
        {"name": "prepare", "worker": 0, "start": 0.1, "end": 1.0, "cold_s": 0.5, "transfer_s": 0.0, "compute_s": 0.4,
         "stage": "prepare"},
        {"name": "seg 0", "worker": 0, "start": 1.1, "end": 3.0, "cold_s": 0.5, "transfer_s": 0.2, "compute_s": 1.2,
         "stage": "encode"},
        {"name": "stitch", "worker": 0, "start": 3.1, "end": 4.0, "cold_s": 0.5, "transfer_s": 0.1, "compute_s": 0.3,
         "stage": "stitch"},
    ]  # fmt: skip
    return {
        "source": {"path": "/x/clip.mp4", "duration_s": 20.0},
        "runtimes": [
            entry("laptop", 10.0, True, None, 20.0, 10.0, {"cpus": 2}),
            entry("lambda:1769", 4.0, False, 0.001, 20.0, 10.0, {"cold_start_s": 0.5}, timeline=slots),
        ],
        "calibration": {
            "model_seconds": 9.5,
            "measured_seconds": 10.0,
            "error": -0.05,
            "tolerance": 0.15,
            "status": "calibrated",
        },
    }


def test_entry_fields() -> None:
    r = synthetic()["runtimes"][1]
    assert set(r) >= REQUIRED
    assert r["realtime_factor"] == 5.0 and r["speedup_vs_laptop"] == 2.5
    assert r["cost_per_output_minute_usd"] == 0.003


def test_json_shape(tmp_path: Path) -> None:
    path = tmp_path / "out.json"
    write_json(path, synthetic())
    data = json.loads(path.read_text())
    assert set(data) >= {"source", "runtimes", "calibration"}
    assert set(data["calibration"]) >= {"model_seconds", "measured_seconds", "error"}
    assert all(set(r) >= REQUIRED for r in data["runtimes"])


def test_table_marks_modeled_and_uncalibrated() -> None:
    result = synthetic()
    text = runtime_table(result)
    assert "MODELED" in text and "measured" in text and "CALIBRATED" in text
    result["calibration"] |= {"error": 0.4, "status": "uncalibrated"}
    assert "UNCALIBRATED" in runtime_table(result)


def test_charts(tmp_path: Path) -> None:
    result = synthetic()
    bar_chart([result], tmp_path / "bars.png")
    timeline_chart(result["runtimes"][1], tmp_path / "timeline.png")
    assert (tmp_path / "bars.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "timeline.png").stat().st_size > 1000
