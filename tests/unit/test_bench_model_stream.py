"""The streaming job's model: Map items = segments x rungs, renditions as audio plans, a packaging finish that
moves no video through the function, and its cost through the cost module."""

from __future__ import annotations

import pytest

from splitstitch_bench import model, model_stream
from splitstitch_bench.cpufit import FIT, Sample
from splitstitch_bench.streaming import StreamMeasured
from splitstitch_cloud import cost
from tests.unit.test_bench_model import COSTS, MEMORY, NET, shape


def ladder(rungs: int = 4, renditions: int = 1, cpu_per_item: float = 0.01) -> model_stream.Ladder:
    """Rung k encodes at 1/(k+1) of the file encode's cost and writes 1/(k+1) of 4 Mb/s."""
    costs = tuple(
        model_stream.RungCost(f"r{k}", lambda s, v, t, k=k: COSTS.encode(s, v, t) / (k + 1), 4e6 / (k + 1))
        for k in range(rungs)
    )
    return model_stream.Ladder(costs, renditions, lambda n, v: cpu_per_item * n / min(v, 1.0), manifests=rungs + 2)


def test_items_are_segments_times_rungs_in_task_order() -> None:
    items = model_stream.items(shape(3, seconds=2.0), ladder(2), 1.0)
    assert [(i.seconds, round(i.compute_s, 3), i.out_bytes) for i in items] == [
        (2.0, 4.0, 1_000_000), (2.0, 2.0, 500_000)] * 3  # fmt: skip
    assert len({i.read_bytes for i in items}) == 1  # every rung of a segment reads the same range


def test_stream_job_runs_every_item_and_costs_them() -> None:
    job = model_stream.lambda_stream_job(shape(10), COSTS, ladder(4), NET, MEMORY, 1000, 16, (5, 2))
    assert job.notes["map_items"] == 40 and job.notes["segments"] == 10 and job.notes["waves"] == 1
    assert sum(1 for s in job.slots if s.stage == "encode") == 40
    assert job.cost["quantities"]["lambda_requests"] == 40 + 1 + 2  # encodes, one audio rendition, prepare and finish
    assert job.notes["state_transitions"] == 5 + 2 * 40
    assert job.stages["encode"].bytes_out == sum(int(4e6 / (k + 1) / 8 * 1.0) for k in range(4)) * 10


def test_packaging_finish_moves_no_video_and_grows_with_items() -> None:
    few = model_stream.lambda_stream_job(shape(10), COSTS, ladder(1), NET, MEMORY, 1000, 16, (5, 2))
    many = model_stream.lambda_stream_job(shape(10), COSTS, ladder(4), NET, MEMORY, 1000, 16, (5, 2))
    for job in (few, many):
        fin = job.stages["finish"]
        assert fin.bytes_in == fin.bytes_out == int(10 * 128_000 / 8 * 1.02)  # the audio rendition only
    assert many.stages["finish"].parts["package_verify_cpu"] == pytest.approx(
        4 * few.stages["finish"].parts["package_verify_cpu"]
    )
    assert many.stages["finish"].parts["copy_segments"] > few.stages["finish"].parts["copy_segments"]


def test_items_beyond_the_cap_run_in_waves() -> None:
    job = model_stream.lambda_stream_job(shape(30), COSTS, ladder(4), NET, MEMORY, 50, 16, (5, 2))
    assert job.notes["waves"] == 3
    assert max(s.row for s in job.slots if s.stage == "encode") == 49


def test_renditions_are_audio_plans() -> None:
    two = model_stream.lambda_stream_job(shape(10), COSTS, ladder(2, renditions=2), NET, MEMORY, 1000, 16, (5, 2))
    assert sum(1 for s in two.slots if s.stage == "audio") == 2
    usage = cost.JobUsage((), 20, audio_plans=2)
    assert two.notes["state_transitions"] == 5 + cost.AUDIO_TRANSITIONS + 2 * 20
    assert cost.estimate(usage)["quantities"]["state_transitions"] == cost.PARENT_TRANSITIONS + 2 + 2 * 20
    silent = model_stream.lambda_stream_job(shape(10, audio=False), COSTS, ladder(2, 2), NET, MEMORY, 1000, 16, (5, 2))
    assert not any(s.stage == "audio" for s in silent.slots) and silent.notes["audio_renditions"] == 0


def test_file_job_is_unchanged_by_the_streaming_hooks() -> None:
    job = model.lambda_job(shape(10), COSTS, NET, MEMORY, 1000, 16, (5, 2))
    assert job.notes["state_transitions"] == 5 + 2 * 10
    assert job.stages["encode"].bytes_out == shape(10).output_bytes
    assert job.stages["finish"].bytes_in == shape(10).output_bytes


def test_kept_stream_measurements_round_trip() -> None:
    sm = StreamMeasured("720,360", [{"name": "720p", "height": 720, "maxrate_kbps": 3500}], {"720p": 2.5e6}, 1, 4,
                        [Sample("encode", "x@720p", 6.0, 1.0, 1, 5.0, 4.9, FIT)], {"local": {"seconds": 3.0}})  # fmt: skip
    assert StreamMeasured.from_dict(sm.to_dict()) == sm
