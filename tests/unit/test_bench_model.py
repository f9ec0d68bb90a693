"""The pure model of the deployed stack: scheduling, waves, bytes moved, and cost through the cost module."""

from __future__ import annotations

import pytest

from splitstitch.errors import UsageError
from splitstitch_bench import model
from splitstitch_bench.catalog import Network, lambda_vcpus, parse_runtimes
from splitstitch_cloud import cost

NET = Network(s3_stream_mb_s=100.0, lambda_cap_mb_s=400.0, cold_start_s=1.0, transition_s=0.1,
              child_start_per_s=1e9, s3_request_s=0.0, overlap_io=True)  # fmt: skip
COSTS = model.Costs(encode=lambda s, v, k: 2.0 * s / min(v, k), audio=lambda d, v: 0.01 * d / min(v, 1),
                    scan=lambda p, v, n: 1e-4 * p / min(v, n), finish=lambda b, v: b / 1e9, plan_s=0.2,
                    finish_gets_per_segment=1.0)  # fmt: skip
MEMORY = model.Memory(prepare=3008, encode=1769, finish=3008)


def shape(segments: int, seconds: float = 1.0, audio: bool = True) -> model.Shape:
    duration = segments * seconds
    return model.Shape(duration_s=duration, source_bytes=int(duration * 1e6), output_bytes=int(duration * 5e5),
                       audio=audio, segments=(seconds,) * segments, gop_s=2.0, index_bytes=10_000,
                       packets=int(duration * 77), encoder_threads=1)  # fmt: skip


@pytest.mark.parametrize(
    ("works", "cap", "rows", "last_end"),
    [([2, 2, 2, 2], 2, 2, 4), ([2, 2, 2, 2], 4, 4, 2), ([3, 1, 1, 1], 2, 2, 3), ([1], 10, 1, 1)],
)
def test_schedule_map_waves(works: list[float], cap: int, rows: int, last_end: float) -> None:
    placed = model.schedule_map(works, cap, [0.0] * len(works))
    assert len({p[0] for p in placed}) == rows
    assert max(p[2] for p in placed) == pytest.approx(last_end)
    assert sum(p[3] for p in placed) == rows  # one cold start per Lambda, none for reused ones


def test_schedule_map_respects_start_times() -> None:
    placed = model.schedule_map([1.0, 1.0, 1.0], 10, [0.0, 0.5, 5.0])
    assert [p[1] for p in placed] == [0.0, 0.5, 1.0] or [p[1] for p in placed] == [0.0, 0.5, 5.0]
    assert placed[2][1] == 5.0


def test_burst_delay_after_the_first_thousand() -> None:
    assert model.burst_delay(NET, 999) == 0.0
    assert model.burst_delay(NET, 1000) == 10.0
    assert model.burst_delay(NET, 2500) == 20.0


def test_one_wave_takes_one_segment_two_waves_two() -> None:
    one = model.lambda_job(shape(100), COSTS, NET, MEMORY, 100, 16, (5, 2))
    two = model.lambda_job(shape(200), COSTS, NET, MEMORY, 100, 16, (5, 2))
    assert one.notes["waves"] == 1 and two.notes["waves"] == 2
    gap = two.stages["encode"].seconds - one.stages["encode"].seconds  # a warm second wave: no cold start
    assert gap == pytest.approx(COSTS.encode(1.0, 1.0, 1) + 5e5 / 100e6, rel=0.01)  # compute hides the reads


def test_bytes_moved_per_stage() -> None:
    job = model.lambda_job(shape(10), COSTS, NET, MEMORY, 1000, 16, (5, 2))
    s = job.stages
    assert s["prepare"].bytes_in >= 10_000_000  # the whole source, scanned
    per_encoder = 1e6 * (1.0 + 2.0) + 10_000 + (4 << 20)  # share + one GOP + index + one request
    assert s["encode"].bytes_in == pytest.approx(10 * per_encoder, rel=1e-6)
    assert s["audio"].bytes_in == 10_000_000  # the whole source on one stream
    assert s["finish"].bytes_in == s["finish"].bytes_out == 5_000_000  # down and up again
    assert job.seconds > max(st.seconds for st in s.values())


def test_audio_off_the_critical_path_unless_it_is_longer() -> None:
    quick = model.lambda_job(shape(10), COSTS, NET, MEMORY, 1000, 16, (5, 2))
    assert quick.notes["critical_branch"] == "encode"
    slow_audio = model.Costs(**{**vars(COSTS), "audio": lambda d, v: 100.0})
    assert model.lambda_job(shape(10), slow_audio, NET, MEMORY, 1000, 16, (5, 2)).notes["critical_branch"] == "audio"


def test_cost_comes_from_the_cost_module() -> None:
    job = model.lambda_job(shape(10, audio=False), COSTS, NET, MEMORY, 1000, 16, (5, 2))
    q = job.cost["quantities"]
    assert q["state_transitions"] == cost.PARENT_TRANSITIONS + 10 * cost.CHILD_TRANSITIONS
    assert q["lambda_requests"] == 1 + 10 + 1  # prepare, encoders, finish
    encode_gb_s = sum((s.end - s.start) * 1769 / 1024 for s in job.slots if s.stage == "encode")
    assert q["lambda_gb_s"]["encode_segment"] == pytest.approx(encode_gb_s, abs=0.01)


def test_io_overlap_is_the_band() -> None:
    slow = Network(**{**vars(NET), "s3_stream_mb_s": 1.0, "overlap_io": False})
    fast = model.lambda_job(shape(4), COSTS, NET, MEMORY, 10, 16, (5, 2))
    assert model.lambda_job(shape(4), COSTS, slow, MEMORY, 10, 16, (5, 2)).seconds > fast.seconds + 5


def test_lambda_vcpus_and_runtimes() -> None:
    assert (
        lambda_vcpus(1769) == 1.0
        and lambda_vcpus(10240) == pytest.approx(5.79, abs=0.01)
        and lambda_vcpus(885) == pytest.approx(0.5, abs=0.01)
    )
    specs = parse_runtimes("laptop, ec2:t2.large, lambda, lambda:3008, lambda")
    assert [s.name for s in specs] == ["laptop", "ec2:t2.large", "lambda", "lambda:3008"]
    for bad in ("ec2:nope", "lambda:64", "aws", ""):
        with pytest.raises(UsageError):
            parse_runtimes(bad)
