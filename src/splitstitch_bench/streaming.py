"""`splitstitch bench ... --ladder 720,480,360,240`: the streaming job (issue 11) measured and modeled like the
single-file one, on the same scaled sources.

Measured here, per rung: segment encodes of the streaming plan's 6 s segments through `stages.encode_segment`
(each rung scales the same source down and caps its bitrate) at 1 vCPU and at 2 threads on 2 vCPUs (fit),
at 0.5 vCPU (validation); the rung's output bitrate from those encodes; the first audio rendition and the
packaging finish (`streaming.finish_streaming`, per Map item) at 1 vCPU on the whole scaled job and on its
first quarter (two lengths, so that a fit tells start-up from work), the packaging also at the finish
function's share (validation); the local executor's streaming job end to end; and, with
`aws:STACK`, the deployed stack (or a local one, `--endpoint-url`) from upload to downloaded master playlist.

Modeled: the deployed stack on the real length (model_stream.py), with the prepare, scan and audio fits of
the file job (the same source is probed and scanned, the same audio encoded).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch.errors import SplitstitchError
from splitstitch.plan import plan_segments
from splitstitch.settings import Settings
from splitstitch.stages import STREAM_SEGMENT_S
from splitstitch_bench import cgroup, measure, model, model_stream, project, runner
from splitstitch_bench.catalog import BAND, HEADLINE, RuntimeSpec, lambda_vcpus
from splitstitch_bench.cpufit import FIT, VALIDATE, Sample, StageFit, fit_stage, summarize, validate
from splitstitch_bench.runner import Measured, Options, Say
from splitstitch_bench.stack import Stack

FORMAT = "hls"  # the encodes and the copies are the same for DASH and CMAF; only the manifests differ


def stream_settings(settings: Settings, ladder: str) -> Settings:
    return dataclasses.replace(settings, streaming=FORMAT, ladder=ladder)


@dataclass
class StreamMeasured:
    ladder: str
    rungs: list[dict[str, Any]]  # Rung.to_dict() of the scaled job's ladder
    rung_bps: dict[str, float]
    renditions: int
    manifests: int
    samples: list[Sample] = field(default_factory=list)
    runs: dict[str, Any] = field(default_factory=dict)  # local, aws:*
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StreamMeasured:
        return cls(**(d | {"samples": [Sample(**s) for s in d["samples"]]}))


def group(m: Measured, rung: str) -> str:
    return f"{m.item.name}@{rung}"


def measure_stream(m: Measured, opts: Options, ladder: str, say: Say) -> StreamMeasured:
    settings = stream_settings(opts.settings, ladder)
    quotas = cgroup.unavailable() is None
    one = 1.0 if quotas else None
    job, _ = measure.prepare(m.item.source, settings, opts.stack.deployment.fanout(), one)
    sm = StreamMeasured(ladder, [r.to_dict() for r in job.rungs], {}, len(job.renditions), 0)
    picks = runner.middle(job.plan, opts.segments_per_config)
    for rung in job.rungs:
        rates = []
        for vcpus, threads, role, note in runner.configs(quotas):
            for index in picks if threads == 1 or role == VALIDATE else picks[:1]:
                task = dataclasses.replace(job.segment_task(index, rung), threads=threads)
                result, t = measure.encode_task(job, task, vcpus, opts.work)
                seconds = job.plan.segments[index].duration_seconds
                sm.samples.append(
                    measure.sample("encode", group(m, rung.name), seconds, vcpus or 1.0, threads, t, role, note)
                )
                rates.append(result.bytes * 8 / seconds)
                say(f"{m.item.name} {rung.name}: segment {index} ({seconds:.2f} s) at {vcpus or 'no quota'} vCPU, "
                    f"{threads} thread(s): {t.wall_s:.2f} s wall, {t.cpu_s:.2f} s CPU, {rates[-1] / 1e6:.2f} Mb/s")  # fmt: skip
        sm.rung_bps[rung.name] = statistics.median(rates)
    measure_rendition(m, sm, job, one, opts, say)
    measure_package(m, sm, job, opts, one, quotas, say)
    complete(m, sm, settings, opts, say)
    return sm


def complete(m: Measured, sm: StreamMeasured, settings: Settings, opts: Options, say: Say) -> None:
    """What kept measurements lack: the second, shorter length of the audio and packaging fits (a fit on one
    length cannot tell start-up from work, and would scale start-up to the real length), and the runs."""
    lengths = {stage: len({s.work for s in sm.samples if s.stage == stage}) for stage in ("audio", "package")}
    if min(lengths.values()) < 2:
        one = 1.0 if cgroup.unavailable() is None else None
        cut = opts.work / f"cut-{m.item.name}{m.item.source.suffix}"
        measure.cut(m.item.source, m.seconds / 4, cut)
        try:
            job, _ = measure.prepare(cut, settings, opts.stack.deployment.fanout(), one)
            measure_rendition(m, sm, job, one, opts, say)
            measure_package(m, sm, job, opts, one, False, say)
        finally:
            cut.unlink(missing_ok=True)
    measure_runs(m, sm, settings, opts, say)


def measure_rendition(m: Measured, sm: StreamMeasured, job: Any, one: float | None, opts: Options, say: Say) -> None:
    """Every rendition encodes the whole source's audio once; the first is timed."""
    for plan in job.renditions[:1]:
        t = measure.encode_audio(job, one, opts.work, plan)
        seconds = job.info.video_seconds()
        sm.samples.append(measure.sample("audio", "rendition", seconds, one or 1.0, 1, t, FIT))
        say(f"{m.item.name}: audio rendition of {seconds:.1f} s at {one} vCPU: {t.wall_s:.2f} s")


def measure_package(m: Measured, sm: StreamMeasured, job: Any, opts: Options, one: float | None, validate: bool,
                    say: Say) -> None:  # fmt: skip
    """The packaging finish on a whole scaled job (encoded at `ultrafast`: packaging reads and writes bytes
    and parses fragment heads; how they were encoded does not matter) at `one` vCPU (fit), and at the finish
    function's share when `validate`."""
    fast = dataclasses.replace(job, settings=dataclasses.replace(job.settings, preset="ultrafast"))
    folder = Path(tempfile.mkdtemp(prefix="package-", dir=opts.work))
    try:
        stored = measure.stored_job(fast, folder, opts.cpus)
        v_fin = round(lambda_vcpus(opts.stack.memory("finish")), 2)
        for vcpus, role in ((one, FIT), *(((v_fin, VALIDATE),) if validate else ())):
            info, t = measure.package(stored, vcpus)
            sm.manifests = info["manifests"]
            sm.samples.append(measure.sample("package", "", info["items"], vcpus or 1.0, 1, t, role))
            say(f"{m.item.name}: packaging {info['items']} items into {info['files']} files at {vcpus} vCPU: "
                f"{t.wall_s:.2f} s")  # fmt: skip
    except SplitstitchError as exc:
        sm.errors.append(f"package: {exc}")
        say(f"{m.item.name}: packaging measurement failed, left out: {str(exc)[:200]}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure_runs(m: Measured, sm: StreamMeasured, settings: Settings, opts: Options, say: Say) -> None:
    """The local executor's streaming job (playback checks included), and the stacks asked with aws:STACK."""
    out = opts.work / f"ladder-{m.item.name}"
    try:
        if "local" not in sm.runs:
            report, t = measure.local_job(m.item.source, settings, out, opts.cpus, None, opts.work)
            sm.runs["local"] = runner.run_entry(t, workers=opts.cpus, timings_s=report["timings_s"])
            say(f"{m.item.name}: local executor, ladder {sm.ladder}, {opts.cpus} workers: {t.wall_s:.2f} s")
    except SplitstitchError as exc:
        sm.errors.append(f"local executor: {exc}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
    for spec in opts.runtimes:
        if spec.kind == "aws" and spec.name not in sm.runs:
            sm.runs[spec.name] = runner.deployed_job(m, spec, dataclasses.replace(opts, settings=settings), say)


def fit_all(m: Measured, sm: StreamMeasured) -> dict[tuple[str, str], StageFit]:
    fits = {}
    for rung in sm.rungs:
        found = fit_stage(sm.samples, "encode", group(m, rung["name"]))
        if found:
            fits[("encode", group(m, rung["name"]))] = found
    for stage, name in (("audio", "rendition"), ("package", "")):
        found = fit_stage(sm.samples, stage, name)
        if found:
            fits[(stage, name)] = found
    return fits


def lambda_run(m: Measured, sm: StreamMeasured, fits: project.Fits, stack: Stack, settings: Settings, full: bool,
               net: str = HEADLINE) -> model.JobModel:  # fmt: skip
    """The deployed stack on the streaming job: the real length cut into the streaming plan's segments."""
    mine = fit_all(m, sm)
    planned = dataclasses.replace(stream_settings(settings, sm.ladder), segment_seconds=STREAM_SEGMENT_S)
    plan = plan_segments(m.full if full else m.info, planned, stack.deployment.fanout())
    costs = project.costs(m, fits, m.plan_s)
    audio = mine.get(("audio", "rendition"))
    if audio is not None:
        costs = dataclasses.replace(costs, audio=lambda d, v: audio.wall(d, v))
    package = mine[("package", "")]
    rungs = tuple(model_stream.RungCost(r["name"], mine[("encode", group(m, r["name"]))].wall, sm.rung_bps[r["name"]])
                  for r in sm.rungs)  # fmt: skip
    ladder = model_stream.Ladder(rungs, sm.renditions, lambda n, v: package.wall(n, v), sm.manifests)
    memory = project.memory_of(stack, stack.deployment.encode_memory_mb)
    return model_stream.lambda_stream_job(project.shape(m, plan, full), costs, ladder, BAND[net], memory,
                                          stack.max_concurrency, stack.deployment.scan_parallel,
                                          (stack.transitions.parent, stack.transitions.per_item))  # fmt: skip


def entries(m: Measured, sm: StreamMeasured, fits: project.Fits, stack: Stack, settings: Settings,
            specs: list[RuntimeSpec], full: bool) -> dict[str, Any]:  # fmt: skip
    """The streaming row: measured runs (projected by length with --full-length), the model with its band, and
    the validation of the streaming fits on configurations they were not fitted on."""
    factor = m.item.real_seconds / m.seconds if full else 1.0
    seconds_out = m.item.real_seconds if full else m.seconds
    how = "projected" if full else "measured"
    out = []
    for name, run in sm.runs.items():
        if name == "local" or any(s.name == name for s in specs):
            label = "splitstitch local executor, this machine" if name == "local" else f"the stack {run['stack']}"
            usd = ((run.get("cost") or {}).get("usd") or {}).get("total")
            out.append({"name": name, "label": label, "how": how, "seconds": round(run["seconds"] * factor, 2),
                        "usd": None if usd is None else usd * factor,
                        "usd_per_min": None if usd is None else round(usd / (m.seconds / 60), 6)})  # fmt: skip
    if any(s.kind == "lambda" for s in specs) and not any("package" in e for e in sm.errors):
        band = {k: lambda_run(m, sm, fits, stack, settings, full, k) for k in BAND}
        nominal = band[HEADLINE]
        usd = nominal.cost["usd"]["total"]
        out.append({"name": "lambda", "label": "the deployed stack", "how": "modeled", "seconds": round(nominal.seconds, 2),
                    "band_s": [round(band["optimistic"].seconds, 2), round(band["pessimistic"].seconds, 2)],
                    "usd": usd, "usd_per_min": round(usd / (seconds_out / 60), 6),
                    "model": nominal.to_dict(with_slots=True)})  # fmt: skip
    mine = fit_all(m, sm)
    checks = validate(sm.samples, mine, len(os.sched_getaffinity(0)))
    rungs = [r | {"measured_bps": round(sm.rung_bps[r["name"]])} for r in sm.rungs]
    return {"name": m.item.name, "ladder": sm.ladder, "format": FORMAT, "rungs": rungs,
            "renditions": sm.renditions, "runtimes": out, "errors": sm.errors,
            "validation": {"checks": [c.to_dict() for c in checks], "summary": summarize(checks)},
            "fits": {f"{k[0]}:{k[1]}" if k[1] else k[0]: f.to_dict() for k, f in mine.items()},
            "samples": [s.to_dict() for s in sm.samples]}  # fmt: skip
