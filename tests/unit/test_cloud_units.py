"""Pure parts of the cloud edge: admission of upload events, argv of the remote encoder and of the decode probe,
names, the cost arithmetic, the layer's binary check, the process age behind billed INIT, the planner's budget."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from splitstitch.audio import result_name as audio_result_name
from splitstitch.encode import SegmentTask, encode_args, result_name
from splitstitch.encode import item_name as encode_item_name
from splitstitch.plan import Segment, plan_segments
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.throughput import encode_seconds
from splitstitch_cloud import contract, cost, layer, usage
from splitstitch_cloud.admission import Admission, admit, decode_probe_args, decoder_message
from splitstitch_cloud.steps import ENCODE_BUDGET, Deployment, encode_budget
from tests.unit.factories import frames, media, video

ROOT = Path(__file__).resolve().parents[2]
URL = "https://b.s3.amazonaws.com/uploads/a.mp4?X-Amz-Signature=s"


@pytest.mark.parametrize(
    ("key", "status", "sequencer", "expected"),
    [
        ("uploads/", None, "A", Admission("ignore", 0)),
        ("uploads/a.mp4", None, "A", Admission("start", 1)),
        ("uploads/a.mp4", {"state": "starting", "attempt": 1, "sequencer": "A", "updated": 0}, "A", Admission("start", 1)),
        ("uploads/a.mp4", {"state": "running", "attempt": 1, "sequencer": "A"}, "A", Admission("duplicate", 1)),
        ("uploads/a.mp4", {"state": "running", "attempt": 1, "sequencer": "A"}, "B", Admission("duplicate", 1)),
        ("uploads/a.mp4", {"state": "succeeded", "attempt": 1, "sequencer": "A"}, "B", Admission("duplicate", 1)),
        ("uploads/a.mp4", {"state": "failed", "attempt": 1, "sequencer": "A"}, "A", Admission("duplicate", 1)),
        ("uploads/a.mp4", {"state": "failed", "attempt": 2, "sequencer": "A"}, "B", Admission("start", 3, fresh=True)),
        ("uploads/a.mp4", {"state": "starting", "attempt": 1, "sequencer": "A", "updated": 1000.0}, "B", Admission("duplicate", 1)),
        ("uploads/a.mp4", {"state": "starting", "attempt": 1, "sequencer": "A", "updated": 0.0}, "B", Admission("start", 2, fresh=True)),
    ],
)  # fmt: skip
def test_admission(key, status, sequencer, expected) -> None:
    assert admit(key, status, sequencer, now=1500.0) == expected


def test_remote_mp4_encoder_argv(monkeypatch) -> None:
    monkeypatch.setenv("SPLITSTITCH_CA_FILE", "/ca.pem")
    seg = Segment(3, 300, 360, 9_000_000, 10_800_000, 8_100_000, 100.0, 20.0)
    task = SegmentTask(
        seg, video(), 0.0, Settings(preset="ultrafast"), 1, 90000, "joins", container="mov,mp4,m4a,3gp,3g2,mj2"
    )
    assert encode_args(task, MediaSource.remote(URL, "uploads/a.mp4", 10**9), Path("/tmp/e.mp4")) == [
        "-ca_file", "/ca.pem", "-copyts", "-initial_request_size", "65536", "-noaccurate_seek", "-noautorotate",
        "-probesize", "32", "-protocol_whitelist", "https,tls,tcp", "-request_size", "4194304", "-ss", "89.999000",
        "-threads", "1", "-tls_verify", "1", "-i", URL, "-map", "0:0", "-f", "mp4", "-an", "-c:v", "libx264",
        "-crf", "23", "-dn", "-enc_time_base:v", "demux", "-fflags", "+bitexact", "-fps_mode", "passthrough",
        "-map_metadata", "-1", "-movflags", "+empty_moov+default_base_moof+frag_custom", "-pix_fmt", "yuv420p",
        "-preset", "ultrafast",
        "-sn", "-threads", "1", "-vf", "trim=start_pts=9000000:end_pts=10800000,setpts=PTS-STARTPTS",
        "-video_track_timescale", "90000", "-x264-params", "open-gop=0", "/tmp/e.mp4",
    ]  # fmt: skip
    mkv = SegmentTask(seg, video(), 0.0, Settings(), 1, 90000, "joins", container="matroska,webm")
    assert "-probesize" not in encode_args(mkv, MediaSource.remote(URL, "uploads/a.mkv", 10**9), Path("/tmp/e.mp4"))


def test_decode_probe_argv(monkeypatch) -> None:
    monkeypatch.setenv("SPLITSTITCH_CA_FILE", "/ca.pem")
    assert decode_probe_args(MediaSource.remote(URL, "uploads/a.mp4", 10**9), 0) == [
        "-protocol_whitelist", "https,tls,tcp", "-request_size", "4194304", "-initial_request_size", "65536",
        "-tls_verify", "1", "-ca_file", "/ca.pem", "-i", URL, "-map", "0:0", "-frames:v", "1", "-f", "null", "-",
    ]  # fmt: skip
    stderr = "[av1 @ 0x55] Your platform doesn't support hardware accelerated AV1 decoding.\n[av1 @ 0x55] Failed to get pixel format.\n"
    assert decoder_message(stderr) == "Your platform doesn't support hardware accelerated AV1 decoding."


def test_names() -> None:
    job = contract.job_name("uploads/" + "x" * 300 + ".mp4", "etag")
    assert len(contract.execution_name(job, 999)) <= contract.NAME_LIMIT
    assert contract.execution_name(job, 1) == job and contract.execution_name(job, 2) == f"{job}-2"
    mp4, mkv = contract.job_name("uploads/clip.mp4", "e"), contract.job_name("uploads/clip.mkv", "e")
    assert contract.output_key("uploads/clip.mp4", mp4, ".mp4") != contract.output_key("uploads/clip.mkv", mkv, ".mp4")
    assert contract.is_folder_marker("uploads/") and not contract.is_folder_marker("uploads/a.mp4")
    # the items the core's stored results belong to are the names steps give their error records
    task = SegmentTask(Segment(3, 90, 120, 270000, 360000, None, 3.0, 1.0), video(), 0.0, Settings(), 1, 90000)
    assert contract.item_of_result(result_name(3)) == encode_item_name(task) == "00003"
    assert (
        contract.item_of_result(result_name(3, "720p")) == encode_item_name(replace(task, rung="720p")) == "720p-00003"
    )
    assert contract.item_of_result(audio_result_name()) == "audio"
    assert contract.item_of_result(audio_result_name("a0-stereo")) == "audio-a0-stereo"
    assert contract.item_of_result("segments/init.mp4") is None


def test_cost_of_init_ephemeral_retries_polls_and_egress() -> None:
    usage_ = cost.JobUsage(
        (cost.Invocation("encode_segment", 2048, 9.5, init_seconds=0.5, ephemeral_mb=2560),
         cost.Invocation("encode_segment", 2048, 10.0, ok=False)),
        segments=1, s3_puts=10, s3_gets=10, polls=5, egress_bytes=2 * 10**9,
    )  # fmt: skip
    estimate = cost.estimate(usage_)
    usd, q = estimate["usd"], estimate["quantities"]
    assert usd["lambda_compute"] == pytest.approx(2 * 20 * 0.0000166667, abs=1e-8)  # INIT billed with duration
    assert q["lambda_ephemeral_gb_s"] == 20.0  # 2 GB above the free 512 MB, for 10 billed seconds
    assert usd["lambda_ephemeral"] == pytest.approx(20 * 0.0000000309, abs=1e-8)
    assert q["retries"] == 1 and q["state_transitions"] == 4 + 1 + 2 + 1  # parent, one audio plan, one segment, a retry
    assert usd["s3_requests"] == pytest.approx(15 * 0.005 / 1000 + 15 * 0.0004 / 1000)
    assert usd["egress"] == pytest.approx(0.18)
    client = cost.client_cost(polls=3, egress_bytes=10**9)
    total = cost.add(estimate, client)
    assert total["usd"]["total"] == pytest.approx(usd["total"] + client["usd"]["s3_requests"] + 0.09, abs=1e-7)
    assert total["quantities"]["polls"] == 8


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00", "a 64-bit x86_64 ELF executable (Linux/System V)"),
        (b"\x7fELF\x02\x01\x01\x03" + bytes(8) + b"\x02\x00\x3e\x00", "a 64-bit x86_64 ELF executable (Linux)"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\xb7\x00", "a 64-bit aarch64 ELF executable (Linux/System V)"),
        (b"\xcf\xfa\xed\xfe" + bytes(16), "a macOS (Mach-O) executable"),
        (b"#!/bin/sh\n" + bytes(16), "not an executable"),
    ],
)  # fmt: skip
def test_layer_binaries_are_recognised(header: bytes, expected: str) -> None:
    assert layer.describe(header) == expected
    assert layer.lambda_ready(header) == ("x86_64" in expected)


def test_the_layer_build_refuses_other_binaries(tmp_path: Path) -> None:
    """`sam build` runs this make target: an aarch64 or Mach-O ffmpeg stops it with one line per file."""
    arm = tmp_path / "ffmpeg"
    arm.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\xb7\x00" + bytes(64))
    mac = tmp_path / "ffprobe"
    mac.write_bytes(b"\xcf\xfa\xed\xfe" + bytes(64))
    done = subprocess.run(["make", "-s", "-C", str(ROOT / "layers" / "ffmpeg"), "build-FfmpegLayer", f"ARTIFACTS_DIR={tmp_path / 'out'}",
                           f"FFMPEG={arm}", f"FFPROBE={mac}", f"PYTHON={ROOT / '.venv' / 'bin' / 'python'}"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode != 0 and not (tmp_path / "out").exists()
    assert (
        f"error: {arm} is a 64-bit aarch64 ELF executable (Linux/System V), not a Linux x86_64 ELF executable"
        in done.stderr
    )
    assert f"error: {mac} is a macOS (Mach-O) executable" in done.stderr


def test_the_arm64_layer_check_wants_aarch64(tmp_path: Path) -> None:
    arm = tmp_path / "ffmpeg"
    arm.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\xb7\x00" + bytes(64))
    assert layer.main(["--arch", "aarch64", str(arm)]) == 0
    assert layer.main([str(arm)]) == 1


def test_the_wheel_binaries_pass_the_layer_check() -> None:
    from splitstitch.binaries import binaries

    assert layer.main([binaries().ffmpeg, binaries().ffprobe]) == 0


def test_process_age_from_proc(tmp_path: Path) -> None:
    (tmp_path / "self").mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    fields = ["S"] + ["0"] * 18 + [str(100 * ticks)] + ["0"] * 10  # field 22: start time, after "(comm) "
    (tmp_path / "self" / "stat").write_text("42 (python3 x) " + " ".join(fields))
    (tmp_path / "uptime").write_text("101.5 400.0\n")
    assert usage.process_age_seconds(tmp_path) == pytest.approx(1.5)
    assert usage.process_age_seconds(tmp_path / "missing") is None


def test_the_plan_keeps_every_encode_well_under_the_timeout() -> None:
    """4K x265 at the 10 s a user may ask for: segments are shortened until the estimate fits the budget."""
    fanout = Deployment().fanout()
    uhd = media(video_info=video(width=3840, height=2160), frame_index=frames(count=1200, step=1500, keyint=60))
    plan = plan_segments(uhd, Settings(codec="h265", preset="medium", segment_seconds=10.0), fanout)
    fps = 60.0
    worst = max(
        encode_seconds(3840, 2160, s.duration_seconds * fps, "h265", "medium", fanout.vcpus) for s in plan.segments
    )
    assert plan.target_seconds < 10.0 and "capped by the" in plan.reason
    target = encode_seconds(3840, 2160, plan.target_seconds * fps, "h265", "medium", fanout.vcpus)
    assert target <= 900 * ENCODE_BUDGET + 1e-6
    # cuts land within 25% of the target and a short tail joins the last segment: at most 1.5 targets
    assert worst <= 1.5 * 900 * ENCODE_BUDGET < 0.6 * 900
    assert encode_budget(900.0) == 810.0 and encode_budget(6.0) == 3.0


def test_a_package_download_replaces_only_an_earlier_package(tmp_path: Path) -> None:
    from splitstitch_cloud.run import CloudError, download_package

    files = {"outputs/m-1/master.m3u8": b"#EXTM3U\n", "outputs/m-1/video/240p/00000.m4s": b"x" * 10}

    class Store:
        def keys(self, prefix: str) -> list[str]:
            return [k for k in files if k.startswith(prefix)]

        def download(self, key: str, path: Path) -> Path:
            path.write_bytes(files[key])
            return path

    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "a.jpg").write_bytes(b"keep")
    with pytest.raises(CloudError, match="holds no streaming package"):
        download_package(Store(), "outputs/m-1/master.m3u8", stranger)  # type: ignore[arg-type]
    assert (stranger / "a.jpg").read_bytes() == b"keep"
    folder = tmp_path / "m"
    assert download_package(Store(), "outputs/m-1/master.m3u8", folder) == (folder / "master.m3u8", 18, 2)  # type: ignore[arg-type]
    (folder / "stale.m4s").write_bytes(b"old")
    download_package(Store(), "outputs/m-1/master.m3u8", folder)  # type: ignore[arg-type]
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == [
        "master.m3u8", "video/240p/00000.m4s"]  # fmt: skip
