"""An assembled output (init + sidx + the segments' fragments + interleaved audio) as the tests' own ffprobe and
ffmpeg see it: every frame at its source time, audio where the source has it, a sidx that indexes the file, and
seeks that land on the right frame. Lossless (x264 CRF 0) so a decoded frame can be compared with the source's."""

from __future__ import annotations

import json
import struct
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch import fmp4
from splitstitch.binaries import binaries
from splitstitch.pipeline import JobResult, transcode
from splitstitch.settings import Settings
from tests.probe import audio_seconds

KINDS = ["cfr", "vfr", "open_gop"]  # open GOP: cuts mid-GOP, encoders decode from the keyframe before


def probe(path: Path, *args: str) -> dict:
    out = subprocess.run([binaries().ffprobe, "-v", "error", *args, "-of", "json", str(path)], capture_output=True,
                         check=True, timeout=120).stdout  # fmt: skip
    return json.loads(out)


def video_times(path: Path) -> tuple[list[Fraction], list[bool], float]:
    """Presentation times (s) of the video packets in display order, their keyframe flags, the file start time."""
    data = probe(path, "-select_streams", "v:0", "-show_entries", "stream=time_base:packet=pts,flags:format=start_time")
    tb = Fraction(data["streams"][0]["time_base"])
    frames = sorted((int(p["pts"]) * tb, "K" in p["flags"]) for p in data["packets"])
    return [t for t, _ in frames], [k for _, k in frames], float(data["format"]["start_time"])


def frame_hashes(path: Path, *before_input: str, frames: int | None = None) -> list[str]:
    limit = ["-frames:v", str(frames)] if frames else []
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", *before_input, "-i", str(path), "-map", "0:v:0",
                           *limit, "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f", "framemd5", "-"],
                          capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in proc.stdout.splitlines() if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, samples) -> dict[str, tuple[Path, Path, JobResult]]:
    """Each kind transcoded once (lossless, full verification), shared by the tests below."""
    made = {}
    for kind in KINDS:
        out = tmp_path_factory.mktemp(kind) / "out.mp4"
        settings = Settings(crf=0, preset="ultrafast", segment_seconds=1.3, verify="full")
        made[kind] = (samples(kind), out, transcode(samples(kind), out, settings, workers=2))
    return made


@pytest.mark.parametrize("kind", KINDS)
def test_every_frame_is_at_its_source_time(kind: str, outputs) -> None:
    source, out, result = outputs[kind]
    (src, _, _), (got, _, _) = video_times(source), video_times(out)
    assert len(got) == len(src)
    worst = max(abs((g - got[0]) - (s - src[0])) for s, g in zip(src, got, strict=True))
    assert worst <= Fraction(1, 1000), f"a frame is {float(worst) * 1000:.3f} ms off its source time"
    assert len(result.report["plan"]["segments"]) >= 3


@pytest.mark.parametrize("kind", KINDS)
def test_audio_starts_and_lasts_as_in_the_source(kind: str, outputs) -> None:
    source, out, _ = outputs[kind]
    for path in (source, out):
        assert len(probe(path, "-select_streams", "a", "-show_entries", "stream=index")["streams"]) == 1
    offsets = []
    for path in (source, out):
        first_video = video_times(path)[0][0]
        audio = probe(path, "-select_streams", "a:0", "-show_entries", "stream=start_time")["streams"][0]
        offsets.append(float(audio["start_time"]) - float(first_video))
    assert abs(offsets[1] - offsets[0]) <= 0.020, offsets
    assert abs(audio_seconds(out, 0) - audio_seconds(source, 0)) <= 0.020


@pytest.mark.parametrize("kind", KINDS)
def test_a_seek_lands_on_the_source_frame_at_that_time(kind: str, outputs) -> None:
    source, out, _ = outputs[kind]
    src_times, _, src_start = video_times(source)
    out_times, out_keys, out_start = video_times(out)
    k = len(out_times) * 3 // 5
    while out_keys[k]:  # a frame inside a GOP: the seek must decode from the keyframe before it
        k += 1
    middle = (src_times[k - 1] + src_times[k]) / 2 - src_times[0]  # halfway between frame k-1 and frame k
    expected = frame_hashes(source)[k]
    # ffmpeg's -ss counts from the file's start time: land each file's seek at the same video time
    seek_source = f"{float(middle + src_times[0]) - src_start:.6f}"
    seek_output = f"{float(middle + out_times[0]) - out_start:.6f}"
    assert frame_hashes(source, "-ss", seek_source, frames=1) == [expected]  # the test's own assumption
    assert frame_hashes(out, "-ss", seek_output, frames=1) == [expected]


@pytest.mark.parametrize("kind", KINDS)
def test_sidx_indexes_every_byte_after_the_head(kind: str, outputs) -> None:
    _, out, result = outputs[kind]
    data = out.read_bytes()
    boxes = list(fmp4.iter_boxes(data))
    assert [b.type for b in boxes[:3]] == ["ftyp", "moov", "sidx"]
    assert boxes[3].type in ("sidx", "moof")  # with audio, the audio track's sidx follows the video's
    sidx = boxes[2]
    version = data[sidx.body]
    assert version == 1
    _, timescale, earliest, first_offset, _, count = struct.unpack_from(">IIQQHH", data, sidx.body + 4)
    refs = [struct.unpack_from(">III", data, sidx.body + 32 + 12 * n) for n in range(count)]
    assert count == len(result.report["plan"]["segments"])
    assert earliest == fmp4.tracks(data[: sidx.start])[0].edit_media_time  # the first frame's composition time
    assert sidx.end + first_offset + sum(size for size, _, _ in refs) == len(data)
    offset = sidx.end + first_offset
    for size, _, sap in refs:  # every subsegment starts with a moof, at a keyframe (SAP type 1)
        assert data[offset + 4 : offset + 8] == b"moof" and sap >> 28 == 0b1001
        offset += size
    src_times, _, _ = video_times(outputs[kind][0])
    total = sum(duration for _, duration, _ in refs)
    frame = src_times[-1] - src_times[-2]
    assert abs(Fraction(total, timescale) - (src_times[-1] - src_times[0]) - frame) <= frame


@pytest.mark.parametrize("kind", KINDS)
def test_full_verification_adds_the_independent_checks_and_they_pass(kind: str, outputs) -> None:
    _, out, result = outputs[kind]
    checks = {c["name"]: c for c in result.report["verification"]["checks"]}
    probe_checks = {n for n in checks if n.startswith("probe_")}
    assert {
        "probe_video_frames",
        "probe_frame_timestamps",
        "probe_video_duration",
        "probe_audio_tracks",
    } <= probe_checks
    assert "output_decodes_cleanly" in checks and "video_is_checked_segments" in checks
    assert all(c["ok"] for c in checks.values()), [c for c in checks.values() if not c["ok"]]
    assert result.verification.ok and out.exists()


@pytest.mark.parametrize(
    ("codec", "name", "format_name"), [("h264", "out.mkv", "matroska"), ("vp9", "out.webm", "webm")]
)
def test_matroska_and_webm_outputs_are_remuxed_and_checked(codec: str, name: str, format_name: str, samples,
                                                          tmp_path: Path) -> None:  # fmt: skip
    source, out = samples("cfr"), tmp_path / name
    settings = Settings(codec=codec, preset="ultrafast", segment_seconds=1.3, height=120)  # 160x120: VP9 is slow
    result = transcode(source, out, settings, workers=2)
    assert probe(out, "-show_entries", "format=format_name")["format"]["format_name"] == "matroska,webm"
    assert result.report["output"]["container"] == format_name
    checks = {c["name"]: c["ok"] for c in result.report["verification"]["checks"]}
    assert checks["probe_video_frames"] and checks["probe_frame_timestamps"] and all(checks.values())
    (src, _, _), (got, _, _) = video_times(source), video_times(out)
    assert len(got) == len(src)
    assert max(abs((g - got[0]) - (s - src[0])) for s, g in zip(src, got, strict=True)) <= Fraction(1, 1000)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no partial or work files left beside it


def test_audio_that_outlasts_the_video_keeps_its_declared_duration(tmp_path: Path) -> None:
    """The audio track has its own sidx, and mehd/edit lists end where the last audio sample ends. ffprobe
    counts a fragmented file's duration from its samples, the encoder priming the edit list hides included
    (1024 samples; ffmpeg's own fragmented output of the source declares 4.567 s), hence one AAC frame more."""
    source, out = tmp_path / "long_audio.mp4", tmp_path / "out.mp4"
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:d=3",
                    "-f", "lavfi", "-i", "sine=d=4.5:sample_rate=48000", "-c:v", "libx264", "-preset", "veryfast",
                    "-g", "30", "-c:a", "aac", str(source)], check=True, timeout=120)  # fmt: skip
    transcode(source, out, Settings(preset="ultrafast", segment_seconds=1.3), workers=2)
    assert abs(audio_seconds(out, 0) - audio_seconds(source, 0)) <= 0.020  # every sample is there...
    declared = [float(probe(p, "-select_streams", "a:0", "-show_entries", "stream=duration")["streams"][0]["duration"])
                for p in (source, out)]  # fmt: skip
    assert abs(declared[1] - declared[0]) <= 0.020 + 1024 / 48000, declared  # ...and the file says so
