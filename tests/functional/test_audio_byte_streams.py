"""Audio whose packets do not line up with codec frames (AC-3 and MP3 in AVI, MP2 in MPEG-PS), starting
before and after the first video frame: transcoded, verified, and checked with the tests' own probes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.inputs import open_source
from splitstitch.samples_audio import make_avi_byte_audio, make_ps_mp2
from splitstitch.source import MediaSource
from tests.probe import facts, ffprobe

SECONDS = 4.0
# Offsets are of the audio from the video's first frame slot; packed B-frames delay the first decoded video
# frame by one more slot (40 ms), so offset 0 is audio 40 ms before the first frame: the shape of the real
# AC-3 AVI that lost 469 ms to an input-side seek (here the seek lost 56 ms of AC-3).
SOURCES: dict[str, tuple[str, float, Callable[[Path], Path]]] = {  # kind: ext, audio start - first frame, make
    "ac3_avi_lead40": (".avi", -0.04, lambda p: make_avi_byte_audio(p, "ac3", SECONDS, 0.0)),
    "ac3_avi_lead240": (".avi", -0.24, lambda p: make_avi_byte_audio(p, "ac3", SECONDS, -0.2)),
    "ac3_avi_lag260": (".avi", 0.26, lambda p: make_avi_byte_audio(p, "ac3", SECONDS, 0.3)),
    "mp3_avi_lead40": (".avi", -0.04, lambda p: make_avi_byte_audio(p, "mp3", SECONDS, 0.0)),
    "mp3_avi_lead240": (".avi", -0.24, lambda p: make_avi_byte_audio(p, "mp3", SECONDS, -0.2)),
    "mp3_avi_lag260": (".avi", 0.26, lambda p: make_avi_byte_audio(p, "mp3", SECONDS, 0.3)),
    "mp2_ps_lead210": (".mpg", -0.21, lambda p: make_ps_mp2(p, SECONDS, -0.2)),
    "mp2_ps_lag290": (".mpg", 0.29, lambda p: make_ps_mp2(p, SECONDS, 0.3)),
}
# Audio that starts after the video gets an empty edit of that delay, then the edit that skips the AAC
# priming (FFmpeg's own MP4 mux presented the 1024 priming samples before the delayed start: 21.3 ms).
CASES = [(kind, ext) for kind in SOURCES for ext in (".mp4", ".mkv")]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    folder, made = tmp_path_factory.mktemp("byte_audio"), {}

    def get(kind: str) -> Path:
        if kind not in made:
            ext, _, make = SOURCES[kind]
            made[kind] = make(folder / f"{kind}{ext}")
        return made[kind]

    return get


def decoded_audio(path: Path) -> tuple[float, float]:
    """First decoded audio frame's timestamp and the seconds presented: every decoded sample, except that a
    frame lasts no longer than its packet (MP4 ends AAC's last frame early, its padding is not presented)."""
    data = ffprobe("-select_streams", "a:0", "-show_entries", "frame=pts_time,duration_time,nb_samples",
                   "-show_entries", "stream=sample_rate", str(path))  # fmt: skip
    rate, frames = int(data["streams"][0]["sample_rate"]), data["frames"]
    seconds = sum(min(int(f["nb_samples"]) / rate, float(f.get("duration_time", "inf"))) for f in frames)
    return float(frames[0]["pts_time"]), seconds


def frames_straddling_packets(path: Path) -> int:
    """Audio frames that do not start where a container packet starts (the demuxer's parser cut them out of
    the middle of one: ffprobe shows no file position for them)."""
    packets = ffprobe("-select_streams", "a:0", "-show_entries", "packet=pos", str(path))["packets"]
    return sum(1 for p in packets if "pos" not in p)


@pytest.mark.parametrize(("kind", "ext"), CASES)
def test_audio_is_kept_to_the_sample(kind: str, ext: str, source, tmp_path: Path) -> None:
    src = source(kind)
    src_facts = facts(src)
    src_start, src_seconds = decoded_audio(src)
    src_offset = src_start - src_facts.video_start
    # the source has the shape it is meant to have
    assert abs(src_offset - SOURCES[kind][1]) < 0.015, src_offset
    assert frames_straddling_packets(src) > 0

    out, report = tmp_path / f"out{ext}", tmp_path / "report.json"
    code = main(["transcode", str(src), "-o", str(out), "--segment-seconds", "1.5", "--preset", "ultrafast",
                 "--report", str(report), "--quiet"])  # fmt: skip
    assert code == 0, json.loads(report.read_text())["verification"] if report.exists() else code

    expected_len = src_seconds - max(0.0, -src_offset)  # what precedes the first video frame goes
    out_start, got_len = decoded_audio(out)
    assert abs(got_len - expected_len) <= 0.020, (got_len, expected_len)
    got_offset = out_start - facts(out).video_start
    assert abs(got_offset - max(0.0, src_offset)) <= 0.020, (got_offset, src_offset)


@pytest.mark.parametrize("kind", [*SOURCES, "cfr", "mpeg2_ps", "packed_avi", "hevc_opus_mkv", "two_audio"])
def test_the_audio_extent_verification_expects_is_what_decodes(kind: str, source, samples) -> None:
    """Verification's "expected" figures come from the source's audio extent: it must be where the decoded
    audio starts and how long it plays."""
    src = source(kind) if kind in SOURCES else samples(kind)
    info = open_source(MediaSource.local(src))
    extent = info.audio_extent(info.audio[0].index)
    assert extent
    start, seconds = decoded_audio(src)
    tolerance = 0.001 + float(info.audio[0].time_base)  # Matroska stores milliseconds
    assert abs(extent[0] - start) <= tolerance, (extent, start)
    assert abs((extent[1] - extent[0]) - seconds) <= tolerance, (extent, seconds)
