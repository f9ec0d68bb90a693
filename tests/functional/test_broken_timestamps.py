"""Sources whose timestamps restart or jump, and AVIs with dropped-frame index entries, through the real
pipeline; checked against the recordings they were made from with the tests' own ffprobe. Refusals must
state a reason that an independent look at the file confirms."""

from __future__ import annotations

import itertools
import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch.cli import main
from splitstitch.samples_broken import join_matroska, make_broken
from tests.probe import audio_seconds, decode_warnings, facts, ffprobe

# kind -> (joins the report must list, the source's own demuxer hides some frames: count from the parts)
RESTARTS = {
    "restart_mkv_mpeg4": (["back"], False),
    "restart_mkv_h264": (["back"], False),
    "restart_mp4": (["back"], True),  # the mov demuxer flags the restarting fragment "discard"
    "jumping_ts": (["forward", "back"], False),
}


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("broken")
    made: dict[str, tuple[Path, list[Path]]] = {}

    def get(kind: str) -> tuple[Path, list[Path]]:
        if kind not in made:
            made[kind] = make_broken(kind, folder)
        return made[kind]

    return get


def transcode(source: Path, out: Path, report: Path) -> int:
    return main(["transcode", str(source), "-o", str(out), "--segment-seconds", "1.5", "--preset", "ultrafast",
                 "--report", str(report), "--quiet"])  # fmt: skip


def frame_times(path: Path) -> list[float]:
    data = ffprobe("-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", str(path))
    return [float(f["best_effort_timestamp_time"]) for f in data["frames"]]


def start_times(path: Path) -> dict[str, float]:
    streams = ffprobe("-show_entries", "stream=codec_type,start_time", str(path))["streams"]
    return {s["codec_type"]: float(s["start_time"]) for s in reversed(streams)}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splitstitch.cli", *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.mark.parametrize("kind", sorted(RESTARTS))
def test_restarting_timestamps_give_one_timeline(kind: str, broken, tmp_path: Path) -> None:
    source, parts = broken(kind)
    kinds, demuxer_hides_frames = RESTARTS[kind]
    out, report_path = tmp_path / "out.mp4", tmp_path / "report.json"
    assert transcode(source, out, report_path) == 0
    report = json.loads(report_path.read_text())
    assert report["verification"]["ok"] is True
    assert [j["kind"] for j in report["timeline"]] == kinds
    assert report["source"]["path"] == str(source)  # the source, not the rebuilt copy the pipeline read
    assert len(report["plan"]["segments"]) >= 2

    # every frame of every recording, each run on its own timestamps, runs one after the other
    runs = [frame_times(p) for p in parts]
    got = frame_times(out)
    assert len(got) == sum(len(r) for r in runs)
    if not demuxer_hides_frames:
        assert facts(source).frames == len(got)
    assert all(b > a for a, b in itertools.pairwise(got))
    first = 0
    for run, join in zip(runs, [None, *report["timeline"]], strict=True):
        mine = got[first : first + len(run)]
        worst = max(abs((m - mine[0]) - (r - run[0])) for m, r in zip(mine, run, strict=True))
        assert worst <= 0.002, (kind, first, worst)
        if join is not None:
            assert join["frame"] == first and abs((mine[0] - got[0]) - join["at_s"]) <= 0.002
        first += len(run)

    # all the audio: what the source decodes to (or its recordings, where its demuxer hides packets), less
    # what precedes the first video frame (the pipeline trims audio to the video's start)
    total = sum(audio_seconds(p, 0) for p in parts) if demuxer_hides_frames else audio_seconds(source, 0)
    starts = start_times(source)
    trim = max(0.0, starts["video"] - starts["audio"])
    assert abs(audio_seconds(out, 0) - (total - trim)) <= 0.020, (audio_seconds(out, 0), total, trim)
    assert decode_warnings(out) == ""


def idx1_video_sizes(path: Path) -> list[int]:
    """Sizes of the video chunks the AVI's legacy index lists (the tests' own RIFF walk)."""
    data = path.read_bytes()
    at = 12
    while at + 8 <= len(data):
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        if tag == b"idx1":
            entries = data[at + 8 : at + 8 + size]
            return [
                struct.unpack("<I", entries[i + 12 : i + 16])[0]
                for i in range(0, len(entries), 16)
                if entries[i + 2 : i + 4] in (b"dc", b"db")
            ]
        at += 8 + size + (size & 1)
    raise AssertionError("no idx1 index")


@pytest.mark.parametrize("kind", ["dropped_avi_vp9", "dropped_avi_mpeg4"])
def test_dropped_frame_entries_are_held_frames(kind: str, broken, tmp_path: Path) -> None:
    source, _ = broken(kind)
    sizes = idx1_video_sizes(source)
    empty = sizes.count(0)
    assert empty >= 5, sizes  # the capture shape: index entries that carry no data
    src_times = frame_times(source)
    assert len(src_times) == len(sizes) - empty  # the decoder shows the frames that have data

    out, report_path = tmp_path / "out.mp4", tmp_path / "report.json"
    assert transcode(source, out, report_path) == 0
    assert json.loads(report_path.read_text())["verification"]["ok"] is True
    got = frame_times(out)
    assert len(got) == len(src_times)
    worst = max(abs((g - got[0]) - (s - src_times[0])) for g, s in zip(got, src_times, strict=True))
    assert worst <= 0.002  # each frame on its own timestamp: the frame before a dropped one is held
    assert max(b - a for a, b in itertools.pairwise(got)) > 0.1  # the first frame stays for the empty slots after it
    assert decode_warnings(out) == ""


def test_truncated_avi_is_refused_and_is_truncated(broken, tmp_path: Path) -> None:
    source, _ = broken("dropped_avi_vp9")
    cut = tmp_path / "cut.avi"
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    proc = cli("transcode", str(cut), "-o", str(tmp_path / "o.mp4"), "--quiet")
    assert proc.returncode == 2
    assert f"error: {cut}: truncated: the file has {len(data) // 2} bytes, its RIFF headers say" in proc.stderr
    # true: the RIFF header claims the whole file, and fewer frames decode than the complete file's
    assert struct.unpack("<I", data[4:8])[0] + 8 > len(data) // 2
    assert len(frame_times(cut)) < len(frame_times(source))


def ffmpeg(*args: str) -> None:
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def test_video_restarting_without_its_audio_is_refused_with_where(tmp_path: Path) -> None:
    first, second, joined = tmp_path / "a.mkv", tmp_path / "b.mkv", tmp_path / "joined.mkv"
    src = "testsrc2=size=320x240:rate=25:duration="
    ffmpeg("-f", "lavfi", "-i", src + "2.24", "-f", "lavfi", "-i", "sine=duration=2.24", "-c:v", "mpeg4", "-c:a",
           "aac", str(first))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", src + "1", "-c:v", "mpeg4", str(second))  # a recording with no audio
    join_matroska([first, second], joined)
    proc = cli("transcode", str(joined), "-o", str(tmp_path / "o.mp4"), "--quiet")
    assert proc.returncode == 2
    reason = "video timestamps go back at 2.24 s (frame 56) but audio stream 1's do not jump with them"
    assert proc.stderr.strip() == f"error: {joined}: {reason}"
    # true: packet 56 of the video is shown before packet 55, which ends at 2.24 s; audio only goes forward
    packets = ffprobe("-show_entries", "packet=stream_index,pts_time,duration_time", str(joined))["packets"]
    video = [(float(p["pts_time"]), float(p["duration_time"])) for p in packets if p["stream_index"] == 0]
    audio = [float(p["pts_time"]) for p in packets if p["stream_index"] == 1]
    assert video[56][0] < video[55][0] and round(max(t + d for t, d in video[:56]), 2) == 2.24
    assert all(b > a for a, b in itertools.pairwise(audio))


def test_no_decodable_video_frames_is_said_only_when_none_decode(tmp_path: Path) -> None:
    source = tmp_path / "novideo.mkv"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=duration=2", "-f", "lavfi", "-i", "sine=duration=2", "-vf", "select=0",
           "-c:v", "mpeg4", "-c:a", "aac", str(source))  # fmt: skip
    proc = cli("transcode", str(source), "-o", str(tmp_path / "o.mp4"), "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {source}: no decodable video frames: the video stream holds no packets"
    decode = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(source), "-map", "0:v",
                             "-f", "framemd5", "-"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert [line for line in decode.stdout.splitlines() if line and not line.startswith("#")] == []


def test_truncated_mp4_is_refused_and_is_truncated(tmp_path: Path) -> None:
    whole, cut = tmp_path / "whole.mp4", tmp_path / "cut.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=4", "-vf", "noise=alls=20:allf=t",
           "-c:v", "libx264", "-preset", "veryfast", "-movflags", "+faststart", str(whole))  # fmt: skip
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    proc = cli("transcode", str(cut), "-o", str(tmp_path / "o.mp4"), "--quiet")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == f"error: {cut}: truncated: the file ends before its last packet ({len(data) // 2} bytes)"
    )
    # true: the index (moov, at the front) places packets past the end of what is left of the file
    probe = subprocess.run([binaries().ffprobe, "-v", "error", "-show_entries", "packet=pos,size", "-of", "csv=p=0",
                            str(cut)], capture_output=True, text=True, timeout=120)  # fmt: skip
    ends = [int(p) + int(s) for p, s in (line.split(",")[:2] for line in probe.stdout.split()) if p.isdigit()]
    assert "partial file" in probe.stderr or max(ends) > len(data) // 2
