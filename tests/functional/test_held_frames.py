"""Frames held longer than their neighbours (issue 15 item 2), wherever they fall: an Android phone's long first
frame, frames held mid-file, a held last frame, an AVI capture's dropped frames, VFR with pauses. Encoded with
B-frame presets, in the file mode and the streaming mode; the output must keep every source frame once, on its
own timestamp, and last as long as the source. Measured with the tests' own ffprobe calls."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples_broken import dropped_frames_avi
from tests.probe import decode_warnings, ffprobe
from tests.stream_checks import (
    assert_dash_timeline_equals_the_files,
    assert_every_rung_decodes_every_source_frame,
    assert_every_uri_exists,
    assert_hls_durations_equal_the_plan,
    manifests,
)
from tests.stream_probe import frame_times

SECONDS = 3.0
VIDEO = f"testsrc2=size=192x144:rate=30:duration={SECONDS}"
AUDIO = f"sine=frequency=440:duration={SECONDS + 0.4}"
NO_B = ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "30", "-fps_mode", "passthrough"]
# frame n's time: a 0.3 s first frame (Android); holds mid-file, where 1 s segments end and start; a VFR screencast
# with irregular steps and a 1.2 s pause
HELD_FIRST = "setpts='PTS+gte(N\\,1)*0.3/TB'"
HELD_MIDDLE = "setpts='PTS+(gte(N\\,12)*0.25+gte(N\\,30)*0.6+gte(N\\,31)*0.15+gte(N\\,59)*0.6+gte(N\\,75)*0.6)/TB'"
VFR_PAUSES = "setpts='(N*0.05+0.015*mod(N\\,3)+gte(N\\,40)*1.2+gte(N\\,41)*0.2)/TB'"
SHAPES = {
    "held_first_mp4": ".mp4",  # with AAC audio, as a phone records
    "held_first_mkv": ".mkv",
    "held_middle_mp4": ".mp4",
    "held_last_mp4": ".mp4",  # the file's last frame lasts 0.5 s (its sample's duration)
    "dropped_avi_vp9": ".avi",  # empty index entries: the frame before each stays on screen
    "vfr_pauses_mkv": ".mkv",
}


def make(shape: str, out: Path) -> None:
    video = ["-f", "lavfi", "-i", VIDEO]
    if shape == "dropped_avi_vp9":
        dropped_frames_avi(out, "vp9", SECONDS)
    elif shape == "held_first_mp4":
        run_ffmpeg([*video, "-f", "lavfi", "-i", AUDIO, "-vf", HELD_FIRST, *NO_B, "-c:a", "aac", "-shortest",
                    "-video_track_timescale", "90000", str(out)])  # fmt: skip
    elif shape == "held_first_mkv":
        run_ffmpeg([*video, "-vf", HELD_FIRST, *NO_B, str(out)])
    elif shape == "held_middle_mp4":
        run_ffmpeg([*video, "-vf", HELD_MIDDLE, *NO_B, "-video_track_timescale", "90000", str(out)])
    elif shape == "held_last_mp4":  # setts counts in the encoder's time base, 1/30 s: 15 ticks = 0.5 s
        last = round(SECONDS * 30) - 1
        run_ffmpeg([*video, *NO_B, "-bsf:v", f"setts=duration=if(eq(N\\,{last})\\,15\\,DURATION)", str(out)])
    else:
        run_ffmpeg([*video, "-vf", VFR_PAUSES, *NO_B, str(out)])


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("held")
    made: dict[str, Path] = {}

    def get(shape: str) -> Path:
        if shape not in made:
            made[shape] = folder / f"{shape}{SHAPES[shape]}"
            make(shape, made[shape])
        return made[shape]

    return get


def video_span(path: Path) -> Fraction:
    """What the video lasts: from the first frame's time to the end of the frame shown last, the latter's
    duration being its packet's (what the container stores for it), exact in the stream's time base."""
    data = ffprobe("-select_streams", "v:0", "-show_entries", "packet=pts,duration,flags:stream=time_base", str(path))
    tb = Fraction(data["streams"][0]["time_base"])
    packets = [p for p in data["packets"] if "pts" in p and "D" not in p.get("flags", "")]
    last = max(packets, key=lambda p: int(p["pts"]))
    return (int(last["pts"]) + int(last["duration"]) - min(int(p["pts"]) for p in packets)) * tb


def decode_span(path: Path) -> Fraction:
    """The sum of the video's sample durations (decode time), which a fragmented output's segments join on."""
    data = ffprobe("-select_streams", "v:0", "-show_entries", "packet=duration:stream=time_base", str(path))
    return sum(int(p["duration"]) for p in data["packets"]) * Fraction(data["streams"][0]["time_base"])


def transcode(source: Path, out: Path, *extra: str) -> dict:
    report = out.parent / f"{out.name}.report.json"
    code = main(["transcode", str(source), "-o", str(out), "--segment-seconds", "1", "--report", str(report),
                 "--quiet", *extra])  # fmt: skip
    assert code == 0
    return json.loads(report.read_text())


def assert_exact(source: Path, out: Path) -> None:
    """Every source frame once, each on its own time (so each but the last lasts as in the source), and the
    whole as long as the source (so the last frame too); a clean decode."""
    expected, got = frame_times(source), frame_times(out)
    assert len(got) == len(expected)
    assert got == expected
    span = video_span(source)
    durations = [b - a for a, b in zip(expected, [*expected[1:], span], strict=True)]
    assert max(durations) >= Fraction(1, 5)  # the shape holds a frame
    assert decode_span(out) == span
    assert decode_warnings(out) == ""


FILE_CASES = [(shape, "medium") for shape in sorted(SHAPES)] + [("held_first_mp4", "veryfast"),
                                                                 ("dropped_avi_vp9", "veryfast")]  # fmt: skip


@pytest.mark.parametrize(("shape", "preset"), FILE_CASES)
def test_held_frames_file_mode(shape: str, preset: str, shapes, tmp_path: Path) -> None:
    source, out = shapes(shape), tmp_path / "out.mp4"
    report = transcode(source, out, "--preset", preset)
    assert report["verification"]["ok"] is True
    assert_exact(source, out)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_held_frames_streaming(shape: str, shapes, tmp_path: Path) -> None:
    """The package's numbers against its files, every source frame on its time in every rung, and the rung's
    samples lasting as long as the source. (Not `assert_package`'s "each segment starts the same way": how far
    ffmpeg's demuxer moves a segment's first pts depends on its most negative composition offset, which
    differs between segments once frames are held.)"""
    source, out = shapes(shape), tmp_path / "package"
    report = transcode(source, out, "--preset", "medium", "--format", "cmaf", "--ladder", "144")
    assert report["verification"]["ok"] is True
    master, mpd = manifests(out, "cmaf")
    assert master is not None and mpd is not None
    assert_every_uri_exists(master, mpd)
    assert_hls_durations_equal_the_plan(master, report)
    assert_dash_timeline_equals_the_files(mpd, report)
    assert_every_rung_decodes_every_source_frame(master, mpd, source)
    rung = out / "video" / "144p"
    joined = tmp_path / "joined.mp4"
    joined.write_bytes(b"".join(p.read_bytes() for p in [rung / "init.mp4", *sorted(rung.glob("*.m4s"))]))
    assert decode_span(joined) == video_span(source)
    assert decode_warnings(joined) == ""


def test_decode_check_passes_valid_vfr_segments(shapes, tmp_path: Path) -> None:
    """Without B-frames the segments were always right; the encoders' own decode check refused them (two VFR
    frames rounded to one tick of 1/frame rate in ffmpeg's null muxer)."""
    source, out = shapes("vfr_pauses_mkv"), tmp_path / "out.mp4"
    report = transcode(source, out, "--preset", "ultrafast", "--verify", "full")
    assert report["verification"]["ok"] is True
    assert_exact(source, out)


def test_held_frames_in_a_matroska_output(shapes, tmp_path: Path) -> None:
    """The refitted segments remuxed to Matroska: every frame within its 1 ms time base (both ends rounded)."""
    source, out = shapes("held_first_mp4"), tmp_path / "out.mkv"
    report = transcode(source, out, "--preset", "medium")
    assert report["verification"]["ok"] is True
    expected, got = frame_times(source), frame_times(out)
    assert len(got) == len(expected)
    assert max(abs(g - e) for g, e in zip(got, expected, strict=True)) <= Fraction(1, 1000)
    assert decode_warnings(out) == ""
