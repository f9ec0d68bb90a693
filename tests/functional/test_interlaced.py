"""Interlaced sources (DVD/SVCD MPEG-2, broadcast H.264; top or bottom field first; flags that lie) come out
progressive, with every source frame once at its source time, and the report says what was detected and done.

The tests judge the pictures with their own idet run (combing), not only the flags."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch.cli import main
from tests.interlace_probe import combing, field_order, looks_progressive
from tests.probe import decode_warnings, facts
from tests.stream_checks import video_playlists
from tests.stream_probe import frame_times, rung_frame_times

# kind -> the field displayed first (the deinterlacer's parity): the pictures' own, whatever the flag says
INTERLACED = {
    "interlaced_dvd_tff": "tff", "interlaced_mpeg2_ts_bff": "bff", "interlaced_h264_ts_tff": "tff",
    "interlaced_h264_bff": "bff", "combed_flagged_progressive": "tff",
}  # fmt: skip


def transcode(source: Path, out: Path, *extra: str) -> dict:
    report = out.parent / f"{out.name}.report.json"
    code = main(["transcode", str(source), "-o", str(out), "--preset", "ultrafast", "--segment-seconds", "1.5",
                 "--report", str(report), "--quiet", *extra])  # fmt: skip
    assert code == 0
    return json.loads(report.read_text())


@pytest.mark.parametrize("kind", sorted(INTERLACED))
def test_interlaced_source_comes_out_progressive_and_exact(kind: str, samples, tmp_path: Path) -> None:
    source = samples(kind)
    parity = INTERLACED[kind]
    assert not looks_progressive(combing(source))  # the test media are combed
    out = tmp_path / "out.mp4"
    report = transcode(source, out)
    assert report["verification"]["ok"] is True
    assert len(report["plan"]["segments"]) >= 2  # the joins are deinterlaced too
    # progressive: flagged so, and no combing left in the pictures
    assert field_order(out) == "progressive"
    assert looks_progressive(combing(out)), combing(out)
    # every source frame once, at its source time
    assert frame_times(out) == frame_times(source)
    assert decode_warnings(out) == ""
    # the report says what was detected and what was done
    done = report["interlace"]
    assert done["deinterlaced"] is True and done["interlaced"] is True, done["summary"]
    assert done["filter"] == f"bwdif=mode=send_frame:parity={parity}:deint=all"
    assert done["field_order"] == field_order(source)
    assert "deinterlaced" in done["summary"] and ("unlike its flag" in done["summary"]) == (kind.startswith("combed"))


def test_progressive_pictures_flagged_interlaced_are_left_alone(samples, tmp_path: Path) -> None:
    source = samples("progressive_flagged_interlaced")
    assert field_order(source) == "tt"
    out = tmp_path / "out.mp4"
    report = transcode(source, out)
    done = report["interlace"]
    assert done["deinterlaced"] is False and done["interlaced"] is False, done["summary"]
    assert "unlike its flag" in done["summary"] and "not deinterlaced" in done["summary"]
    assert frame_times(out) == frame_times(source)


def test_the_summary_line_says_deinterlaced(samples, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mp4"
    assert main(["transcode", str(samples("interlaced_h264_bff")), "-o", str(out), "--preset", "ultrafast"]) == 0
    assert ", deinterlaced (bff), verified" in capsys.readouterr().err.splitlines()[-1]


def test_deinterlace_off_keeps_the_fields_as_they_are(samples, tmp_path: Path) -> None:
    source = samples("interlaced_h264_ts_tff")
    out = tmp_path / "out.mp4"
    report = transcode(source, out, "--deinterlace", "off")
    done = report["interlace"]
    assert done["deinterlaced"] is False and done["idet"] is None  # nothing sampled
    assert "--deinterlace off" in done["summary"]
    assert report["settings"]["deinterlace"] == "off"
    assert not looks_progressive(combing(out))
    assert frame_times(out) == frame_times(source)


def test_deinterlace_on_without_a_field_order_uses_each_frames_own(samples, tmp_path: Path) -> None:
    source = samples("cfr")  # progressive H.264: deinterlaced because asked, the frames' own parity
    out = tmp_path / "out.mp4"
    report = transcode(source, out, "--deinterlace", "on")
    assert report["interlace"]["deinterlaced"] is True
    assert report["interlace"]["filter"] == "bwdif=mode=send_frame:parity=auto:deint=all"
    assert frame_times(out) == frame_times(source)


def test_streaming_rungs_are_deinterlaced(samples, tmp_path: Path) -> None:
    source = samples("interlaced_mpeg2_ts_bff")
    report = transcode(source, tmp_path / "out", "--format", "hls", "--ladder", "288,144")
    assert report["verification"]["ok"] is True
    assert report["interlace"]["deinterlaced"] is True
    assert report["interlace"]["filter"] == "bwdif=mode=send_frame:parity=bff:deint=all"
    rungs = video_playlists(tmp_path / "out" / "master.m3u8")
    assert len(rungs) == 2
    for rung in rungs.values():
        assert rung_frame_times(rung.init, rung.segments) == frame_times(source)
        joined = tmp_path / "joined.mp4"
        joined.write_bytes(b"".join(p.read_bytes() for p in (rung.init, *rung.segments)))
        assert field_order(joined) == "progressive"
        assert looks_progressive(combing(joined)), combing(joined)


def test_rotated_interlaced_source_is_deinterlaced_before_it_is_turned(samples, tmp_path: Path) -> None:
    """Fields are rows of the coded picture: detection and bwdif see it unrotated, the rotation comes after."""
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-display_rotation", "90", "-i",
                    str(samples("interlaced_h264_bff")), "-c", "copy", str(rotated)], check=True, timeout=60)  # fmt: skip
    out = tmp_path / "out.mp4"
    report = transcode(rotated, out)
    assert report["interlace"]["filter"] == "bwdif=mode=send_frame:parity=bff:deint=all", report["interlace"]
    assert report["interlace"]["idet"]["bff"] > 0
    assert facts(out).display == facts(rotated).display == (240, 320) and facts(out).rotation == 0
    assert looks_progressive(combing(out, turn="transpose=clock")), combing(out, turn="transpose=clock")
    assert frame_times(out) == frame_times(rotated)


@pytest.mark.parametrize(
    ("codec", "name", "extra"), [("h265", "out.mp4", ("--verify", "full")), ("vp9", "out.webm", ())]
)
def test_other_codecs_come_out_progressive_and_ffprobe_says_so(codec, name, extra, samples, tmp_path: Path) -> None:
    source = samples("interlaced_mpeg2_ts_bff")
    out = tmp_path / name
    report = transcode(source, out, "--codec", codec, *extra)
    checks = {c["name"]: c for c in report["verification"]["checks"]}
    assert checks["probe_progressive"]["ok"] and "field order progressive" in checks["probe_progressive"]["detail"]
    assert field_order(out) == "progressive" and looks_progressive(combing(out)), combing(out)
    assert frame_times(out) == frame_times(source)


def frame_hashes(path: Path, vf: str = "") -> list[str]:
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                           *(["-vf", vf] if vf else []), "-fps_mode", "passthrough", "-pix_fmt", "yuv420p",
                           "-f", "framemd5", "-"], capture_output=True, text=True, check=True, timeout=300)  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in proc.stdout.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("kind", ["interlaced_dvd_tff", "interlaced_h264_bff", "combed_flagged_progressive"])
def test_lossless_encode_is_one_whole_file_deinterlace_at_the_joins_too(kind: str, samples, tmp_path: Path) -> None:
    """Each encoder deinterlaces before it trims, so the frames either side of a join are deinterlaced with
    their real neighbours: x264 CRF 0 gives back, bit for bit, what one bwdif pass over the file gives."""
    source = samples(kind)
    out = tmp_path / "lossless.mkv"
    assert main(["transcode", str(source), "-o", str(out), "--crf", "0", "--preset", "ultrafast",
                 "--segment-seconds", "0.5", "--quiet"]) == 0  # fmt: skip
    expected = frame_hashes(source, f"bwdif=mode=send_frame:parity={INTERLACED[kind]}:deint=all")
    got = frame_hashes(out)
    assert len(got) == len(expected)
    assert [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b] == []
