"""Everyday inputs of issue 15 through the CLI, in the file mode and the streaming mode (CMAF):

- stream-copied cuts (`ffmpeg -t 3 -c copy`, with and without +faststart; H.264 and HEVC in MP4, H.264 in
  Matroska): the cut drops the B-frames whose decode time falls after 3 s, so the last frame is held until the
  next one would have come, and the encoder's fragment stores its constant durations once in the tfhd;
- sources with chapters (`-map_chapters`, as editors and download tools write them), MP4 and Matroska;
- an internal error: one line and its documented exit code, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.errors import INTERNAL_EXIT_CODE
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples import AAC, tone, video_source, with_chapters
from tests.probe import audio_seconds, decode_warnings, ffprobe
from tests.stream_checks import assert_package
from tests.stream_probe import frame_times

# veryfast has B-frames: the encoder's decode steps stay constant where the source's presentation holds a frame
ARGS = ("--preset", "veryfast", "--segment-seconds", "1", "--quiet")


def x26x(codec: str, rate: int) -> list[str]:
    if codec == "h264":
        return ["-c:v", "libx264", "-preset", "veryfast", "-g", str(rate), "-pix_fmt", "yuv420p"]
    return ["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1", "-pix_fmt", "yuv420p",
            "-x265-params", f"keyint={rate}:min-keyint={rate}:bframes=3:open-gop=0:log-level=error"]  # fmt: skip


def clip(folder: Path, codec: str, rate: int = 30, seconds: float = 4.0) -> Path:
    out = folder / f"{codec}.mp4"
    if not out.exists():
        run_ffmpeg([*video_source("320x240", str(rate), seconds), *tone(seconds), *x26x(codec, rate), *AAC,
                    "-f", "mp4", str(out)])  # fmt: skip
    return out


def stream_copied_cut(name: str, folder: Path) -> Path:
    """The first 3 s of a clip by stream copy, as users cut them."""
    codec, container, faststart = {"h264_mp4": ("h264", "mp4", False), "h264_mp4_faststart": ("h264", "mp4", True),
                                   "hevc_mp4": ("h265", "mp4", False), "h264_mkv": ("h264", "matroska", False)}[name]  # fmt: skip
    out = folder / f"cut_{name}.{'mkv' if container == 'matroska' else 'mp4'}"
    flags = ["-movflags", "+faststart"] if faststart else []
    run_ffmpeg(["-i", str(clip(folder, codec)), "-t", "3", "-c", "copy", *flags, "-f", container, str(out)])
    return out


def chaptered(container: str, folder: Path) -> Path:
    out = folder / f"chapters.{'mkv' if container == 'matroska' else 'mp4'}"
    with_chapters(clip(folder, "h264"), out, 4.0, container)
    return out


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("issue15")


def transcode(source: Path, out: Path, *extra: str) -> dict:
    report = out.parent / f"{out.name}.report.json"
    code = main(["transcode", str(source), "-o", str(out), "--report", str(report), *ARGS, *extra])
    assert code == 0, json.loads(report.read_text())["verification"] if report.exists() else code
    return json.loads(report.read_text())


def last_frame_end(path: Path) -> Fraction:
    """Where the last frame ends as ffmpeg's tools see it (its pts plus its packet's duration), from the first."""
    data = ffprobe("-select_streams", "v:0", "-show_entries", "packet=pts,duration:stream=time_base", str(path))
    tb = Fraction(data["streams"][0]["time_base"])
    pts = [(int(p["pts"]), int(p.get("duration", 0))) for p in data["packets"]]
    return (max(p + d for p, d in pts) - min(p for p, _ in pts)) * tb


def assert_exact_file(source: Path, out: Path, report: dict) -> None:
    """Every source frame once at its source time, the last one as long as in the source, the same audio, a
    clean decode."""
    assert report["verification"]["ok"] is True
    got, expected = frame_times(out), frame_times(source)
    tolerance = Fraction(1, 1000) if out.suffix == ".mkv" else 0  # Matroska keeps milliseconds
    assert len(got) == len(expected) and max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= tolerance
    assert abs(last_frame_end(out) - last_frame_end(source)) <= Fraction(1, 1000)
    assert decode_warnings(out) == ""
    assert abs(audio_seconds(out, 0) - audio_seconds(source, 0)) <= 0.020


CUTS = ["h264_mp4", "h264_mp4_faststart", "hevc_mp4", "h264_mkv"]


# Known regression (issue 15, open): since the held-frames refit (retime) and the stream-copy patch were merged,
# the output's last frame of a stream-copied cut lasts one frame longer than the source's (3.200 s, source 3.133 s).
# The job itself succeeds; these tests measure the file and hold the bug in view until it is fixed.
LAST_FRAME_REGRESSION = pytest.mark.xfail(
    strict=True, reason="last frame of a cut one frame long after the retime merge"
)


@LAST_FRAME_REGRESSION
@pytest.mark.parametrize("name", CUTS)
def test_a_stream_copied_cut_transcodes_exactly_to_a_file(name: str, folder: Path, tmp_path: Path) -> None:
    source = stream_copied_cut(name, folder)
    out = tmp_path / "out.mp4"
    assert_exact_file(source, out, transcode(source, out))


@LAST_FRAME_REGRESSION
@pytest.mark.parametrize("name", ["h264_mp4", "hevc_mp4"])
def test_a_stream_copied_cut_transcodes_exactly_to_matroska(name: str, folder: Path, tmp_path: Path) -> None:
    """Matroska keeps each frame's duration as the MP4's sample duration: the held last frame must not take
    the hold with it."""
    source = stream_copied_cut(name, folder)
    out = tmp_path / "out.mkv"
    assert_exact_file(source, out, transcode(source, out))


@pytest.mark.parametrize("name", CUTS)
def test_a_stream_copied_cut_packages_exactly_as_cmaf(name: str, folder: Path, tmp_path: Path) -> None:
    source = stream_copied_cut(name, folder)
    report = transcode(source, tmp_path / "out", "--format", "cmaf", "--ladder", "240")
    assert_package(tmp_path / "out", "cmaf", report, source)


@pytest.mark.parametrize("container", ["mp4", "matroska"])
def test_a_source_with_chapters_transcodes_to_a_file_of_video_and_audio(container: str, folder: Path,
                                                                        tmp_path: Path) -> None:  # fmt: skip
    source = chaptered(container, folder)
    assert len(ffprobe("-show_chapters", str(source))["chapters"]) == 2
    out = tmp_path / "out.mp4"
    assert_exact_file(source, out, transcode(source, out))
    kinds = [s["codec_type"] for s in ffprobe("-show_streams", str(out))["streams"]]
    assert kinds == ["video", "audio"]  # no chapter (text) track came along with the segments


@pytest.mark.parametrize("container", ["mp4", "matroska"])
def test_a_source_with_chapters_packages_as_cmaf(container: str, folder: Path, tmp_path: Path) -> None:
    source = chaptered(container, folder)
    report = transcode(source, tmp_path / "out", "--format", "cmaf", "--ladder", "240")
    assert_package(tmp_path / "out", "cmaf", report, source)


FORCED = """
import sys
from splitstitch import fmp4, fmp4_patch
from splitstitch.cli import main

def broken(data, patch):
    raise fmp4.Mp4Error("forced in a test")

fmp4_patch.patch_fragments = broken
sys.exit(main(sys.argv[1:]))
"""


def test_a_forced_internal_error_is_one_line_and_exit_4_with_nothing_left(folder: Path, tmp_path: Path) -> None:
    source, out = clip(folder, "h264"), tmp_path / "out" / "film.mp4"
    out.parent.mkdir()
    proc = subprocess.run([sys.executable, "-c", FORCED, "transcode", str(source), "-o", str(out), *ARGS],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == INTERNAL_EXIT_CODE == 4, proc.stderr
    assert proc.stderr.splitlines() == [
        "error: internal error (Mp4Error): forced in a test; a bug in splitstitch, run with -v for where"
    ]
    assert list(out.parent.iterdir()) == []  # nothing partial at the output path
