"""Segment planning: table tests of the pure planner."""

from __future__ import annotations

import pytest

from splitstitch.plan import Plan, choose_cuts, decide_path, plan_segments, seek_point
from tests.unit.factories import frames, media, video

TS = tuple(range(0, 300))  # one tick per frame


@pytest.mark.parametrize(
    ("candidates", "target", "expected"),
    [
        (list(range(1, 300)), 100, [0, 100, 200]),           # any frame: exact thirds
        ([60, 120, 180, 240], 100, [0, 120, 240]),          # nearest keyframe to each goal (ties go later)
        ([60, 120, 180, 240], 1000, [0]),                   # target longer than the clip: one segment
        ([290], 100, [0]),                                  # a 10-frame tail is merged, not a segment
        ([], 50, [0]),                                      # no cut points at all
        ([10, 20, 30, 200], 40, [0, 30, 200]),              # long gaps: next candidate after the gap
    ],
)  # fmt: skip
def test_choose_cuts(candidates: list[int], target: int, expected: list[int]) -> None:
    assert choose_cuts(TS, candidates, target) == expected


def test_copy_path_plans_at_safe_keyframes_with_exact_durations() -> None:
    info = media(frame_index=frames(count=600, step=3000, keyint=60))  # 20 s at 30 fps, keyframe every 2 s
    plan = plan_segments(info, 6.0)
    assert plan.split_path == "copy" and plan.segment_format == "mpegts"
    # cuts at 6 and 12 s; the 2 s tail after 18 s is under half a target, so it joins the last segment
    assert [s.start_frame for s in plan.segments] == [0, 180, 360]
    assert [s.frames for s in plan.segments] == [180, 180, 240]
    assert plan.frames == 600
    assert [s.duration_seconds for s in plan.segments] == [6.0, 6.0, 8.0]
    assert plan.segments[-1].end_pts is None and plan.segments[0].end_pts == 180 * 3000
    assert [s.index for s in plan.longest_first()] == [2, 0, 1]


@pytest.mark.parametrize(
    ("fmt", "codec", "safe", "keyint", "reason_part"),
    [
        ("mpeg", "mpeg2video", True, 12, "loses frames"),
        ("avi", "mpeg4", True, 12, "loses frames"),
        ("matroska,webm", "mpeg4", True, 12, "loses frames"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "h264", True, 300, "long GOP"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "h264", False, 60, "open GOP"),
        ("mov,mp4,m4a,3gp,3g2,mj2", "prores", True, 1, "no trusted segment container"),
    ],
)
def test_decode_path_when_copy_cannot_be_trusted(
    fmt: str, codec: str, safe: bool, keyint: int, reason_part: str
) -> None:
    info = media(fmt=fmt, video_info=video(codec=codec), frame_index=frames(600, 3000, keyint, safe))
    path, reason = decide_path(info, 2.0)
    assert path == "decode" and reason_part in reason
    plan = plan_segments(info, 2.0)
    assert [s.frames for s in plan.segments] == [60] * 10  # frame-accurate: exactly the target
    assert plan.segments[0].seek_pts is None


def test_decode_path_seeks_two_keyframes_back() -> None:
    assert seek_point((0, 60, 120, 180), 150) == 60
    assert seek_point((0, 60, 120, 180), 60) is None  # two back is frame 0: read from the start
    assert seek_point((0, 60, 120, 180), 0) is None


def test_plan_round_trips_through_dict() -> None:
    plan = plan_segments(media(), 3.0)
    assert Plan.from_dict(plan.to_dict()) == plan


def test_non_positive_target_is_rejected() -> None:
    with pytest.raises(ValueError):
        plan_segments(media(), 0)


@pytest.mark.parametrize(("workers", "segments", "threads"), [(2, 1, 2), (8, 3, 2), (2, 6, 1), (4, 4, 1), (1, 1, 1)])
def test_spare_cores_go_to_encoders_when_segments_are_few(workers: int, segments: int, threads: int) -> None:
    from splitstitch.pipeline import spare_cores_to_encoders
    from splitstitch.settings import Settings

    assert spare_cores_to_encoders(Settings(), workers, segments).encoder_threads == threads
