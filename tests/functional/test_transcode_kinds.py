"""Every kind of input through the real pipeline, checked with the tests' own ffprobe calls (step 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch.cli import main
from tests.probe import audio_seconds, decode_warnings, decoded_frames, facts

# kind -> how far before a segment its encoder must seek (containers whose seeks can land late: two keyframes)
EXPECTED_SEEK = {
    "cfr": "keyframe", "vfr": "keyframe", "rotation90": "keyframe", "long_gop": "keyframe", "open_gop": "keyframe",
    "no_audio": "keyframe", "two_audio": "keyframe", "ten_bit": "keyframe", "odd_dims": "keyframe",
    "mpeg2_ps": "two_keyframes", "packed_avi": "two_keyframes", "hevc_opus_mkv": "keyframe", "surround": "keyframe",
}  # fmt: skip
# kinds whose GOPs are too long or open for every cut to land on a clean keyframe near 1.5 s
MID_GOP_CUTS = {"long_gop", "open_gop"}


def run_cli(*args: str) -> int:
    return main(list(args))


@pytest.mark.parametrize("kind", sorted(EXPECTED_SEEK))
def test_kind_transcodes_exactly(kind: str, samples, tmp_path: Path) -> None:
    source = samples(kind)
    before = source.read_bytes()
    out, report_path = tmp_path / "out.mp4", tmp_path / "report.json"
    code = run_cli("transcode", str(source), "-o", str(out), "--segment-seconds", "1.5", "--preset", "ultrafast",
                   "--audio-tracks", "all", "--report", str(report_path), "--quiet")  # fmt: skip
    assert code == 0
    report = json.loads(report_path.read_text())
    assert report["plan"]["seek"] == EXPECTED_SEEK[kind], report["plan"]["reason"]
    segments = report["plan"]["segments"]
    assert len(segments) >= 2
    if kind in MID_GOP_CUTS:
        assert not all(s["on_keyframe"] for s in segments), report["plan"]["reason"]
    assert report["verification"]["ok"] is True

    src, dst = facts(source), facts(out)
    vfr = report["source"]["video"]["vfr"]
    assert abs(dst.frames - src.frames) <= (1 if vfr else 0), (dst.frames, src.frames)
    assert abs(dst.video_seconds - src.video_seconds) <= src.frame_seconds + 1e-3
    # displayed orientation kept, rotation baked in once (no display matrix left to apply again)
    assert dst.rotation == 0
    assert (dst.display[0] > dst.display[1]) == (src.display[0] > src.display[1])
    assert abs(dst.display[0] / dst.display[1] - src.display[0] / src.display[1]) < 0.02
    # audio present exactly when the source has it, every track, same channels, no drift at the end
    assert len(dst.audio) == len(src.audio)
    trim = report["audio"]["trim_start_s"] if report["audio"] else 0.0
    for n, (a_src, a_dst) in enumerate(zip(src.audio, dst.audio, strict=True)):
        assert a_dst["channels"] == a_src["channels"]
        len_src, len_dst = audio_seconds(source, n), audio_seconds(out, n)
        assert abs(len_dst - (len_src - trim)) <= 0.020, (len_dst, len_src, trim)
        end_gap_src = float(a_src["start_time"]) + len_src - (src.video_start + src.video_seconds)
        end_gap_dst = float(a_dst["start_time"]) + len_dst - (dst.video_start + dst.video_seconds)
        assert abs(end_gap_dst - end_gap_src) <= 0.020, (end_gap_dst, end_gap_src)
    assert decode_warnings(out) == ""
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("codec", "name"), [("h265", "out.mkv"), ("vp9", "out.webm"), ("av1", "out.mp4"), ("h265", "out.mp4")]
)
def test_codecs_and_containers(codec: str, name: str, samples, tmp_path: Path) -> None:
    source = samples("cfr")
    out = tmp_path / name
    assert run_cli("transcode", str(source), "-o", str(out), "--codec", codec, "--preset", "ultrafast",
                   "--segment-seconds", "2", "--height", "120", "--quiet") == 0  # fmt: skip
    assert decoded_frames(out) == decoded_frames(source)
    assert facts(out).display == (160, 120)
    assert decode_warnings(out) == ""


def test_codec_that_container_cannot_hold_is_refused(samples, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.webm"
    assert run_cli("transcode", str(samples("cfr")), "-o", str(out), "--quiet") == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert not out.exists()
