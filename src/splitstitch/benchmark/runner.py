"""One source through every requested runtime: measure laptop, local and the per-segment encodes once,
then derive EC2 and Lambda figures from them and check the model against the local measurement."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch.benchmark import catalog, model
from splitstitch.benchmark.catalog import RuntimeSpec
from splitstitch.benchmark.cost import ec2_cost, lambda_cost, per_output_minute
from splitstitch.benchmark.measure import (
    Run,
    SegmentRun,
    measure_laptop,
    measure_local,
    measure_segments,
    single_command_args,
    stage_times,
)
from splitstitch.benchmark.procs import available_cpus, busy_fraction, wait_until_quiet
from splitstitch.errors import UsageError
from splitstitch.settings import Settings

CALIBRATION_TOLERANCE = 0.15
EC2_EXTRA_CORE_EFFICIENCY = 0.9  # assumed: per-core speed on a bigger machine vs one core measured here


@dataclass(frozen=True)
class Options:
    settings: Settings
    runtimes: list[RuntimeSpec]
    work_root: Path | None = None
    lambda_overrides: dict[str, Any] = field(default_factory=dict)  # LambdaAssumptions fields
    endpoint_url: str | None = None
    wait_quiet_s: float = 0.0  # wait up to this long for other work on this machine to stop


def entry(name: str, seconds: float, measured: bool, cost: float | None, duration: float, laptop_s: float,
          assumptions: dict[str, Any], **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "seconds": round(seconds, 3), "measured": measured,
        "cost_usd": None if cost is None else round(cost, 6),
        "cost_per_output_minute_usd": None if cost is None else round(per_output_minute(cost, duration) or 0, 6),
        "realtime_factor": round(duration / seconds, 3) if seconds else None,
        "speedup_vs_laptop": round(laptop_s / seconds, 3) if seconds else None,
        "assumptions": assumptions, **extra,
    }  # fmt: skip


def ec2_entry(spec: RuntimeSpec, ctx: dict[str, Any]) -> dict[str, Any]:
    inst = spec.instance
    cpus: list[int] = ctx["cpus"]
    stages, segs = ctx["stages"], ctx["segs"]
    notes: dict[str, Any] = {"vcpus": inst.vcpus, "usd_per_hour": inst.usd_per_hour, "price_source": inst.source,
                             "billing": "per second of a running instance, no launch minimum"}  # fmt: skip
    if inst.vcpus <= len(cpus):
        if inst.vcpus == len(cpus):
            run: Run = ctx["local"]
            notes["compute"] = f"measured: the local run (this machine has {len(cpus)} cores, all used)"
        else:
            run = measure_local(ctx["source"], ctx["settings"], ctx["work"] / f"ec2-{inst.vcpus}.mp4",
                                workers=inst.vcpus, cpus=set(cpus[: inst.vcpus]), work_root=ctx["work"])  # fmt: skip
            notes["compute"] = f"measured: local pipeline pinned to CPUs {cpus[: inst.vcpus]}"
        full_s, busy, measured = run.seconds, run.busy_cpus, True
        notes["per_core_speed"] = "assumed equal to this machine's cores"
    else:
        full_s = model.many_core_seconds(stages, segs.segments, inst.vcpus, EC2_EXTRA_CORE_EFFICIENCY)
        busy, measured = float(inst.vcpus), False
        notes["compute"] = (f"modeled: measured single-thread segment times on {inst.vcpus} workers, each "
                            f"{EC2_EXTRA_CORE_EFFICIENCY:.0%} as fast as here; other stages as measured")  # fmt: skip
    seconds, burst = full_s, None
    if inst.burst:
        burst = model.burst_seconds(full_s, inst.vcpus, busy, inst.burst)
        seconds = burst.seconds
        notes["cpu_credits"] = dataclasses.asdict(inst.burst) | dataclasses.asdict(burst) | {
            "busy_vcpus": round(busy, 3), "mode": "unlimited" if inst.burst.initial == 0 else "standard",
            "start": "a fresh instance with only its launch credits"}  # fmt: skip
        if burst.throttled_after_s is not None:
            measured = False
    cost = ec2_cost(seconds, inst, burst)
    notes["cost_breakdown"] = cost
    return entry(spec.name, seconds, measured, cost["total"], ctx["duration"], ctx["laptop"].seconds, notes)


def lambda_entry(spec: RuntimeSpec, ctx: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    segs: SegmentRun = ctx["segs"]
    a = model.LambdaAssumptions(memory_mb=spec.memory_mb, vcpus=round(catalog.lambda_vcpus(spec.memory_mb), 4),
                                thread_efficiency=segs.thread_efficiency, **overrides)  # fmt: skip
    tl = model.lambda_timeline(ctx["stages"], segs.segments, a)
    cost = lambda_cost(tl, spec.memory_mb)
    notes = a.to_dict() | {
        "thread_efficiency_probe": segs.efficiency_probe,
        "share_rule": "below 1 vCPU: CPU seconds measured at one thread / share; above: 1 + efficiency*(vcpus-1)",
        "transitions": tl.transitions, "s3_puts": tl.s3_puts, "s3_gets": tl.s3_gets, "cost_breakdown": cost,
    }  # fmt: skip
    slots = [dataclasses.asdict(s) | {"billed_s": round(s.billed_s, 4)} for s in tl.slots]
    return entry(spec.name, tl.total_s, False, cost["total"], ctx["duration"], ctx["laptop"].seconds, notes,
                 timeline=slots)  # fmt: skip


def cloud_run_job() -> Callable[..., Any]:
    """`splitstitch_cloud.run.run_job(source, stack, *, endpoint_url)`, imported only when asked for."""
    try:
        from splitstitch_cloud.run import run_job
    except ImportError:
        raise UsageError("aws runtime needs the cloud package (splitstitch_cloud.run.run_job)") from None
    return run_job


def aws_entry(spec: RuntimeSpec, ctx: dict[str, Any], endpoint_url: str | None) -> dict[str, Any]:
    """A deployed stack, timed from upload to downloaded output by the cloud package."""
    run_job = cloud_run_job()
    started = time.perf_counter()
    result = run_job(ctx["source"], spec.arg, endpoint_url=endpoint_url)
    seconds = time.perf_counter() - started
    cost = result.get("cost_usd") if isinstance(result, dict) else None
    notes = {"stack": spec.arg, "endpoint_url": endpoint_url, "timed": "upload to downloaded output", "job": result}
    return entry(spec.name, seconds, True, cost, ctx["duration"], ctx["laptop"].seconds, notes)


def calibration(ctx: dict[str, Any]) -> dict[str, Any]:
    workers = len(ctx["cpus"])
    a = model.calibration_assumptions(ctx["segs"].thread_efficiency, workers, len(ctx["segs"].segments))
    predicted = model.lambda_timeline(ctx["stages"], ctx["segs"].segments, a).total_s
    measured = ctx["local"].seconds
    error = (predicted - measured) / measured
    return {
        "model_seconds": round(predicted, 3), "measured_seconds": round(measured, 3), "error": round(error, 4),
        "tolerance": CALIBRATION_TOLERANCE, "workers": workers,
        "status": "calibrated" if abs(error) <= CALIBRATION_TOLERANCE else "uncalibrated",
    }  # fmt: skip


def bench_source(source: Path, opts: Options, say: Callable[[str], None] = print) -> dict[str, Any]:
    from splitstitch.inputs import open_source
    from splitstitch.report import describe

    info = open_source(source)
    cpus = available_cpus()
    busy_before = wait_until_quiet(opts.wait_quiet_s) if opts.wait_quiet_s else busy_fraction()
    load_before = os.getloadavg()[0]
    if busy_before > 0.15:
        say(f"warning: CPUs {busy_before:.0%} busy before measuring: other work shares them")
    work = Path(tempfile.mkdtemp(prefix="splitstitch-bench-", dir=opts.work_root))
    settings = opts.settings
    say(f"{source.name}: laptop (one ffmpeg, all {len(cpus)} cores)")
    laptop = measure_laptop(source, settings, work / "laptop.mp4")
    say(f"{source.name}: local pipeline ({len(cpus)} workers)")
    local = measure_local(source, settings, work / "local.mp4", workers=len(cpus), work_root=work)
    say(f"{source.name}: every segment on its own at 1 encoder thread, {len(cpus)} at a time")
    segs = measure_segments(source, settings, cpus, work_root=work)
    assert local.report
    ctx = {"source": source, "settings": settings, "cpus": cpus, "work": work, "laptop": laptop, "local": local,
           "segs": segs, "stages": stage_times(local.report, local.output_bytes),
           "duration": info.video_seconds() if info.frames else (info.duration or 0.0)}  # fmt: skip
    duration = ctx["duration"]
    runtimes = []
    for spec in opts.runtimes:
        if spec.kind == "laptop":
            argv = single_command_args(source, settings, Path("OUT.mp4"))
            runtimes.append(entry("laptop", laptop.seconds, True, None, duration, laptop.seconds,
                                  {"command": ["ffmpeg", *argv], "cpus": len(cpus), "cpu_s": round(laptop.cpu_s, 3),
                                   "output_bytes": laptop.output_bytes}))  # fmt: skip
        elif spec.kind == "local":
            runtimes.append(entry("local", local.seconds, True, None, duration, laptop.seconds,
                                  {"workers": len(cpus), "encoder_threads": 1, "cpu_s": round(local.cpu_s, 3),
                                   "timings_s": local.report["timings_s"], "output_bytes": local.output_bytes}))  # fmt: skip
        elif spec.kind == "ec2":
            runtimes.append(ec2_entry(spec, ctx))
        elif spec.kind == "lambda":
            runtimes.append(lambda_entry(spec, ctx, opts.lambda_overrides))
        else:
            runtimes.append(aws_entry(spec, ctx, opts.endpoint_url))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "source": describe(info) | {"duration_s": round(duration, 3)},
        "settings": settings.to_dict(),
        "machine": {
            "cpus": len(cpus),
            "processor": platform.processor() or platform.machine(),
            "busy_before": round(busy_before, 3),
            "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
        },
        "runtimes": runtimes,
        "calibration": calibration(ctx),
        "stages": dataclasses.asdict(ctx["stages"]),
        "segments": [dataclasses.asdict(m) for m in segs.segments],
    }
