"""What a job cost on AWS, from what it used: a small pure model (no AWS calls). The one cost module of the
cloud package; the benchmark (`splitstitch_bench`) uses `estimate`, `JobUsage`, `Invocation` and `Prices`.

Prices: us-east-1 on-demand list prices as recorded in shared/FACTS.md (from the public AWS pricing pages
for Lambda, Step Functions and S3); ephemeral storage and data transfer out are from the same pages (not yet
in FACTS.md). Free tiers are ignored; data transfer inside one region is free.
What is counted:
- Lambda: each invocation's billed duration (its INIT on a cold start, which Lambda bills, plus the handler's
  wall time; rounded up to 1 ms) x its memory; failed attempts (retries) are billed like the others; ephemeral
  storage above the free 512 MB x the billed duration; $0.20 per million requests.
- Step Functions Standard: the parent execution's transitions as counted from the state machine (5 for one
  audio plan: Parallel, the segment Map, the audio Map, its Task, Finish); every Distributed Map child
  execution (STANDARD) 2 (start + the encode Task), plus 1 per retry. `tests/unit/test_bench_stack.py`
  counts them from the ASL and fails on a drift.
- S3 requests counted by the steps (PUT/COPY/POST/LIST at the PUT price, GET/HEAD at the GET price; multipart
  uploads are CreateMultipartUpload + one UploadPart per part + CompleteMultipartUpload), intermediates stored
  for the job's duration only; a client's polling (one GET of the status and one LIST a poll) and the download
  of the output out of AWS (egress) when given. Outputs' storage is not charged here (they are the product).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Arch = Literal["x86_64", "arm64"]
PRICE_SOURCE = "us-east-1 list prices (aws.amazon.com/lambda|step-functions|s3/pricing), copied in FACTS.md"
FREE_EPHEMERAL_MB = 512


@dataclass(frozen=True)
class Prices:
    lambda_gb_s: dict[str, float] = field(default_factory=lambda: {"x86_64": 0.0000166667, "arm64": 0.0000133334})
    lambda_request: float = 0.20 / 1e6
    sfn_transition: float = 0.025 / 1000
    s3_put: float = 0.005 / 1000
    s3_get: float = 0.0004 / 1000
    s3_gb_month: float = 0.023
    lambda_ephemeral_gb_s: float = 0.0000000309  # above the free 512 MB, both architectures
    egress_gb: float = 0.09  # S3 to the internet, first 10 TB a month
    source: str = PRICE_SOURCE


@dataclass(frozen=True)
class Invocation:
    function: str
    memory_mb: int
    seconds: float
    arch: Arch = "x86_64"
    init_seconds: float = 0.0  # billed INIT of a cold start
    ephemeral_mb: int = FREE_EPHEMERAL_MB
    ok: bool = True  # False: a failed attempt (it was retried, or the job failed)


@dataclass(frozen=True)
class JobUsage:
    invocations: tuple[Invocation, ...]
    segments: int
    retries: int = 0
    s3_puts: int = 0
    s3_gets: int = 0
    work_bytes: int = 0  # intermediates held in work/<job>/
    work_hours: float = 0.0
    polls: int = 0  # a client following the job: each poll one GET and one LIST
    egress_bytes: int = 0  # the output downloaded out of AWS
    audio_plans: int = 1  # audio encodes: 0 without audio, one per rendition for streaming


PARENT_TRANSITIONS = 4  # Parallel, the segment Map, the audio Map, Finish
AUDIO_TRANSITIONS = 1  # the audio Map's Task, once per audio plan (a streaming job has one per rendition)
CHILD_TRANSITIONS = 2
HOURS_PER_MONTH = 730


def billed_seconds(inv: Invocation) -> float:
    return math.ceil((inv.seconds + inv.init_seconds) * 1000) / 1000


def gb_seconds(inv: Invocation) -> float:
    return inv.memory_mb / 1024 * billed_seconds(inv)


def ephemeral_gb_seconds(inv: Invocation) -> float:
    return max(0, inv.ephemeral_mb - FREE_EPHEMERAL_MB) / 1024 * billed_seconds(inv)


def estimate(usage: JobUsage, prices: Prices | None = None) -> dict[str, Any]:
    """Dollars per service and in total, with the quantities they came from."""
    p = prices or Prices()
    lambda_compute = sum(gb_seconds(i) * p.lambda_gb_s[i.arch] for i in usage.invocations)
    ephemeral = sum(ephemeral_gb_seconds(i) for i in usage.invocations)
    lambda_requests = len(usage.invocations) * p.lambda_request
    retries = max(usage.retries, sum(1 for i in usage.invocations if not i.ok))
    transitions = (PARENT_TRANSITIONS + usage.audio_plans * AUDIO_TRANSITIONS + usage.segments * CHILD_TRANSITIONS
                   + retries)  # fmt: skip
    sfn = transitions * p.sfn_transition
    puts, gets = usage.s3_puts + usage.polls, usage.s3_gets + usage.polls
    s3_requests = puts * p.s3_put + gets * p.s3_get
    s3_storage = usage.work_bytes / 1e9 * p.s3_gb_month * usage.work_hours / HOURS_PER_MONTH
    usd = {
        "lambda_compute": lambda_compute,
        "lambda_ephemeral": ephemeral * p.lambda_ephemeral_gb_s,
        "lambda_requests": lambda_requests,
        "step_functions": sfn,
        "s3_requests": s3_requests,
        "s3_storage": s3_storage,
        "egress": usage.egress_bytes / 1e9 * p.egress_gb,
    }
    by_function: dict[str, float] = {}
    for i in usage.invocations:
        by_function[i.function] = by_function.get(i.function, 0.0) + gb_seconds(i)
    return {
        "usd": {k: round(v, 8) for k, v in usd.items()} | {"total": round(sum(usd.values()), 8)},
        "quantities": {
            "lambda_gb_s": {k: round(v, 3) for k, v in by_function.items()},
            "lambda_requests": len(usage.invocations),
            "lambda_init_s": round(sum(i.init_seconds for i in usage.invocations), 3),
            "lambda_ephemeral_gb_s": round(ephemeral, 3),
            "retries": retries,
            "state_transitions": transitions,
            "s3_puts": puts,
            "s3_gets": gets,
            "polls": usage.polls,
            "egress_gb": round(usage.egress_bytes / 1e9, 6),
            "work_gb_hours": round(usage.work_bytes / 1e9 * usage.work_hours, 6),
        },
        "prices": asdict(p),
        "assumptions": "Lambda (INIT + duration) x memory, failed attempts included, ephemeral storage above 512 MB; "
        "Step Functions Standard 5 + 2/segment (+1/retry) transitions; S3 requests counted by the steps, a "
        "client's polls (GET + LIST each) and its download (egress); no free tier",
    }


def client_cost(polls: int, egress_bytes: int, files: int = 1, prices: Prices | None = None) -> dict[str, Any]:
    """What a client adds to a job: its polls (one GET of the status and one LIST each, the LIST priced as a
    PUT) and its download (`files` GETs: one file, or every file of a streaming package)."""
    p = prices or Prices()
    usd = {"s3_requests": polls * (p.s3_put + p.s3_get) + files * p.s3_get, "egress": egress_bytes / 1e9 * p.egress_gb}
    return {"usd": {k: round(v, 8) for k, v in usd.items()},
            "quantities": {"polls": polls, "s3_puts": polls, "s3_gets": polls + files,
                           "egress_gb": round(egress_bytes / 1e9, 6)}}  # fmt: skip


def add(job_cost: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A job's cost (as written by the finish step) plus a client's own (polling, download): usd summed."""
    usd = {k: round(job_cost["usd"].get(k, 0.0) + extra["usd"].get(k, 0.0), 8) for k in job_cost["usd"] | extra["usd"]}
    usd["total"] = round(sum(v for k, v in usd.items() if k != "total"), 8)
    q = dict(job_cost["quantities"])
    for key in ("polls", "egress_gb", "s3_puts", "s3_gets"):
        q[key] = q.get(key, 0) + extra["quantities"].get(key, 0)
    return job_cost | {"usd": usd, "quantities": q}
