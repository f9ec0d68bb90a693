"""Scaling evidence from the model of the deployed stack: wall time and $ per output minute against the
encode functions' memory (128 ... 10,240 MB), against the segment count (the planner filling a given Map
cap) and against the concurrency cap for a fixed plan (waves)."""

from __future__ import annotations

import dataclasses
from typing import Any

from splitstitch.plan import plan_segments
from splitstitch.settings import Settings
from splitstitch_bench import model
from splitstitch_bench.catalog import CASES, HEADLINE, Network, preset_factor
from splitstitch_bench.project import Fits, costs, lambda_run, memory_of, shape
from splitstitch_bench.runner import Measured
from splitstitch_bench.stack import Stack

MEMORY_MB = (128, 256, 512, 1024, 1769, 2048, 3008, 4096, 6144, 8192, 10240)
CAPS = (10, 25, 50, 100, 200, 500, 1000, 2000)


def memory_sweep(
    m: Measured, fits: Fits, stack: Stack, settings: Settings, full: bool, net: Network
) -> list[dict[str, Any]]:
    out = []
    seconds = m.item.real_seconds if full else m.seconds
    for mb in MEMORY_MB:
        job = lambda_run(m, fits, stack, settings, full, encode_mb=mb, net=net)
        out.append({"memory_mb": mb, "seconds": round(job.seconds, 2), "segments": job.notes["segments"],
                    "threads": job.notes["encoder_threads"], "usd": job.cost["usd"]["total"],
                    "usd_per_min": round(job.cost["usd"]["total"] / (seconds / 60), 6),
                    "below_template_min": mb < 512})  # fmt: skip
    return out


def segment_sweep(
    m: Measured, fits: Fits, stack: Stack, settings: Settings, full: bool, net: Network
) -> list[dict[str, Any]]:
    """MaxConcurrency = cap and no wave share (EncodeWavePercent 0): the planner cuts cap segments (or fewer),
    all in one wave: the trade between time and cost that the wave share picks a point of."""
    out = []
    for cap in CAPS:
        job = lambda_run(m, fits, stack, settings, full, cap=cap, net=net, wave_percent=0.0)
        out.append({"cap": cap, "segments": job.notes["segments"], "seconds": round(job.seconds, 2),
                    "encode_s": round(job.stages["encode"].seconds, 2), "usd": job.cost["usd"]["total"]})  # fmt: skip
    return out


def wave_sweep(
    m: Measured, fits: Fits, stack: Stack, settings: Settings, full: bool, net: Network
) -> list[dict[str, Any]]:
    """The deployed plan kept, the Map cap lowered: segments run in waves."""
    plan = plan_segments(m.full if full else m.info, settings, stack.deployment.fanout())
    memory = memory_of(stack, stack.deployment.encode_memory_mb)
    job_shape = shape(m, plan, full)
    job_costs = costs(m, fits, m.plan_s, preset_factor(stack.preset, settings.preset))
    out = []
    for cap in CAPS:
        job = model.lambda_job(job_shape, job_costs, net, memory, cap,
                               stack.deployment.scan_parallel, (stack.transitions.parent, stack.transitions.per_item))  # fmt: skip
        out.append({"cap": cap, "segments": len(plan.segments), "waves": job.notes["waves"],
                    "seconds": round(job.seconds, 2), "usd": job.cost["usd"]["total"]})  # fmt: skip
    return out


def sweeps(m: Measured, fits: Fits, stack: Stack, settings: Settings, full: bool,
           net: Network | None = None) -> dict[str, Any]:  # fmt: skip
    """Each sweep in one case (the headline, middle, unless given), which the result names."""
    settings = dataclasses.replace(settings, segment_seconds=None)
    net = net or CASES[HEADLINE]
    return {"row": m.item.name, "case": HEADLINE if net == CASES[HEADLINE] else "as given",
            "memory": memory_sweep(m, fits, stack, settings, full, net),
            "segments": segment_sweep(m, fits, stack, settings, full, net),
            "waves": wave_sweep(m, fits, stack, settings, full, net)}  # fmt: skip
