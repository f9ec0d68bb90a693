"""Measure one workload item (a scaled source standing for a real job) on this machine: the core's stages
under CPU quotas (fit and validation configurations), the local executor end to end, one ffmpeg, and an
emulated EC2 instance. Fitting and projecting are in project.py.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch.errors import SplitstitchError
from splitstitch.inputs import open_source
from splitstitch.media import MediaInfo
from splitstitch.plan import Plan, plan_segments
from splitstitch.report import describe
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch_bench import cgroup, measure, talk
from splitstitch_bench.catalog import EC2_TYPES, RuntimeSpec, lambda_vcpus
from splitstitch_bench.cpufit import FIT, VALIDATE, Sample
from splitstitch_bench.stack import Stack

Say = Callable[[str], None]


@dataclass(frozen=True)
class Item:
    """A job to bench: a source here standing for a real one of `real_seconds` and `real_bytes`."""

    name: str
    source: Path
    real_seconds: float
    real_bytes: int
    container: str
    row: talk.TalkRow | None = None


@dataclass(frozen=True)
class Options:
    settings: Settings
    runtimes: list[RuntimeSpec]
    stack: Stack
    work: Path
    segments_per_config: int = 2
    endpoint_url: str | None = None  # aws:STACK: another endpoint (a moto server in the tests)
    cpus: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))


@dataclass
class Measured:
    item: Item
    info: MediaInfo  # the scaled source
    full: MediaInfo  # the synthetic full-length source
    plan_full: Plan
    plan_s: float  # the planner on the full-length index at the prepare function's share
    packets: int
    samples: list[Sample] = field(default_factory=list)
    finish_gets_per_segment: float = 2.0
    runs: dict[str, Any] = field(default_factory=dict)  # laptop, local, ec2:* measurements
    local_plan: list[float] = field(default_factory=list)  # segment seconds of the local run
    local_threads: int = 1
    output_bps: float = 0.0  # of the local run (the job's settings), else of one ffmpeg's output
    errors: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.info.video_seconds()

    @property
    def scale(self) -> float:
        return self.seconds / self.item.real_seconds


def packets(info: MediaInfo) -> int:
    assert info.frames
    return info.frames.count + talk.audio_packets(info.video_seconds(), info.audio)


def attempt(m: Measured, what: str, run: Callable[[], measure.Timed], say: Say) -> measure.Timed | None:
    """A measurement that the core refused (a failed check) is recorded and left out, not fatal."""
    try:
        return run()
    except SplitstitchError as exc:
        m.errors.append(f"{what}: {exc}")
        say(f"{m.item.name}: {what} failed, left out: {str(exc)[:200]}")
        return None


def configs(quotas: bool) -> list[tuple[float | None, int, str, str]]:
    """(vcpus, threads, role, note) for the segment encodes: fit at 1 vCPU (and 2 threads on 2 vCPUs for the
    thread cost), validate at 0.5 and 1.7 vCPU (3,008 MB: the deployed planner gives it 2 threads)."""
    if not quotas:
        return [(None, 1, FIT, "no quota: taken as 1 vCPU")]
    return [
        (1.0, 1, FIT, ""),
        (2.0, 2, FIT, ""),
        (0.5, 1, VALIDATE, ""),
        (round(lambda_vcpus(3008), 2), 2, VALIDATE, ""),
    ]


def middle(plan: Plan, count: int) -> list[int]:
    inner = [s.index for s in plan.segments[1:-1]] or [s.index for s in plan.segments]
    step = max(1, len(inner) // (count + 1))
    return inner[step - 1 :: step][:count] or inner[:count]


def measure_item(item: Item, opts: Options, say: Say) -> Measured:
    settings, stack, name = opts.settings, opts.stack, item.name
    quotas = cgroup.unavailable() is None
    info = open_source(MediaSource.local(item.source))
    full = talk.full_info(info, item.real_seconds, item.real_bytes) if item.row else info
    fanout = stack.deployment.fanout()
    v_prep = lambda_vcpus(stack.memory("prepare"))
    plan_full, t_plan = measure.timed(v_prep if quotas else None, lambda: plan_segments(full, settings, fanout))
    m = Measured(item, info, full, plan_full, t_plan.wall_s, packets(info))
    target = plan_full.target_seconds
    say(f"{name}: full length {item.real_seconds:g} s -> {len(plan_full.segments)} segments of {target:.2f} s "
        f"(planned in {t_plan.wall_s:.2f} s); measuring {m.seconds:.1f} s here")  # fmt: skip
    one = (1.0 if quotas else None, 1, FIT, "" if quotas else "no quota: taken as 1 vCPU")
    at_target = dataclasses.replace(settings, segment_seconds=target)
    job, t = measure.prepare(item.source, at_target, fanout, one[0])
    m.samples.append(measure.sample("scan", "", m.packets, 1.0, 1, t, FIT, one[3]))
    if quotas:
        _, t = measure.prepare(item.source, at_target, fanout, round(v_prep, 2))
        m.samples.append(measure.sample("scan", "", m.packets, round(v_prep, 2), 1, t, VALIDATE))
    picks = middle(job.plan, opts.segments_per_config)
    modeled_only = not any(r.kind in ("laptop", "local", "ec2") for r in opts.runtimes)
    for vcpus, threads, role, note in configs(quotas):
        if role == VALIDATE and modeled_only:
            continue  # a row measured for the model only (the 10 GB job): its fit, not another validation
        for index in picks if threads == 1 or role == VALIDATE else picks[:1]:
            run = functools.partial(measure.encode_segment, job, index, threads, vcpus, opts.work)
            t = attempt(m, f"segment {index} at {vcpus} vCPU", run, say)
            if t is None:
                continue
            seconds = job.plan.segments[index].duration_seconds
            m.samples.append(measure.sample("encode", name, seconds, vcpus or 1.0, threads, t, role, note))
            say(f"{name}: segment {index} ({seconds:.2f} s) at {vcpus or 'no quota'} vCPU, {threads} thread(s): "
                f"{t.wall_s:.2f} s wall, {t.cpu_s:.2f} s CPU")  # fmt: skip
    long_plan = plan_segments(
        job.info, dataclasses.replace(settings, segment_seconds=min(3 * target, m.seconds / 2)), fanout
    )
    long_job = dataclasses.replace(job, plan=long_plan)
    index = middle(long_plan, 1)[0]
    t = attempt(m, f"long segment {index}", lambda: measure.encode_segment(long_job, index, 1, one[0], opts.work), say)
    if t is not None:
        m.samples.append(
            measure.sample("encode", name, long_plan.segments[index].duration_seconds, 1.0, 1, t, FIT, one[3])
        )
    if job.audio:
        for vcpus, role in ((one[0], FIT), *(((0.5, VALIDATE),) if quotas else ())):
            t = measure.encode_audio(job, vcpus, opts.work)
            m.samples.append(measure.sample("audio", "", m.seconds, vcpus or 1.0, 1, t, role, "" if quotas else one[3]))
    try:
        measure_finish(m, job, opts, quotas, say)
    except SplitstitchError as exc:
        m.errors.append(f"finish: {exc}")
        say(f"{name}: finish measurement failed, left out: {str(exc)[:200]}")
    measure_runtimes(m, opts, say)
    return m


SCAN_SECONDS = (60.0, 600.0)  # 160x90 clips: many packets, little else, so the scan's slope shows


def measure_scan(opts: Options, say: Say) -> list[Sample]:
    """The prepare stage's cost per packet, on two long tiny clips (the scaled talk sources are short, and an
    hour-long source has ~100 times their packets): fit at 1 vCPU, checked at the prepare function's share."""
    from splitstitch.samples import make_clip

    quotas = cgroup.unavailable() is None
    v_prep = round(lambda_vcpus(opts.stack.memory("prepare")), 2)
    out = []
    for seconds in SCAN_SECONDS:
        clip = make_clip(opts.work / f"scan-{seconds:g}.mp4", seconds, "160x90")
        fanout = opts.stack.deployment.fanout()
        job, t = measure.prepare(clip, opts.settings, fanout, 1.0 if quotas else None)
        count = packets(job.info)
        out.append(measure.sample("scan", "", count, 1.0, 1, t, FIT, "" if quotas else "no quota: taken as 1 vCPU"))
        if quotas and seconds == SCAN_SECONDS[-1]:
            _, t2 = measure.prepare(clip, opts.settings, fanout, v_prep)
            out.append(measure.sample("scan", "", count, v_prep, 1, t2, VALIDATE))
        say(f"scan: {count} packets ({seconds:g} s of 160x90) prepared in {t.wall_s:.2f} s at 1 vCPU")
        clip.unlink(missing_ok=True)
    return out


def measure_finish(m: Measured, job: Any, opts: Options, quotas: bool, say: Say) -> None:
    """Finish on a stored job cut like the full-length one (encoded at `ultrafast`: finish's cost depends on
    bytes and fragments, not on how they were encoded)."""
    fast = dataclasses.replace(job, settings=dataclasses.replace(job.settings, preset="ultrafast"))
    folder = Path(tempfile.mkdtemp(prefix="finish-", dir=opts.work))
    try:
        stored = measure.stored_job(fast, folder, opts.cpus)
        v_fin = round(lambda_vcpus(opts.stack.memory("finish")), 2)
        for vcpus, role in ((1.0 if quotas else None, FIT), *(((v_fin, VALIDATE),) if quotas else ())):
            info, t = measure.finish(stored, vcpus)
            m.samples.append(measure.sample("finish", "", info["bytes"], vcpus or 1.0, 1, t, role))
            m.finish_gets_per_segment = info["serial_json_gets"] / max(1, info["segments"])
            say(f"{m.item.name}: finish of {info['segments']} segments, {info['bytes']:,} bytes at {vcpus} vCPU: "
                f"{t.wall_s:.2f} s")  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_entry(t: measure.Timed, **extra: Any) -> dict[str, Any]:
    return {"seconds": round(t.wall_s, 3), "cpu_s": round(t.cpu_s, 3), "throttled_s": round(t.throttled_s, 3),
            "throttled_at_s": None if t.throttled_at is None else round(t.throttled_at, 3), **extra}  # fmt: skip


def measure_runtimes(m: Measured, opts: Options, say: Say) -> None:
    """The local executor (always: it validates whole jobs), then one ffmpeg and EC2 types as asked."""
    source, settings, name = m.item.source, opts.settings, m.item.name
    try:
        report, t = measure.local_job(source, settings, opts.work / "local.mp4", opts.cpus, None, opts.work)
        m.runs["local"] = run_entry(t, workers=opts.cpus, timings_s=report["timings_s"])
        m.local_plan = [s["duration_s"] for s in report["plan"]["segments"]]
        m.local_threads = report["plan"]["encoder_threads"]
        m.output_bps = report["output"]["bytes"] * 8 / m.seconds
        say(f"{name}: local executor, {opts.cpus} workers: {t.wall_s:.2f} s")
    except SplitstitchError as exc:
        m.errors.append(f"local executor: {exc}")
        say(f"{name}: local executor failed, left out: {str(exc)[:200]}")
    for spec in opts.runtimes:
        if spec.kind == "laptop" or (spec.kind == "lambda" and not m.output_bps):
            lt = measure.laptop(source, settings, opts.work / "laptop.mp4")
            m.output_bps = m.output_bps or (opts.work / "laptop.mp4").stat().st_size * 8 / m.seconds
            if spec.kind == "laptop":
                m.runs["laptop"] = run_entry(lt, command=["ffmpeg", *measure.single_command_args(Path("SRC"), settings,
                                                                                                Path("OUT.mp4"))])  # fmt: skip
                say(f"{name}: one ffmpeg: {lt.wall_s:.2f} s")
        elif spec.kind == "aws":
            m.runs[spec.name] = deployed_job(m, spec, opts, say)
        elif spec.kind == "ec2" and "local" not in m.runs:
            m.runs[spec.name] = {"emulated": False, "reason": "the local executor failed on this source"}
        elif spec.kind == "ec2":
            m.runs[spec.name] = emulate_ec2(m, spec, opts, say)
    (opts.work / "local.mp4").unlink(missing_ok=True)
    (opts.work / "laptop.mp4").unlink(missing_ok=True)


def deployed_job(m: Measured, spec: RuntimeSpec, opts: Options, say: Say) -> dict[str, Any]:
    """A deployed stack, timed from upload to downloaded output by the cloud package (`splitstitch cloud run`)."""
    from splitstitch_cloud.run import run_job

    out = opts.work / ("aws-package" if opts.settings.streaming else "aws.mp4")  # a package is a folder
    result, t = measure.timed(None, lambda: run_job(m.item.source, spec.arg, endpoint_url=opts.endpoint_url,
                                                    output=out, settings=opts.settings.to_dict()))  # fmt: skip
    if out.is_dir():
        shutil.rmtree(out)
    else:
        out.unlink(missing_ok=True)
    status = result["status"]
    say(f"{m.item.name}: {spec.name}: {t.wall_s:.2f} s from upload to downloaded output")
    return {"seconds": round(t.wall_s, 3), "stack": spec.arg, "endpoint_url": opts.endpoint_url,
            "job": result["job"], "state": status["state"], "cost": status.get("cost"),
            "timings_s": status.get("timings_s")}  # fmt: skip


def complete(m: Measured, opts: Options, say: Say) -> bool:
    """Kept measurements without an asked EC2 type or stack: emulate or run it now (True if anything was added)."""
    missing = [s for s in opts.runtimes if s.kind in ("ec2", "aws") and s.name not in m.runs and "local" in m.runs]
    for spec in missing:
        m.runs[spec.name] = emulate_ec2(m, spec, opts, say) if spec.kind == "ec2" else deployed_job(m, spec, opts, say)
    return bool(missing)


def emulate_ec2(m: Measured, spec: RuntimeSpec, opts: Options, say: Say) -> dict[str, Any]:
    """This CPU with the instance's vCPU count (a quota), and for burstable types its CPU credits over the
    job's length: from launch credits and from a full balance."""
    inst = EC2_TYPES[spec.arg]
    if inst.vcpus > opts.cpus:
        return {"emulated": False, "reason": f"{inst.vcpus} vCPUs > {opts.cpus} cores here: not emulated"}
    local = m.runs["local"]
    out: dict[str, Any] = {"emulated": True, "vcpus": inst.vcpus, "scale": round(m.scale, 6)}
    starts = {"launch": inst.burst.launch, "full_balance": inst.burst.maximum} if inst.burst else {"none": None}
    plans = {start: None if credits is None or not inst.burst else
             cgroup.CreditPlan(inst.vcpus, inst.burst.baseline_per_vcpu, inst.burst.earn_per_hour, credits, m.scale)
             for start, credits in starts.items()}  # fmt: skip
    quotas = cgroup.unavailable() is None
    throttles = any(p is not None and p.spent(local["cpu_s"], local["seconds"]) for p in plans.values())
    for start, plan in plans.items():
        if not throttles and inst.vcpus == opts.cpus and quotas:
            out[start] = local | {"reused": "the local run: same workers and cores, credits never ran out"}
            continue  # otherwise every start runs now, under the same machine load
        _, t = measure.local_job(m.item.source, opts.settings, opts.work / "ec2.mp4", inst.vcpus,
                                 float(inst.vcpus) if quotas else None, opts.work, plan if quotas else None)  # fmt: skip
        out[start] = run_entry(t, credits_cpu_s=None if plan is None else round(plan.balance_cpu_s, 3))
        say(f"{m.item.name}: {spec.name} ({start}): {t.wall_s:.2f} s, throttled at {t.throttled_at}")
        (opts.work / "ec2.mp4").unlink(missing_ok=True)
    return out


def machine_state() -> dict[str, Any]:
    from splitstitch_bench.load import busy_fraction

    return {
        "load_1min": round(os.getloadavg()[0], 2),
        "busy": round(busy_fraction(), 3),
        "at": time.strftime("%H:%M:%S"),
    }


def source_doc(m: Measured) -> dict[str, Any]:
    return describe(m.info) | {"duration_s": round(m.seconds, 3), "bitrate_bps": round(m.info.size * 8 / m.seconds)}
