"""`--runtimes` parsing, the instance catalog, Lambda CPU shares and costs."""

from __future__ import annotations

import pytest

from splitstitch.benchmark.catalog import EC2_TYPES, RuntimeSpec, lambda_vcpus, parse_runtimes
from splitstitch.benchmark.cost import ec2_cost, lambda_cost, per_output_minute
from splitstitch.benchmark.model import BurstResult, Slot, Timeline
from splitstitch.errors import UsageError


def test_parse_the_issue_example() -> None:
    specs = parse_runtimes("laptop,local,ec2:t2.large,ec2:c7i.xlarge,lambda:3008")
    assert [s.name for s in specs] == ["laptop", "local", "ec2:t2.large", "ec2:c7i.xlarge", "lambda:3008"]
    assert specs[2].instance.vcpus == 2 and specs[4].memory_mb == 3008


def test_parse_lambda_sweep_default_and_duplicates() -> None:
    specs = parse_runtimes("lambda:1769,3008,10240, lambda ,lambda:3008")
    assert [s.name for s in specs] == ["lambda:1769", "lambda:3008", "lambda:10240"]
    assert parse_runtimes("aws:my-stack") == [RuntimeSpec("aws", "my-stack")]


@pytest.mark.parametrize(
    "text", ["", "ec2:z9.huge", "lambda:64", "lambda:20000", "lambda:big", "aws", "gpu", "laptop:2", "3008"]
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_runtimes(text)


@pytest.mark.parametrize(
    ("mb", "vcpus"),
    [(1769, 1.0), (885, 885 / 1769), (3008, 1 + 1239 * 5 / 8471), (10240, 6.0), (5000, 1 + 3231 * 5 / 8471)],
)
def test_lambda_vcpus(mb: int, vcpus: float) -> None:
    assert lambda_vcpus(mb) == pytest.approx(vcpus)


def test_catalog_facts() -> None:
    t2 = EC2_TYPES["t2.large"]
    assert (t2.vcpus, t2.usd_per_hour) == (2, 0.0928)
    assert t2.burst and (t2.burst.baseline_per_vcpu, t2.burst.initial, t2.burst.earn_per_hour) == (0.30, 60, 36)
    assert all(t.vcpus >= 2 and t.usd_per_hour > 0 for t in EC2_TYPES.values())


def test_lambda_cost() -> None:
    slots = [Slot("prepare", 0, 0, 1, cold_s=1.0, compute_s=1.0, stage="prepare"), Slot("seg", 0, 1, 2, compute_s=2.0)]
    cost = lambda_cost(Timeline(5.0, slots, transitions=1000, s3_puts=1000, s3_gets=1000), 2048)
    assert cost["gb_seconds"] == pytest.approx(4.0 * 2)
    assert cost["lambda_compute"] == pytest.approx(8 * 0.0000166667)
    assert cost["lambda_requests"] == pytest.approx(2 * 0.2e-6)
    assert cost["step_functions"] == pytest.approx(0.025)
    assert cost["s3_requests"] == pytest.approx(0.005 + 0.0004)
    assert cost["total"] == pytest.approx(sum(cost[k] for k in ("lambda_compute", "lambda_requests", "step_functions",
                                                                 "s3_requests")))  # fmt: skip


def test_ec2_cost_and_per_minute() -> None:
    assert ec2_cost(3600, EC2_TYPES["t2.large"])["total"] == pytest.approx(0.0928)
    surplus = BurstResult(3600, 120, 36, None, 84)
    assert ec2_cost(3600, EC2_TYPES["t3.large"], surplus)["surplus_credits"] == pytest.approx(84 / 60 * 0.05)
    assert per_output_minute(0.5, 120) == pytest.approx(0.25)
    assert per_output_minute(None, 120) is None
