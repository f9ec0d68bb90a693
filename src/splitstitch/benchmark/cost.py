"""Dollars per job from modeled or measured durations (prices in catalog.py)."""

from __future__ import annotations

from typing import Any

from splitstitch.benchmark.catalog import (
    LAMBDA_GB_SECOND_USD,
    LAMBDA_REQUEST_USD,
    S3_GET_USD,
    S3_PUT_USD,
    SFN_TRANSITION_USD,
    InstanceType,
)
from splitstitch.benchmark.model import BurstResult, Timeline

T3_SURPLUS_USD_PER_VCPU_HOUR = 0.05  # AWS: unlimited-mode surplus credits, Linux


def lambda_cost(timeline: Timeline, memory_mb: int) -> dict[str, Any]:
    """Billed duration per invocation = cold start (init is billed) + transfers + compute, per 1 ms."""
    gb_s = sum(round(s.billed_s, 3) for s in timeline.invocations) * memory_mb / 1024
    parts = {
        "lambda_compute": gb_s * LAMBDA_GB_SECOND_USD,
        "lambda_requests": len(timeline.invocations) * LAMBDA_REQUEST_USD,
        "step_functions": timeline.transitions * SFN_TRANSITION_USD,
        "s3_requests": timeline.s3_puts * S3_PUT_USD + timeline.s3_gets * S3_GET_USD,
    }
    return {"total": sum(parts.values()), "gb_seconds": gb_s, **parts}


def ec2_cost(seconds: float, instance: InstanceType, burst: BurstResult | None = None) -> dict[str, Any]:
    """Per-second billing of a running instance (no 60 s launch minimum, no idle time, no storage)."""
    compute = seconds / 3600 * instance.usd_per_hour
    surplus = 0.0
    if burst is not None and burst.surplus_credits:
        surplus = burst.surplus_credits / 60 * T3_SURPLUS_USD_PER_VCPU_HOUR
    return {"total": compute + surplus, "instance": compute, "surplus_credits": surplus}


def per_output_minute(cost_usd: float | None, duration_s: float) -> float | None:
    if cost_usd is None or duration_s <= 0:
        return None
    return cost_usd / (duration_s / 60)
