"""Inputs whose container tells little or too much: raw elementary video streams (no container, no
timestamps: only a full decode gives the real length and rate), and a WebM whose track carries a title
(GStreamer screencasts: 1 ms time base, 15 fps, no stream duration)."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch.cli import main
from tests.probe import decode_warnings, ffprobe

LAVFI = "testsrc2=size=160x120:rate={rate}"
# extension -> (frame rate, encoder options, raw muxer): B-frames, so decode order is not display order
RAW = {
    "m1v": ("25", ["-c:v", "mpeg1video", "-bf", "2", "-g", "12", "-q:v", "4"], "mpeg1video"),
    "m2v": ("24000/1001", ["-c:v", "mpeg2video", "-bf", "2", "-g", "12", "-q:v", "4"], "mpeg2video"),
    "h264": ("30", ["-c:v", "libx264", "-preset", "ultrafast", "-x264-params", "bframes=3:b-adapt=0", "-g", "20"],
             "h264"),
    "hevc": ("30", ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "bframes=3:log-level=0", "-g", "20"],
             "hevc"),
}  # fmt: skip


def ffmpeg(*args: str) -> None:
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def decoded_times(path: Path) -> list[Fraction]:
    """Every decoded frame's time, as ffmpeg presents it (for a raw stream: frame n at n / rate)."""
    out = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                          "-fps_mode", "passthrough", "-f", "framemd5", "-"], capture_output=True, text=True,
                         check=True, timeout=120).stdout  # fmt: skip
    tb = next(Fraction(line.split(": ")[1]) for line in out.splitlines() if line.startswith("#tb 0"))
    stamps = [int(line.split(",")[2]) * tb for line in out.splitlines() if line and not line.startswith("#")]
    return [s - stamps[0] for s in stamps]


def transcode(source: Path, out: Path, *extra: str) -> int:
    return main(["transcode", str(source), "-o", str(out), "--segment-seconds", "0.6", "--preset", "ultrafast",
                 "--verify", "full", "--quiet", *extra])  # fmt: skip


@pytest.mark.parametrize("ext", sorted(RAW))
def test_raw_elementary_stream_keeps_every_frame_at_its_real_rate(ext: str, tmp_path: Path) -> None:
    rate, options, muxer = RAW[ext]
    source = tmp_path / f"raw.{ext}"
    ffmpeg("-f", "lavfi", "-i", LAVFI.format(rate=rate), "-t", "2", *options, "-f", muxer, str(source))
    expected = decoded_times(source)
    assert expected[1] == 1 / Fraction(rate)  # the real rate (ffprobe guesses 25 fps, or 50, for all of them)
    assert transcode(source, tmp_path / "out.mp4") == 0
    got = decoded_times(tmp_path / "out.mp4")
    assert len(got) == len(expected)
    assert max(abs(g - e) for g, e in zip(got, expected, strict=True)) <= Fraction(1, 1000)
    assert not decode_warnings(tmp_path / "out.mp4")


def test_raw_elementary_stream_streams_every_frame(tmp_path: Path) -> None:
    rate, options, muxer = RAW["m1v"]
    source = tmp_path / "raw.m1v"
    ffmpeg("-f", "lavfi", "-i", LAVFI.format(rate=rate), "-t", "2", *options, "-f", muxer, str(source))
    report = tmp_path / "report.json"
    assert transcode(source, tmp_path / "out", "--format", "cmaf", "--ladder", "120", "--report", str(report)) == 0
    frames = json.loads(report.read_text())["source"]["video"]["frames"]
    assert frames == len(decoded_times(source))


@pytest.mark.parametrize("mode", ["file", "cmaf"])
def test_webm_with_a_titled_track_and_1ms_time_base_transcodes(mode: str, tmp_path: Path) -> None:
    source = tmp_path / "screencast.webm"
    ffmpeg("-f", "lavfi", "-i", LAVFI.format(rate=15), "-t", "3", "-c:v", "libvpx", "-b:v", "200k", "-g", "15",
           "-metadata:s:v", "title=Video", "-metadata:s:v", "language=eng", "-live", "1", "-f", "webm", str(source))  # fmt: skip
    stream = ffprobe("-show_entries", "stream=time_base,duration:stream_tags=title", str(source))["streams"][0]
    assert stream["time_base"] == "1/1000" and "duration" not in stream and stream["tags"]["title"] == "Video"
    out = tmp_path / ("out.mp4" if mode == "file" else "out")
    assert transcode(source, out, *(["--format", "cmaf", "--ladder", "120"] if mode == "cmaf" else [])) == 0
    if mode == "file":
        assert len(decoded_times(out)) == len(decoded_times(source))
        assert not decode_warnings(out)
