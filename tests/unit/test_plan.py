"""Segment planning: table tests of the pure planner (cuts, seeks, lengths, threads) and the job value."""

from __future__ import annotations

import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.audio import plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import SegmentTask
from splitstitch.job import Job
from splitstitch.package import hls_target_duration
from splitstitch.plan import (
    Fanout,
    Plan,
    choose_cuts,
    encoder_threads,
    plan_segments,
    seek_frame,
    seek_policy,
    target_seconds,
)
from splitstitch.settings import Settings
from tests.unit.factories import audio, frames, media, video

TS = tuple(range(300))  # one tick per frame
EVERY_60 = (0, 60, 120, 180, 240)


@pytest.mark.parametrize(
    ("clean", "target", "tolerance", "expected"),
    [
        ((0, 100, 200), 100, 0, [0, 100, 200]),       # clean keyframes exactly on the goals
        (EVERY_60, 100, 25, [0, 120, 240]),           # within tolerance: the clean keyframe (120 for 100, 240 for 220)
        (EVERY_60, 100, 10, [0, 100, 200]),           # out of tolerance: cut mid-GOP at the goal frame
        ((0, 90, 230), 100, 15, [0, 90, 190]),        # mixed: a keyframe for the first goal, mid-GOP for the second
        ((0,), 120, 0, [0, 120]),                     # a 60-frame tail (< half a target) joins the last segment
        ((0,), 100, 0, [0, 100, 200]),                # a 100-frame tail is a segment of its own
        ((0,), 1000, 0, [0]),                         # target longer than the clip: one segment
        ((0, 140), 150, 20, [0, 140]),                # in tolerance before the goal
        ((0, 160, 290), 150, 20, [0, 160]),           # in tolerance after the goal; 290 would leave a 9-frame tail
        ((0, 45), 50, 60, [0, 45, 95, 145, 195, 245]),  # a keyframe already cut at is never taken again
    ],
)  # fmt: skip
def test_choose_cuts(clean: tuple[int, ...], target: int, tolerance: int, expected: list[int]) -> None:
    assert choose_cuts(TS, clean, target, tolerance) == expected


@pytest.mark.parametrize(
    ("clean", "target", "longest", "expected"),
    [
        ((0,), 120, 150, [0, 120, 240]),        # a 60-frame tail would make a 180-frame last segment: its own
        ((0,), 120, 180, [0, 120]),             # it fits: it joins, as without a limit
        ((0, 130, 290), 120, 125, [0, 120, 240]),  # the keyframe at 130 would make a segment over the limit
        ((0, 115, 290), 120, 125, [0, 115, 235]),  # one under it is taken
    ],
)  # fmt: skip
def test_choose_cuts_never_makes_a_segment_over_the_longest(clean, target: int, longest: int, expected) -> None:
    cuts = choose_cuts(TS, clean, target, 20, longest, len(TS))
    assert cuts == expected
    assert all(b - a <= longest for a, b in zip(cuts, [*cuts[1:], len(TS)], strict=True))


@pytest.mark.parametrize(
    ("count", "segment_seconds", "longest_s"),
    [
        (606, 6.0, 6.5),  # 20.2 s on a 6 s target: the 2.2 s tail was merged into an 8.2 s last segment
        (614, 6.0, 6.5),  # a 2.47 s tail
        (300, 2.5, 3.5),  # 2.5 s rounds to a target duration of 3: segments under 3.5 s
        (520, 4.0, 4.5),
    ],
)
def test_streaming_segments_stay_within_the_hls_target_duration(count: int, segment_seconds: float,
                                                                 longest_s: float) -> None:  # fmt: skip
    info = media(frame_index=frames(count=count, step=3000, keyint=1000))
    plan = plan_segments(info, Settings(streaming="hls", segment_seconds=segment_seconds), Fanout(4))
    assert sum(s.frames for s in plan.segments) == count
    assert max(s.duration_seconds for s in plan.segments) < longest_s
    assert hls_target_duration(Fraction(max(s.duration_seconds for s in plan.segments))) < longest_s
    file_mode = plan_segments(info, Settings(segment_seconds=segment_seconds), Fanout(4))
    assert len(file_mode.segments) <= len(plan.segments)  # a file keeps joining short tails


def test_choose_cuts_on_variable_frame_times_picks_the_frame_nearest_the_goal() -> None:
    stamps = (0, 10, 30, 40, 60, 70, 90, 100, 120, 130, 150, 160)  # steps of 10 and 20 ticks
    assert choose_cuts(stamps, (0,), 50, 0) == [0, 3, 6]  # goal 50: 40 and 60 tie, the earlier wins; goal 90
    assert choose_cuts(stamps, (0, 5), 50, 25) == [0, 5, 8]  # the keyframe at 70 for goal 50; then goal 120


def test_choose_cuts_compares_keyframes_by_time_not_by_frame_number() -> None:
    stamps = tuple(range(0, 600 * 3000, 3000))  # 20 s at 30 fps in a 90 kHz time base
    clean = tuple(range(0, 600, 50))  # a clean keyframe every 50 frames
    # goal 180 (6 s): the keyframe at 200 is 20 frames away, inside the tolerance of 45 frames
    assert choose_cuts(stamps, clean, 180 * 3000, 45 * 3000) == [0, 200, 400]


@pytest.mark.parametrize(
    ("start", "keyframe", "two_keyframes"),
    [
        (0, None, None),
        (30, None, None),
        (60, 60, None),
        (90, 60, None),
        (120, 120, 60),
        (150, 120, 60),
        (299, 240, 180),
    ],
)
def test_seek_frame_for_both_policies(start: int, keyframe: int | None, two_keyframes: int | None) -> None:
    assert seek_frame(EVERY_60, start, "keyframe") == keyframe
    assert seek_frame(EVERY_60, start, "two_keyframes") == two_keyframes


def test_seek_frame_before_the_first_keyframe_reads_from_the_start() -> None:
    assert seek_frame((5, 65), 3, "keyframe") is None
    assert seek_frame((5, 65), 70, "keyframe") == 65 and seek_frame((5, 65), 70, "two_keyframes") == 5


@pytest.mark.parametrize(
    ("fmt", "codec", "from_packets", "policy"),
    [("mov,mp4,m4a,3gp,3g2,mj2", "h264", True, "keyframe"), ("mpeg", "mpeg2video", True, "two_keyframes"),
     ("avi", "mpeg4", True, "two_keyframes"), ("mpegts", "h264", True, "two_keyframes"),
     ("matroska,webm", "vp9", True, "keyframe"), ("matroska,webm", "h264", False, "two_keyframes")],
)  # fmt: skip
def test_seek_policy(fmt: str, codec: str, from_packets: bool, policy: str) -> None:
    info = media(fmt=fmt, video_info=video(codec=codec), frame_index=replace(frames(), from_packets=from_packets))
    assert seek_policy(info) == policy


TEN_S = media(frame_index=frames(count=300, step=3000))  # 10 s, 320x240 at 30 fps
LONG = media(frame_index=frames(count=18000, step=3000))  # 600 s
# x264 medium on 1 vCPU is estimated at 320*240*30 / (1280*720*15) = 1/6 s per second of 320x240 at 30 fps


@pytest.mark.parametrize(
    ("info", "settings", "fanout", "seconds", "why"),
    [
        (TEN_S, Settings(segment_seconds=4.0), Fanout(100), 4.0, "as asked"),
        (TEN_S, Settings(), Fanout(2, segments_per_encoder=2.5), 2.0, "2 encoders x 2.5"),
        (TEN_S, Settings(), Fanout(100), 1.0, "100 encoders x 1"),  # min clamp
        (TEN_S, Settings(), Fanout(100, min_seconds=0.5), 0.5, "100 encoders x 1"),
        (LONG, Settings(), Fanout(1), 120.0, "1 encoders x 1"),  # max clamp
        (LONG, Settings(), Fanout(1, max_seconds=30.0), 30.0, "1 encoders x 1"),
        (TEN_S, Settings(), Fanout(1, budget_seconds=1.0), 6.0, "capped by the 1 s encode budget (estimated 0.2 s per s)"),
        (TEN_S, Settings(segment_seconds=8.0), Fanout(1, budget_seconds=1.0), 6.0, "as asked, capped by the 1 s"),
        (TEN_S, Settings(preset="slow"), Fanout(1, budget_seconds=1.0), 3.6, "capped"),  # slow: 0.6x the speed
        (TEN_S, Settings(), Fanout(1, budget_seconds=1.0, vcpus=2.0), 10.0, "1 encoders x 1"),  # 1.7x: 10 s fit
        (TEN_S, Settings(), Fanout(1, budget_seconds=1e-4), 1 / 30, "capped"),  # never under one frame
    ],
)  # fmt: skip
def test_target_seconds(info, settings: Settings, fanout: Fanout, seconds: float, why: str) -> None:
    got, reason = target_seconds(info, settings, fanout)
    assert got == pytest.approx(seconds)
    assert why in reason and ("capped" in reason) == ("capped" in why)


HOUR_720P = media(video_info=video(width=1280, height=720), frame_index=frames(count=108000, step=3000))
SEVEN_MIN_1440P = media(video_info=video(width=2560, height=1440), frame_index=frames(count=13950, step=3000))


@pytest.mark.parametrize(
    ("info", "share", "seconds", "lengthened"),
    [
        (HOUR_720P, 0.0, 7.2, False),                 # no wave goal: fill the 500 encoders
        (HOUR_720P, 0.01, (36 - 1.3) / 2.0, True),    # 36 s wave at an estimated 2.0 s per second of 720p30
        (HOUR_720P, 0.001, 7.2, False),               # a 3.6 s wave: filling the fan-out is longer already
        (SEVEN_MIN_1440P, 0.01, 1.0, False),          # 465 s: 4.65 s wave < one 1 s segment at 8 s per s
        (HOUR_720P, 0.5, 600.0, True),                # never past max_seconds
    ],
)  # fmt: skip
def test_a_long_source_gets_fewer_longer_segments_within_its_wave_share(info, share, seconds, lengthened) -> None:
    fanout = Fanout(500, max_seconds=600.0, wave_share=share)
    got, reason = target_seconds(info, Settings(), fanout)
    assert got == pytest.approx(seconds)
    assert ("lengthened" in reason) == lengthened


def test_target_seconds_uses_the_output_size() -> None:
    big = media(video_info=video(width=1920, height=1080), frame_index=frames(count=300, step=3000))
    full, _ = target_seconds(big, Settings(), Fanout(1, budget_seconds=1.0))
    scaled, _ = target_seconds(big, Settings(height=540), Fanout(1, budget_seconds=1.0))
    assert scaled == pytest.approx(4 * full)


@pytest.mark.parametrize(
    ("settings", "fanout", "segments", "threads"),
    [
        (Settings(), Fanout(4), 10, 1),
        (Settings(encoder_threads=3), Fanout(4), 10, 3),
        (Settings(), Fanout(4, vcpus=2.0), 10, 2),
        (Settings(), Fanout(8, spare_cores_to_encoders=True), 3, 2),  # 8 cores, 3 segments: 2 threads each
        (Settings(), Fanout(8, spare_cores_to_encoders=True), 1, 8),
        (Settings(), Fanout(8, spare_cores_to_encoders=True), 8, 1),
        (Settings(), Fanout(8), 3, 1),  # the cloud: spare concurrency is not spare cores
    ],
)
def test_encoder_threads(settings: Settings, fanout: Fanout, segments: int, threads: int) -> None:
    assert encoder_threads(settings, fanout, segments) == threads


def test_plan_cuts_on_clean_keyframes_with_exact_durations() -> None:
    info = media(frame_index=frames(count=600, step=3000, keyint=60))  # 20 s at 30 fps, keyframe every 2 s
    plan = plan_segments(info, Settings(segment_seconds=6.0), Fanout(4))
    # goals 6 and 12 s are keyframes; the 2 s tail after 18 s is under half a target, so it joins the last segment
    assert [(s.start_frame, s.frames) for s in plan.segments] == [(0, 180), (180, 180), (360, 240)]
    assert plan.frames == 600 and [s.duration_seconds for s in plan.segments] == [6.0, 6.0, 8.0]
    assert [s.start_pts for s in plan.segments] == [0, 540000, 1080000]
    assert [s.end_pts for s in plan.segments] == [540000, 1080000, None]
    assert [s.seek_pts for s in plan.segments] == [None, 540000, 1080000] and all(s.on_keyframe for s in plan.segments)
    assert [s.index for s in plan.longest_first()] == [2, 0, 1]
    assert plan.seek == "keyframe" and "2 of 2 cuts on clean keyframes" in plan.reason


def test_plan_cuts_mid_gop_and_seeks_before_the_cut() -> None:
    info = media(frame_index=frames(count=600, step=3000, keyint=250))  # keyframes at 0, 250, 500
    plan = plan_segments(info, Settings(segment_seconds=4.0), Fanout(4))
    # goals every 120 frames, tolerance 30: 250 and 500 are taken for the goals 240 and 490
    assert [s.start_frame for s in plan.segments] == [0, 120, 250, 370, 500]
    assert [s.seek_pts for s in plan.segments] == [None, None, 750000, 750000, 1500000]  # frame 120: from the start
    assert [s.on_keyframe for s in plan.segments] == [True, False, True, False, True]
    assert "2 of 4 cuts on clean keyframes" in plan.reason


def test_plan_and_job_round_trip_through_json() -> None:
    info = media(audios=(audio(),), extents=((1, 0.0, 10.0),))
    settings, fanout = Settings(codec="h265", crf=20), Fanout(3, segments_per_encoder=2.0, vcpus=1.7)
    plan = plan_segments(info, settings, fanout)
    assert Plan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan
    fmt = output_format("h265", Path("o.mp4"))
    job = Job("abc", "in.mp4", settings, fmt, info, plan, plan_audio(info, settings, fmt, 2.0), fanout)
    again = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again == job
    assert again.segment_task(1) == job.segment_task(1) and job.segment_task(1).segment == plan.segments[1]
    assert job.timescale == 90000
    for task in job.tasks():  # what each encoder fits its decode span to travels with it (a Map item in the cloud)
        assert SegmentTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task
        segment = task.segment
        stop = segment.end_pts if segment.end_pts is not None else info.frames.end()
        assert task.duration == stop - segment.start_pts  # time base 1/90000, timescale 90000


def test_the_wave_share_gives_no_credit_for_threads() -> None:
    """More vCPUs must not lengthen segments: the encoder's thread scaling is not something to plan on."""
    one, _ = target_seconds(HOUR_720P, Settings(), Fanout(500, max_seconds=600.0, wave_share=0.01))
    three, _ = target_seconds(HOUR_720P, Settings(), Fanout(500, max_seconds=600.0, wave_share=0.01, vcpus=3.0))
    assert three == pytest.approx(one)
