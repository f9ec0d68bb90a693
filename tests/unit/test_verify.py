"""Verification rules on hand-made probes: each check can fail on its own."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from splitstitch.audio import plan_audio
from splitstitch.codecs import output_format
from splitstitch.settings import Settings
from splitstitch.verify import Check, Verification, compare
from tests.unit.factories import audio, frames, media, video

SRC = media(frame_index=frames(300, 3000), audios=(audio(),), extents=((1, 0.0, 10.0),))
PLAN = plan_audio(SRC, Settings(), output_format("h264", Path("o.mp4")))


def failed(out) -> list[str]:
    return [c.name for c in compare(SRC, out, PLAN) if not c.ok]


def test_identical_output_passes() -> None:
    assert failed(SRC) == []


def test_missing_frames_fail_count_then_duration() -> None:
    assert failed(replace(SRC, frames=frames(299, 3000))) == ["video_frames"]  # duration may be off by one frame
    assert failed(replace(SRC, frames=frames(298, 3000))) == ["video_frames", "video_duration"]


def test_a_shifted_frame_fails_timestamps() -> None:
    shifted = frames(300, 3000)
    stamps = list(shifted.timestamps)
    stamps[150] += 900  # 10 ms late
    assert failed(replace(SRC, frames=replace(shifted, timestamps=tuple(stamps)))) == ["frame_timestamps"]


def test_same_timestamps_in_another_time_base_pass() -> None:
    out = replace(SRC, video=video(time_base=Fraction(1, 15360)), frames=frames(300, 512))
    assert failed(out) == []


def test_audio_drift_and_missing_audio_fail() -> None:
    assert failed(replace(SRC, audio_extents=((1, 0.0, 10.05),))) == [
        "audio0_duration",
        "audio0_end_drift",
        "audio0_as_heard",
    ]
    assert failed(replace(SRC, audio_extents=((1, 0.03, 10.0),))) == [
        "audio0_duration",
        "audio0_start_offset",
        "audio0_as_heard",
    ]
    assert failed(replace(SRC, audio=(), audio_extents=())) == ["audio_tracks"]
    assert failed(replace(SRC, audio=(audio(channels=6),))) == ["audio0_channels"]
    assert failed(replace(SRC, audio=(replace(audio(), channel_layout="2.0"),))) == ["audio0_channels"]
    assert failed(replace(SRC, audio=(replace(audio(), channel_layout=None),))) == []


def test_audio_as_heard_holds_to_the_millisecond() -> None:
    """What the output presents after its edit lists matches the source's within 1 ms (an edit rounded to
    the 1 ms movie tick); the 20 ms packet checks let 2 ms through, `as_heard` does not."""
    assert failed(replace(SRC, audio_extents=((1, 0.0, 10.0009),))) == []
    assert failed(replace(SRC, audio_extents=((1, 0.0, 10.002),))) == ["audio0_as_heard"]  # padding shown
    assert failed(replace(SRC, audio_extents=((1, 0.002, 10.002),))) == ["audio0_as_heard"]  # priming shown
    late = replace(SRC, audio_extents=((1, 0.0, 10.002),))
    assert [c.name for c in compare(SRC, late, PLAN, heard=False) if not c.ok] == []  # ffprobe's packets


def test_rotation_applied_twice_fails_orientation() -> None:
    src = replace(SRC, video=video(rotation=90))  # displays 240x320
    baked = replace(SRC, video=video(width=240, height=320))  # pixels rotated, no display matrix: right
    twice = replace(SRC, video=video(width=240, height=320, rotation=90))  # rotated pixels and a matrix: wrong
    assert [c.name for c in compare(src, baked, PLAN) if not c.ok] == []
    assert [c.name for c in compare(src, twice, PLAN) if not c.ok] == ["orientation"]


def test_timestamps_may_round_by_up_to_2_ms() -> None:
    for late, ok in ((171, True), (189, False)):  # 1.9 ms and 2.1 ms at 90 kHz
        stamps = list(SRC.frames.timestamps)
        stamps[7] += late
        out = replace(SRC, frames=replace(SRC.frames, timestamps=tuple(stamps)))
        assert failed(out) == ([] if ok else ["frame_timestamps"])


def test_a_vfr_source_may_lose_one_frame() -> None:
    steps = [3000, 6000] * 150
    stamps = tuple(sum(steps[:i]) for i in range(300))
    vfr = replace(SRC, frames=replace(SRC.frames, timestamps=stamps))
    assert vfr.frames.is_vfr()
    one_less = replace(vfr, frames=replace(vfr.frames, timestamps=stamps[:-1], last_duration=6000 + 3000))
    checks = {c.name: c for c in compare(vfr, one_less, PLAN)}
    assert checks["video_frames"].ok and "VFR: one frame allowed" in checks["video_frames"].detail
    two_less = replace(vfr, frames=replace(vfr.frames, timestamps=stamps[:-2]))
    assert not {c.name: c for c in compare(vfr, two_less, PLAN)}["video_frames"].ok


def test_verification_lists_what_failed() -> None:
    verification = Verification((Check("a", True, "fine"), Check("b", False, "3 frames missing")))
    assert not verification.ok and verification.failed() == ["b: 3 frames missing"]
    assert verification.to_dict() == {"ok": False, "checks": [{"name": "a", "ok": True, "detail": "fine"},
                                                              {"name": "b", "ok": False, "detail": "3 frames missing"}]}  # fmt: skip
