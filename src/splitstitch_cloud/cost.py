"""What a job cost on AWS, from what it used: a small pure model (no AWS calls).

Prices: us-east-1 on-demand list prices as recorded in shared/FACTS.md (from the public AWS pricing pages
for Lambda, Step Functions and S3). Free tiers are ignored; data transfer inside one region is free.
Assumptions (see docs/cloud.md):
- Lambda bills each invocation's duration (handler wall time here, rounded up to 1 ms) x its memory.
- Step Functions Standard: the parent execution takes 5 transitions (Parallel, Map, audio Choice, audio
  Task or Pass, Finish); every Distributed Map child execution (STANDARD) takes 2 (start + the encode
  Task), plus 1 per retry. `tests/unit/test_bench_stack.py` counts them from the ASL and fails on a drift.
- S3 requests are counted by the steps (PUT/COPY/POST/LIST at the PUT price, GET/HEAD at the GET price);
  intermediates are stored for the job's duration only (deleted by the stitch step; the lifecycle rule
  is the backstop), outputs are not charged here (they are the product).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Arch = Literal["x86_64", "arm64"]
PRICE_SOURCE = "us-east-1 list prices (aws.amazon.com/lambda|step-functions|s3/pricing), copied in FACTS.md"


@dataclass(frozen=True)
class Prices:
    lambda_gb_s: dict[str, float] = field(default_factory=lambda: {"x86_64": 0.0000166667, "arm64": 0.0000133334})
    lambda_request: float = 0.20 / 1e6
    sfn_transition: float = 0.025 / 1000
    s3_put: float = 0.005 / 1000
    s3_get: float = 0.0004 / 1000
    s3_gb_month: float = 0.023
    source: str = PRICE_SOURCE


@dataclass(frozen=True)
class Invocation:
    function: str
    memory_mb: int
    seconds: float
    arch: Arch = "x86_64"


@dataclass(frozen=True)
class JobUsage:
    invocations: tuple[Invocation, ...]
    segments: int
    retries: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    work_bytes: int = 0  # intermediates held in work/<job>/
    work_hours: float = 0.0


PARENT_TRANSITIONS = 5
CHILD_TRANSITIONS = 2
HOURS_PER_MONTH = 730


def gb_seconds(inv: Invocation) -> float:
    return inv.memory_mb / 1024 * math.ceil(inv.seconds * 1000) / 1000


def estimate(usage: JobUsage, prices: Prices | None = None) -> dict[str, Any]:
    """Dollars per service and in total, with the quantities they came from."""
    p = prices or Prices()
    lambda_compute = sum(gb_seconds(i) * p.lambda_gb_s[i.arch] for i in usage.invocations)
    lambda_requests = len(usage.invocations) * p.lambda_request
    transitions = PARENT_TRANSITIONS + usage.segments * CHILD_TRANSITIONS + usage.retries
    sfn = transitions * p.sfn_transition
    s3_requests = usage.s3_puts * p.s3_put + usage.s3_gets * p.s3_get
    s3_storage = usage.work_bytes / 1e9 * p.s3_gb_month * usage.work_hours / HOURS_PER_MONTH
    usd = {
        "lambda_compute": lambda_compute,
        "lambda_requests": lambda_requests,
        "step_functions": sfn,
        "s3_requests": s3_requests,
        "s3_storage": s3_storage,
    }
    by_function: dict[str, float] = {}
    for i in usage.invocations:
        by_function[i.function] = by_function.get(i.function, 0.0) + gb_seconds(i)
    return {
        "usd": {k: round(v, 8) for k, v in usd.items()} | {"total": round(sum(usd.values()), 8)},
        "quantities": {
            "lambda_gb_s": {k: round(v, 3) for k, v in by_function.items()},
            "lambda_requests": len(usage.invocations),
            "state_transitions": transitions,
            "s3_puts": usage.s3_puts,
            "s3_gets": usage.s3_gets,
            "work_gb_hours": round(usage.work_bytes / 1e9 * usage.work_hours, 6),
        },
        "prices": asdict(p),
        "assumptions": "Lambda duration x memory; Step Functions Standard 5 + 2/segment (+1/retry) transitions; "
        "S3 requests counted by the steps; no free tier",
    }
