"""`splitstitch bench` end to end on a tiny clip (fast settings), CPU quotas, and its usage errors."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples import make_clip
from splitstitch_bench import cgroup

pytestmark = pytest.mark.slow


def test_bench_file_full_length(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = make_clip(tmp_path / "tiny.mp4", 4.0, "320x240")
    out, plot = tmp_path / "out.json", tmp_path / "out.png"
    code = main(["bench", str(clip), "--runtimes", "laptop,ec2:t2.large,lambda", "--preset", "ultrafast",
                 "--full-length", "--segments-per-config", "1", "--json", str(out), "--plot", str(plot),
                 "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert code == 0
    doc = json.loads(out.read_text())
    (row,) = doc["rows"]
    runs = {e["name"]: e for e in row["runtimes"]}
    assert runs["laptop"]["label"] == "one ffmpeg on this machine" and runs["laptop"]["seconds"] > 0
    assert runs["lambda"]["how"] == "modeled" and runs["lambda"]["usd"] > 0
    lo, hi = runs["lambda"]["band_s"]
    assert lo <= runs["lambda"]["seconds"] <= hi
    assert set(runs["lambda"]["model"]["stages"]) == {"prepare", "encode", "audio", "finish"}
    assert all(e["how"] == "emulated" and "this CPU" in e["label"] for n, e in runs.items() if n.startswith("ec2"))
    assert doc["stack"]["memory_mb"]["encode_segment"] == doc["stack"]["deployment"]["encode_memory_mb"]
    assert {s["stage"] for s in doc["validation"]["summary"]} >= {"job"}
    assert doc["sweeps"][0]["memory"][0]["memory_mb"] == 128
    for suffix in ("", "-memory", "-scaling", "-timeline-tiny"):
        assert (tmp_path / f"out{suffix}.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "MODELED" in printed and "validation" in printed and "one ffmpeg on this machine" in printed


def test_bench_ladder_models_and_measures_the_streaming_job(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "tiny.mp4", 4.0, "320x240")
    out = tmp_path / "out.json"
    code = main(["bench", str(clip), "--runtimes", "lambda", "--preset", "ultrafast", "--ladder", "240",
                 "--segments-per-config", "1", "--json", str(out), "--work-dir", str(tmp_path / "w")])  # fmt: skip
    assert code == 0
    (entry,) = json.loads(out.read_text())["streaming"]
    assert entry["format"] == "hls" and [r["name"] for r in entry["rungs"]] == ["240p"], entry["rungs"]
    assert entry["rungs"][0]["measured_bps"] > 0 and not entry["errors"]
    runs = {e["name"]: e for e in entry["runtimes"]}
    assert runs["local"]["how"] == "measured" and runs["local"]["seconds"] > 0
    lo, hi = runs["lambda"]["band_s"]
    assert runs["lambda"]["how"] == "modeled" and lo <= runs["lambda"]["seconds"] <= hi
    assert {"copy_segments", "manifests", "package_verify_cpu"} <= set(
        runs["lambda"]["model"]["stages"]["finish"]["parts"]
    )
    assert {c["stage"] for c in entry["validation"]["checks"]} >= {"package"}


@pytest.mark.skipif(cgroup.unavailable() is not None, reason=f"no CPU quotas here: {cgroup.unavailable()}")
def test_quota_throttles_what_the_thread_starts() -> None:
    busy = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30:duration=3", "-c:v", "libx264", "-preset", "medium",
            "-threads", "1", "-f", "null", "-"]  # fmt: skip
    with cgroup.quota(0.25) as group:
        started = time.perf_counter()
        run_ffmpeg(busy)
        wall, used = time.perf_counter() - started, group.usage_s()
        throttled = group.throttled_s()
    assert throttled > 0 and used / wall < 0.35


@pytest.mark.parametrize(
    "argv",
    [["bench"], ["bench", "x.mp4", "--workload", "talk"], ["bench", "--workload", "talk", "--scale", "0"],
     ["bench", "missing.mp4"], ["bench", "--workload", "talk", "--runtimes", "ec2:nope"],
     ["bench", "--workload", "talk", "--rows", "nope"]],
)  # fmt: skip
def test_bench_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
