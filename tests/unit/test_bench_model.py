"""The pure Lambda/EC2 models: scheduling, CPU share, end-to-end timeline, calibration, credits."""

from __future__ import annotations

import pytest

from splitstitch.benchmark.catalog import EC2_TYPES, Burst
from splitstitch.benchmark.model import (
    Item,
    LambdaAssumptions,
    SegmentMeasure,
    StageTimes,
    burst_seconds,
    calibration_assumptions,
    lambda_timeline,
    makespan,
    many_core_seconds,
    schedule,
    seconds_at_share,
)

STAGES = StageTimes(probe_plan_s=0.5, split_s=0.2, audio_s=1.0, stitch_s=0.3, verify_s=0.4,
                    source_bytes=90_000_000, output_bytes=45_000_000, audio_bytes=1_000_000)  # fmt: skip


def seg(index: int, wall: float, cpu: float | None = None) -> SegmentMeasure:
    return SegmentMeasure(index, wall, wall if cpu is None else cpu, 9_000_000, 4_500_000)


@pytest.mark.parametrize(
    ("times", "workers", "expected"),
    [
        ([4, 3, 3, 2], 2, 6),  # 4+2 | 3+3
        ([5, 1, 1, 1], 2, 5),
        ([2, 2, 2], 1, 6),
        ([2, 2, 2], 10, 2),
        ([], 3, 0),
    ],
)
def test_schedule_makespan(times: list[float], workers: int, expected: float) -> None:
    slots = schedule([Item(str(i), t) for i, t in enumerate(times)], workers)
    assert makespan(slots) == pytest.approx(expected)


def test_schedule_cold_start_once_per_worker_and_transfers() -> None:
    items = [Item("a", 1.0, in_bytes=10_000_000), Item("b", 1.0), Item("c", 1.0)]
    slots = schedule(items, 2, cold_start_s=2.0, mb_per_s=10.0, overhead_s=0.5)
    assert [s.cold_s for s in slots] == [2.0, 2.0, 0.0]
    assert slots[0].transfer_s == pytest.approx(1.0)
    assert slots[0].end == pytest.approx(0.5 + 2.0 + 1.0 + 1.0)
    assert slots[2].worker == 1 and slots[2].start == pytest.approx(3.5 + 0.5)


def test_schedule_rejects_no_workers() -> None:
    with pytest.raises(ValueError):
        schedule([Item("a", 1)], 0)


@pytest.mark.parametrize(
    ("vcpus", "expected"),
    [(None, 10.0), (1.0, 12.0), (0.5, 24.0), (0.25, 48.0), (2.0, 12.0 / 1.8), (6.0, 12.0 / 5.0)],
)
def test_seconds_at_share(vcpus: float | None, expected: float) -> None:
    # 10 s wall, 12 CPU-seconds at one encoder thread (ffmpeg's other threads borrowed a spare core here);
    # a second thread adds 80% of one
    assert seconds_at_share(seg(0, 10.0, 12.0), vcpus, 0.8) == pytest.approx(expected)


def test_seconds_at_share_one_vcpu_is_never_faster_than_measured() -> None:
    assert seconds_at_share(seg(0, 10.0, 8.0), 1.0, 1.0) == pytest.approx(10.0)


def test_calibration_model_is_the_local_schedule() -> None:
    segments = [seg(0, 4.0), seg(1, 3.0), seg(2, 3.0), seg(3, 2.0)]
    tl = lambda_timeline(STAGES, segments, calibration_assumptions(0.8, workers=2))
    # audio first (1), then 4,3,3,2 longest first on 2 workers: w0 1+3+2=6, w1 4+3=7
    assert tl.total_s == pytest.approx(0.5 + 0.2 + 7.0 + 0.3 + 0.4)


def test_lambda_timeline_adds_overheads_and_counts_requests() -> None:
    segments = [seg(i, 4.0) for i in range(3)]
    a = LambdaAssumptions(memory_mb=1769, vcpus=1.0, thread_efficiency=0.8, concurrency_cap=40, cold_start_s=1.0,
                          s3_mb_per_s=90.0, sfn_state_s=0.1)  # fmt: skip
    tl = lambda_timeline(STAGES, segments, a)
    prepare = 0.1 + 1.0 + 0.5
    split = 0.1 + 1.0 + 2 * 90_000_000 / 90e6 + 0.2
    encode = 0.1 + 0.1 + 1.0 + 13_500_000 / 90e6 + 4.0
    stitch = 0.1 + 1.0 + (3 * 4_500_000 + 1_000_000 + 45_000_000) / 90e6 + 0.7
    assert tl.total_s == pytest.approx(prepare + split + encode + stitch)
    assert len(tl.invocations) == 3 + 4  # prepare, split, stitch + audio and 3 segments
    assert tl.transitions == 5 + 2 * 4 + 1
    assert tl.s3_puts == 1 + 3 + 4 + 1


def test_lambda_concurrency_cap_serialises() -> None:
    segments = [seg(i, 2.0) for i in range(4)]
    base = {"memory_mb": 1769, "vcpus": 1.0, "thread_efficiency": 0.8, "cold_start_s": 0.0, "s3_mb_per_s": None,
            "sfn_state_s": 0.0}  # fmt: skip
    wide = lambda_timeline(STAGES, segments, LambdaAssumptions(concurrency_cap=40, **base)).total_s
    narrow = lambda_timeline(STAGES, segments, LambdaAssumptions(concurrency_cap=1, **base)).total_s
    assert narrow - wide == pytest.approx(8.0 + 1.0 - 2.0)


def test_more_memory_is_faster_until_six_vcpus() -> None:
    segments = [seg(0, 10.0)]
    totals = [
        lambda_timeline(STAGES, segments, LambdaAssumptions(memory_mb=m, vcpus=v, thread_efficiency=0.8)).total_s
        for m, v in ((885, 0.5), (1769, 1.0), (3538, 2.0), (10240, 6.0))
    ]
    assert totals == sorted(totals, reverse=True)


def test_many_core_model_uses_every_vcpu() -> None:
    segments = [seg(i, 4.0) for i in range(8)]
    four = many_core_seconds(STAGES, segments, 4, 1.0)
    eight = many_core_seconds(STAGES, segments, 8, 1.0)
    assert four == pytest.approx(0.5 + 0.2 + 9.0 + 0.3 + 0.4)  # audio 1 + two rounds of 4 s on one worker
    assert eight < four


T2 = EC2_TYPES["t2.large"].burst


def test_burst_enough_credits_runs_at_full_speed() -> None:
    assert T2 is not None
    r = burst_seconds(600.0, 2, 2.0, T2)  # 20 credits of 60
    assert r.seconds == 600.0 and r.throttled_after_s is None


def test_burst_runs_out_then_baseline() -> None:
    assert T2 is not None
    r = burst_seconds(3600.0, 2, 2.0, T2)
    drain = 2 / 60 - 36 / 3600  # credits per second net
    exhausted = 60 / drain
    assert r.throttled_after_s == pytest.approx(exhausted)
    assert r.seconds == pytest.approx(exhausted + (3600 - exhausted) * 2 / 0.6)


def test_burst_below_baseline_never_throttles() -> None:
    assert burst_seconds(1e6, 2, 0.5, Burst(0.30, 36, 0.0001)).throttled_after_s is None


def test_unlimited_mode_bills_surplus() -> None:
    t3 = EC2_TYPES["t3.large"].burst
    assert t3 is not None
    r = burst_seconds(3600.0, 2, 2.0, t3)
    assert r.seconds == 3600.0
    assert r.surplus_credits == pytest.approx(120 - 36)


def test_calibration_mirrors_the_pipeline_giving_spare_cores_to_few_segments() -> None:
    assert calibration_assumptions(0.8, workers=2, segments=6).vcpus is None  # as measured, one thread each
    assert calibration_assumptions(0.8, workers=2, segments=1).vcpus == 2.0  # one encoder on both cores
    assert calibration_assumptions(0.8, workers=8, segments=3).vcpus == 2.0
