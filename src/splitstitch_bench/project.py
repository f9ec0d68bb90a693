"""From measurements to figures: fit the stage costs, validate them, and project every runtime to the real
job (or to the measured one without `--full-length`). Pure apart from the planner, which it runs.
"""

from __future__ import annotations

import dataclasses
import heapq
from typing import Any

from splitstitch.plan import Plan, plan_segments
from splitstitch.settings import Settings
from splitstitch_bench import model, talk
from splitstitch_bench.catalog import (
    CASES,
    EC2_MINIMUM_S,
    EC2_TYPES,
    HEADLINE,
    MEDIACONVERT_PER_MIN,
    NEW_ACCOUNT_CONCURRENCY,
    Network,
    RuntimeSpec,
    preset_factor,
)
from splitstitch_bench.cpufit import Check, StageFit, fit_stage, summarize, validate
from splitstitch_bench.runner import Measured
from splitstitch_bench.stack import Stack

Fits = dict[tuple[str, str], StageFit]


def fit_all(rows: list[Measured], scan_parallel: int) -> Fits:
    samples = [s for m in rows for s in m.samples]
    fits: Fits = {}
    for stage, parallel in (("scan", float(scan_parallel)), ("audio", 1.0), ("finish", 1.0)):
        found = fit_stage(samples, stage, "", parallel)
        if found:
            fits[(stage, "")] = found
    for m in rows:
        found = fit_stage(samples, "encode", m.item.name)
        if found:
            fits[("encode", m.item.name)] = found
    return fits


def makespan(durations: list[float], workers: int) -> float:
    free = [0.0] * max(1, workers)
    for d in durations:
        heapq.heapreplace(free, free[0] + d)
    return max(free)


def predict_local(m: Measured, fits: Fits, workers: int) -> float:
    """The local executor's wall time from the fits alone: prepare (one ffprobe), the pool (audio first, then
    segments longest first, one vCPU per worker), finish."""
    enc = fits[("encode", m.item.name)]
    jobs = [fits[("audio", "")].wall(m.seconds, 1.0)] if m.info.audio and ("audio", "") in fits else []
    jobs += [enc.wall(d, float(m.local_threads), m.local_threads) for d in sorted(m.local_plan, reverse=True)]
    prepare = fits[("scan", "")].wall(m.packets, 1.0, parallel=1.0)
    finish = fits[("finish", "")].wall(m.output_bps / 8 * m.seconds, 1.0)
    return prepare + makespan(jobs, workers // m.local_threads or 1) + finish


def validation(rows: list[Measured], fits: Fits, cpus: int) -> dict[str, Any]:
    checks = validate([s for m in rows for s in m.samples], fits, cpus)
    for m in rows:
        if (
            ("encode", m.item.name) in fits
            and {("scan", ""), ("finish", "")} <= set(fits)
            and "seconds" in m.runs.get("local", {})
        ):
            checks.append(Check(f"job:{m.item.name}", f"local executor, {cpus} workers, no quota",
                                predict_local(m, fits, cpus), m.runs["local"]["seconds"], m.runs["local"]["cpu_s"]))  # fmt: skip
    return {"checks": [c.to_dict() for c in checks], "summary": summarize(checks)}


def costs(m: Measured, fits: Fits, plan_s: float, encode_factor: float = 1.0) -> model.Costs:
    """The fitted stage costs; `encode_factor` scales the encode's CPU (another x264 preset than measured)."""
    enc, aud, scan, fin = (fits.get(k) for k in (("encode", m.item.name), ("audio", ""), ("scan", ""), ("finish", "")))
    assert enc and scan and fin
    return model.Costs(
        encode=lambda s, v, k: enc.wall(s, v, k) * encode_factor,
        audio=lambda d, v: aud.wall(d, v) if aud else 0.0,
        scan=lambda p, v, n: scan.wall(p, v, parallel=float(n)),
        finish=lambda b, v: fin.wall(b, v),
        plan_s=plan_s,
        finish_gets_per_segment=m.finish_gets_per_segment,
    )  # fmt: skip


def shape(m: Measured, plan: Plan, full: bool) -> model.Shape:
    seconds = m.item.real_seconds if full else m.seconds
    size = m.item.real_bytes if full else m.info.size
    info = m.full if full else m.info
    assert info.frames
    return model.Shape(
        duration_s=seconds, source_bytes=size, output_bytes=int(m.output_bps / 8 * seconds), audio=bool(info.audio),
        segments=tuple(s.duration_seconds for s in plan.longest_first()), gop_s=talk.GOP_S,
        index_bytes=talk.index_bytes(m.item.container, info.frames.count, talk.audio_packets(seconds, info.audio)),
        packets=info.frames.count + talk.audio_packets(seconds, info.audio), encoder_threads=plan.encoder_threads,
    )  # fmt: skip


def memory_of(stack: Stack, encode_mb: int) -> model.Memory:
    """Every template property of the functions that changes time or cost."""
    enc = stack.functions["encode_segment"]
    return model.Memory(stack.memory("prepare"), encode_mb, stack.memory("finish"), enc.arch, stack.ephemeral(),
                        enc.reserved, stack.child_execution_type == "EXPRESS")  # fmt: skip


def lambda_run(m: Measured, fits: Fits, stack: Stack, settings: Settings, full: bool, encode_mb: int | None = None,
               cap: int | None = None, net: Network | str = HEADLINE, wave_percent: float | None = None) -> model.JobModel:  # fmt: skip
    """The deployed stack (optionally with another encode memory, Map cap or wave share) on this job, in one
    case (a name of `CASES`, or assumptions of its own). The encode CPU follows the template's Preset against
    the preset measured (`settings.preset`)."""
    deployment = stack.deployment
    if encode_mb is not None:
        deployment = dataclasses.replace(deployment, encode_memory_mb=encode_mb)
    if cap is not None:
        deployment = dataclasses.replace(deployment, max_concurrency=cap)
    if wave_percent is not None:
        deployment = dataclasses.replace(deployment, encode_wave_percent=wave_percent)
    plan = plan_segments(m.full if full else m.info, settings, deployment.fanout())
    memory = memory_of(stack, deployment.encode_memory_mb)
    factor = preset_factor(stack.preset, settings.preset)
    return model.lambda_job(shape(m, plan, full), costs(m, fits, m.plan_s, factor), CASES[net] if isinstance(net, str) else net, memory,
                            cap or stack.max_concurrency, deployment.scan_parallel,
                            (stack.transitions.parent, stack.transitions.per_item))  # fmt: skip


def per_minute(usd: float | None, seconds: float) -> float | None:
    return None if usd is None else usd / (seconds / 60)


def runtimes(
    m: Measured,
    fits: Fits,
    stack: Stack,
    settings: Settings,
    specs: list[RuntimeSpec],
    full: bool,
    cases: dict[str, Network] | None = None,
) -> list[dict[str, Any]]:
    """Every asked runtime at the real size (full) or as measured, marked measured / emulated / modeled."""
    factor = m.item.real_seconds / m.seconds if full else 1.0
    seconds_out = m.item.real_seconds if full else m.seconds
    scale_note = f"measured at scale {m.scale:.4g}, x {factor:.4g}" if full else ""
    out = []
    for spec in specs:
        if spec.kind in ("laptop", "local") and spec.kind in m.runs:
            label = (
                "one ffmpeg on this machine" if spec.kind == "laptop" else "splitstitch local executor, this machine"
            )
            s = m.runs[spec.kind]["seconds"] * factor
            out.append({"name": spec.name, "label": label, "how": "projected" if full else "measured",
                        "note": scale_note, "seconds": round(s, 2), "usd": None, "usd_per_min": None})  # fmt: skip
        elif spec.kind == "ec2":
            out.extend(ec2_entries(m, spec, factor, seconds_out, scale_note, full))
        elif spec.kind == "aws" and spec.name in m.runs:
            run = m.runs[spec.name]
            usd = (run.get("cost") or {}).get("usd", {}).get("total")
            out.append({"name": spec.name, "label": f"the deployed stack {run['stack']}, upload to downloaded output",
                        "how": "projected" if full else "measured", "note": scale_note,
                        "seconds": round(run["seconds"] * factor, 2), "usd": None if usd is None else usd * factor,
                        "usd_per_min": None if usd is None else round(usd / (m.seconds / 60), 6)})  # fmt: skip
        elif spec.kind == "lambda":
            out.append(lambda_entry(m, fits, stack, settings, spec, full, cases or CASES, seconds_out))
    return out


def lambda_entry(m: Measured, fits: Fits, stack: Stack, settings: Settings, spec: RuntimeSpec, full: bool,
                 cases: dict[str, Network], seconds_out: float) -> dict[str, Any]:  # fmt: skip
    """One Lambda row in its three cases, headlined by the middle one; `lambda:new-account` is the deployed
    stack under a new account's concurrency quota."""
    new_account = spec.arg == "new-account"
    mb = int(spec.arg) if spec.arg.isdigit() else None
    if new_account:
        cases = {k: dataclasses.replace(v, account_concurrency=NEW_ACCOUNT_CONCURRENCY) for k, v in cases.items()}
    band = {name: lambda_run(m, fits, stack, settings, full, mb, net=net) for name, net in cases.items()}
    head = band[HEADLINE]
    label = "the deployed stack" + (f", encode {mb} MB" if mb else "")
    label += f", a new account ({NEW_ACCOUNT_CONCURRENCY} concurrent)" if new_account else ""
    return {"name": spec.name, "label": label, "how": "modeled", "headline": HEADLINE,
            "seconds": round(head.seconds, 2),
            "band_s": [round(band["optimistic"].seconds, 2), round(band["pessimistic"].seconds, 2)],
            "usd": head.cost["usd"]["total"], "usd_per_min": round(per_minute(head.cost["usd"]["total"], seconds_out) or 0, 6),
            "cases": {k: {"seconds": round(v.seconds, 2), "usd": v.cost["usd"]["total"],
                          "cost_per_output_minute": round(per_minute(v.cost["usd"]["total"], seconds_out) or 0, 6),
                          "assumptions": cases[k].to_dict() | {"arch": v.notes["arch"],
                                                                "effective_core_speed": v.notes["core_speed"],
                                                                "preset": stack.preset, "measured_preset": settings.preset}}
                      for k, v in band.items()},
            "model": head.to_dict(with_slots=True), "band": {k: v.to_dict() for k, v in band.items()}}  # fmt: skip


def ec2_entries(
    m: Measured, spec: RuntimeSpec, factor: float, seconds_out: float, note: str, full: bool
) -> list[dict[str, Any]]:
    run = m.runs.get(spec.name, {})
    inst = EC2_TYPES[spec.arg]
    if not run.get("emulated"):
        return [{"name": spec.name, "label": "not emulated", "how": "skipped", "note": run.get("reason", ""),
                 "seconds": None, "usd": None, "usd_per_min": None}]  # fmt: skip
    out = []
    for start in ("launch", "full_balance", "none"):
        if start not in run:
            continue
        s = run[start]["seconds"] * factor
        usd = max(s, EC2_MINIMUM_S) / 3600 * inst.usd_per_hour
        credits = {"launch": ", launch credits", "full_balance": ", full credit balance", "none": ""}[start]
        out.append({"name": spec.name + ("" if start == "none" else f" ({start.replace('_', ' ')})"),
                    "label": f"this CPU, {inst.vcpus} vCPUs{credits}; per-core speed factor 1.0 assumed",
                    "how": "emulated", "note": note, "seconds": round(s, 2), "usd": round(usd, 6),
                    "usd_per_min": round(usd / (seconds_out / 60), 6),
                    "throttled_at_s": None if run[start].get("throttled_at_s") is None else round(run[start]["throttled_at_s"] * factor, 1)})  # fmt: skip
    return out


def targets(rows: list[tuple[Measured, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Issue 8's table: the modeled Lambda figure against the row's target, and cost for the 720p hours."""
    out = []
    for m, entries in rows:
        row = m.item.row
        lam = next((e for e in entries if e["name"] == "lambda"), None)
        if row is None or lam is None or not row.lambda_s:
            continue  # not one of the talk's jobs (a file, or the 10 GB job): no target
        seconds = lam["seconds"]
        ok = seconds < row.target_s if row.name == "34MB-1080p" else seconds <= row.target_s
        entry: dict[str, Any] = {"row": row.name, "talk_lambda_s": row.lambda_s, "target_s": row.target_s,
                                 "modeled_s": seconds, "band_s": lam["band_s"], "pass": ok}  # fmt: skip
        if row.name in talk.COST_TARGET_ROWS:
            entry |= {"usd_per_min": lam["usd_per_min"], "cost_target": talk.COST_TARGET_PER_MIN,
                      "cost_pass": lam["usd_per_min"] <= talk.COST_TARGET_PER_MIN}  # fmt: skip
        if not ok or not entry.get("cost_pass", True):
            entry["why"] = why(lam["model"])
        out.append(entry)
    return out


def why(job: dict[str, Any]) -> str:
    """The stages and parts that take the time, largest first."""
    stages = job["stages"]
    parts = sorted(((f"{s}.{p}", v) for s, st in stages.items() for p, v in st["parts"].items() if p != "waves"),
                   key=lambda kv: -kv[1])[:4]  # fmt: skip
    head = ", ".join(f"{s} {st['seconds']:.1f} s" for s, st in stages.items())
    return f"{head}; largest parts: " + ", ".join(f"{k} {v:.1f} s" for k, v in parts)


def mediaconvert() -> dict[str, float]:
    return dict(MEDIACONVERT_PER_MIN)
