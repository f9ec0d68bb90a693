"""Streaming packages of sources of every shape (issue 15, items 5 and 6): portrait, rotated by a display
matrix, anamorphic (SAR != 1), audio tracks with language tags, and a short tail on the segment target. Each
package is checked as every package is (tests/stream_checks.py: every manifest number measured from the files,
the spec rules of RFC 8216 and ISO/IEC 23009-1 included), plus what the shape asks for."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import m3u8
import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples import AAC, TEXTURE, tone, video_source, x264
from tests.probe import ffprobe
from tests.stream_checks import assert_package

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}


def transcode(source: Path, out: Path, *args: str) -> dict:
    report = out.parent / "report.json"
    code = main(["transcode", str(source), "-o", str(out), "--format", "cmaf", "--preset", "ultrafast",
                 "--report", str(report), "--quiet", *args])  # fmt: skip
    assert code == 0
    return json.loads(report.read_text())


def rungs(report: dict) -> list[tuple[str, int, int]]:
    return [(r["name"], r["width"], r["height"]) for r in report["output"]["rungs"]]


def resolutions(out: Path) -> list[tuple[int, int]]:
    return [p.stream_info.resolution for p in m3u8.load(str(out / "master.m3u8")).playlists]


def video_files(out: Path) -> dict[str, tuple[int, int, str]]:
    """Per rung folder: the coded width, height and sample aspect ratio of what was written."""
    found = {}
    for folder in sorted((out / "video").iterdir()):
        joined = folder / "joined.mp4"
        joined.write_bytes((folder / "init.mp4").read_bytes() + (folder / "00000.m4s").read_bytes())
        s = ffprobe("-show_streams", str(joined))["streams"][0]
        joined.unlink()
        found[folder.name] = (s["width"], s["height"], s.get("sample_aspect_ratio", "1:1"))
    return found


@pytest.mark.slow  # a 1080x1920 rung
def test_portrait_rungs_are_named_by_the_short_side(tmp_path: Path) -> None:
    source = tmp_path / "portrait.mp4"  # a phone video stored portrait: 1080x1920 pixels
    run_ffmpeg([*video_source("1080x1920", "30", 2.0), *tone(2.0), *x264(30), *AAC, "-f", "mp4", str(source)])
    out = tmp_path / "out"
    report = transcode(source, out, "--ladder", "1440,1080,360", "--segment-seconds", "1")
    assert rungs(report) == [("1080p", 1080, 1920), ("360p", 360, 640)]  # 1440 dropped: never upscales
    assert resolutions(out) == [(1080, 1920), (360, 640)]
    assert {k: v[:2] for k, v in video_files(out).items()} == {"1080p": (1080, 1920), "360p": (360, 640)}
    assert_package(out, "cmaf", report, source)


def test_a_display_matrix_makes_landscape_pixels_a_portrait_ladder(tmp_path: Path) -> None:
    plain, source = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    run_ffmpeg([*video_source("640x360", "30", 2.0), *tone(2.0), "-vf", TEXTURE, *x264(30), *AAC, "-f", "mp4",
                str(plain)])  # fmt: skip
    run_ffmpeg(["-display_rotation", "90", "-i", str(plain), "-c", "copy", "-f", "mp4", str(source)])
    out = tmp_path / "out"
    report = transcode(source, out, "--ladder", "720,360,240", "--segment-seconds", "1")
    assert report["source"]["video"]["display_size"] == [360, 640]
    (top, top_w, top_h), (low, low_w, low_h) = rungs(report)
    assert (top, top_w, top_h) == ("360p", 360, 640)  # the rotation applied, labelled by the short side
    assert low == "240p" and low_w == 240 and abs(low_h - 240 * 640 / 360) <= 2 and low_h % 2 == 0
    assert resolutions(out) == [(360, 640), (low_w, low_h)]
    assert_package(out, "cmaf", report, source)


def test_anamorphic_rungs_declare_their_sar_and_display_size(tmp_path: Path) -> None:
    source = tmp_path / "pal.mp4"  # PAL 4:3 stored as 720x576 with 16:15 pixels: displayed 768x576
    run_ffmpeg([*video_source("720x576", "25", 2.0), *tone(2.0), "-vf", f"{TEXTURE},setsar=16/15", *x264(25), *AAC,
                "-f", "mp4", str(source)])  # fmt: skip
    out = tmp_path / "out"
    report = transcode(source, out, "--ladder", "576,288", "--segment-seconds", "1")
    files = video_files(out)
    assert files == {"576p": (720, 576, "16:15"), "288p": (360, 288, "16:15")}
    assert resolutions(out) == [(768, 576), (384, 288)]  # HLS RESOLUTION: the display size
    root = ET.parse(out / "manifest.mpd").getroot()
    reps = [r for r in root.iterfind(".//d:Representation", NS) if r.get("width")]
    assert [(r.get("width"), r.get("height"), r.get("sar")) for r in reps] == [
        ("720", "576", "16:15"), ("360", "288", "16:15")]  # fmt: skip
    assert_package(out, "cmaf", report, source)


def test_audio_languages_and_default_follow_the_specs(tmp_path: Path) -> None:
    source = tmp_path / "languages.mp4"
    run_ffmpeg([*video_source("320x240", "30", 2.0), *tone(2.0, 440), *tone(2.0, 550), *tone(2.0, 660),
                *tone(2.0, 770), "-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:a", "-map", "4:a",
                "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fre",
                "-metadata:s:a:2", "language=haw", *x264(30), *AAC, "-f", "mp4", str(source)])  # fmt: skip
    out = tmp_path / "out"
    report = transcode(source, out, "--ladder", "240", "--audio-tracks", "all", "--segment-seconds", "1")
    media = m3u8.load(str(out / "master.m3u8")).media
    assert [(m.name, m.language, m.default, m.autoselect) for m in media] == [
        ("a0-stereo", "en", "YES", "YES"),  # ISO 639-2 eng -> en (RFC 5646: the shortest ISO 639 code)
        ("a1-stereo", "fr", "NO", "YES"),  # fre (bibliographic) -> fr
        ("a2-stereo", "haw", "NO", "YES"),  # no 2-letter code: kept
        ("a3-stereo", "und", "NO", "YES"),  # untagged (MP4 stores "und"): undetermined
    ]  # fmt: skip
    root = ET.parse(out / "manifest.mpd").getroot()
    assert [s.get("lang") for s in root.iterfind(".//d:AdaptationSet", NS) if s.get("contentType") == "audio"] == [
        "en", "fr", "haw", "und"]  # fmt: skip
    assert_package(out, "cmaf", report, source)


@pytest.mark.parametrize(("seconds", "target", "count"), [(4.6, 2.0, 3), (7.2, 3.0, 3)])
def test_a_short_tail_never_stretches_the_last_segment_past_the_target(seconds: float, target: float, count: int,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    source = tmp_path / "tail.mp4"  # a tail under half the target: file mode joins it to the segment before
    run_ffmpeg([*video_source("320x240", "30", seconds), *tone(seconds), *x264(30), *AAC, "-f", "mp4", str(source)])
    out = tmp_path / "out"
    report = transcode(source, out, "--ladder", "240", "--segment-seconds", str(target))
    assert len(report["plan"]["segments"]) == count
    playlist = m3u8.load(str(out / "video" / "240p" / "playlist.m3u8"))
    assert playlist.target_duration == math.floor(Fraction(target) + Fraction(1, 2))
    assert all(math.floor(Fraction(s.duration) + Fraction(1, 2)) <= playlist.target_duration for s in playlist.segments)
    assert_package(out, "cmaf", report, source)


def test_file_mode_height_names_the_short_side_too(samples, tmp_path: Path) -> None:
    source = samples("rotation90")  # 320x240 pixels with a 90-degree display matrix: shown 240x320
    out = tmp_path / "out.mp4"
    assert main(["transcode", str(source), "-o", str(out), "--height", "120", "--preset", "ultrafast",
                 "--segment-seconds", "2", "--quiet"]) == 0  # fmt: skip
    stream = ffprobe("-show_streams", "-select_streams", "v", str(out))["streams"][0]
    assert (stream["width"], stream["height"]) == (120, 160)  # the rotation applied, then 120 on the short side
