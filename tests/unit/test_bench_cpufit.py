"""Fitting stage costs and predicting other CPU shares; the credit model of burstable instances."""

from __future__ import annotations

import pytest

from splitstitch_bench.cgroup import CreditPlan
from splitstitch_bench.cpufit import FIT, VALIDATE, Line, Sample, StageFit, fit_line, fit_stage, summarize, validate


def test_fit_line_recovers_a_and_b() -> None:
    line = fit_line([(1.0, 2.5), (3.0, 6.5), (2.0, 4.5)])
    assert (line.a, line.b) == (pytest.approx(0.5), pytest.approx(2.0))


def test_fit_line_one_length_goes_through_the_origin() -> None:
    line = fit_line([(2.0, 4.0), (2.0, 5.0)])
    assert line.a == 0.0 and line.b == pytest.approx(2.25)


def test_wall_at_other_shares() -> None:
    fit = StageFit(Line(0.5, 2.0, 3), efficiency=0.6)
    assert fit.wall(1.0, 1.0) == pytest.approx(2.5)
    assert fit.wall(1.0, 0.5) == pytest.approx(5.0)  # throttled: everything twice as long
    assert fit.wall(1.0, 2.0, threads=1) == pytest.approx(2.5)  # one thread cannot use a second vCPU
    assert fit.wall(1.0, 1.7, threads=2) == pytest.approx(0.5 + 2.0 / 1.6)  # a second thread adds 0.6
    assert fit.wall(1.0, 6.0, threads=6) == pytest.approx(0.5 + 2.0 / 4.0)  # extrapolated beyond 2 threads
    assert fit.wall(100.0, 1.7, threads=1, parallel=16) == pytest.approx(0.5 / 1.0 + 200.0 / 1.7)


def samples() -> list[Sample]:
    return [
        Sample("encode", "r", 1.0, 1.0, 1, 3.5, 2.5, FIT), Sample("encode", "r", 3.0, 1.0, 1, 9.0, 6.5, FIT),
        Sample("encode", "r", 1.0, 2.0, 2, 1.75, 2.8, FIT),
        Sample("encode", "r", 1.0, 0.5, 1, 5.5, 2.5, VALIDATE), Sample("encode", "r", 1.0, 1.7, 2, 2.0, 2.7, VALIDATE),
    ]  # fmt: skip


def test_fit_stage_uses_only_fit_samples_and_measures_thread_cost() -> None:
    fit = fit_stage(samples(), "encode", "r")
    assert fit is not None
    assert fit.line.a == pytest.approx(0.5) and fit.line.b == pytest.approx(2.0)
    assert fit.line.points == 2  # fitted on CPU seconds: the wall time of a shared machine is not the stage's
    assert fit.thread_cost == pytest.approx(2.8 / ((2.5 + 6.5 / 3) / 2), rel=0.05)
    assert fit.efficiency == pytest.approx(0.6)  # 2.8 CPU seconds in 1.75 s: 1.6 CPUs busy
    assert fit_stage(samples(), "audio") is None


def test_validation_errors_per_configuration() -> None:
    fits = {("encode", "r"): fit_stage(samples(), "encode", "r")}
    checks = validate(samples(), fits, machine_cpus=2)  # type: ignore[arg-type]
    assert [c.config for c in checks] == ["0.5 vCPU, 1 thread", "1.7 vCPU, 2 threads"]
    assert checks[0].error == pytest.approx((5.0 - 5.5) / 5.5)
    assert checks[1].predicted_s == pytest.approx(0.5 + 2.0 / 1.6)
    rows = summarize(checks)
    assert {r["config"] for r in rows} == {"0.5 vCPU, 1 thread", "1.7 vCPU, 2 threads"}


def test_credit_plan_compressed_by_scale() -> None:
    plan = CreditPlan(vcpus=2, baseline_per_vcpu=0.3, earn_per_hour=36, credits=60, scale=0.02)
    assert plan.balance_cpu_s == pytest.approx(72.0)  # 60 vCPU-minutes x 2%
    assert not plan.spent(used_cpu_s=70.0, elapsed_s=0.0)
    assert plan.spent(used_cpu_s=72.0, elapsed_s=0.0)
    assert not plan.spent(used_cpu_s=72.0 + 0.6 * 9, elapsed_s=40.0)  # earns 0.6 vCPU-s per instance second
    assert plan.spent(used_cpu_s=110.0, elapsed_s=1000.0)  # a slow (shared) machine earns no extra credits
