"""`splitstitch bench FILE | --workload talk [--full-length]`: measure here, fit, validate, and show every
runtime beside the talk's (registered through the `splitstitch.commands` entry point group)."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from splitstitch.codecs import CODECS, X264_PRESETS
from splitstitch.errors import UsageError
from splitstitch.inputs import open_source
from splitstitch.plan import plan_segments
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch_bench import cgroup, charts, kept, project, report, reproject, runner, stack, streaming, sweep, talk
from splitstitch_bench.catalog import CASES, parse_runtimes
from splitstitch_bench.runner import Item, Options, machine_state, measure_item, measure_scan, source_doc

DEFAULT_RUNTIMES = "laptop,ec2:t2.large,lambda"
EXTRA_10GB = talk.TalkRow("10GB-4K-2h", "3840x2160", 7200, "mp4", 10000, 0, 0, 0, 0, 30)


def add_bench(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="measure stages here under CPU quotas, model the deployed stack, compare")
    p.add_argument("source", type=Path, nargs="?",
                   help="video to benchmark (or --workload talk); `model --from RESULTS.json` re-projects without measuring")  # fmt: skip
    p.add_argument("--from", dest="from_", type=Path, help="bench model: the results JSON to re-project")
    p.add_argument("--calibration", type=Path, help='bench model: a calibration JSON ({"assumptions": {NAME: VALUE}})')
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                   help="bench model: override an assumption in every case (repeatable), e.g. core_speed=0.8")  # fmt: skip
    p.add_argument("--workload", choices=("talk",), help="the talk's six jobs, generated at --scale")
    p.add_argument("--rows", help="talk rows to run (comma separated names; default all six)")
    p.add_argument("--with-10gb", action="store_true", help="talk workload: add a 10 GB 2 h 4K job (modeled only)")
    p.add_argument("--scale", type=float, default=talk.DEFAULT_SCALE, help="fraction of each job's length generated")
    p.add_argument("--full-length", action="store_true", help="project to the real sizes and durations")
    p.add_argument(
        "--runtimes", default=DEFAULT_RUNTIMES, help="laptop, local, ec2:TYPE, lambda[:MB] (comma separated)"
    )
    p.add_argument("--json", type=Path, help="write every figure here")
    p.add_argument("--plot", type=Path, help="bar chart PNG; -timeline-*, -memory and -scaling charts beside it")
    p.add_argument("--codec", choices=CODECS, default="h264")
    p.add_argument("--crf", type=int)
    p.add_argument("--preset", choices=X264_PRESETS, default="medium")
    p.add_argument("--segments-per-config", type=int, default=2, help="segments encoded per CPU configuration")
    p.add_argument("--endpoint-url", help="aws:STACK only: another AWS endpoint (e.g. a moto server)")
    p.add_argument("--template", type=Path, help="template.yaml to model (default: the project's)")
    p.add_argument("--work-dir", type=Path, help="generated sources, measurements and temporary files (default: temp)")
    p.add_argument("--reuse", action="store_true", help="reuse measurements kept in --work-dir by an earlier run")
    p.add_argument("--ladder", help="also the streaming job (HLS) with this ladder, e.g. 720,480,360,240")
    p.set_defaults(func=cmd_bench)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def items(args: argparse.Namespace, folder: Path) -> list[Item]:
    if args.source is not None:
        info = open_source(MediaSource.local(args.source))
        return [Item(args.source.stem, args.source, info.video_seconds(), info.size, args.source.suffix.lstrip("."))]
    try:
        rows = list(talk.select(args.rows))
    except ValueError as exc:
        raise UsageError(f"--rows: {exc}") from None
    if args.with_10gb:
        rows.append(EXTRA_10GB)
    out = []
    for row in rows:
        seconds = (
            talk.scaled_seconds(row, args.scale) if row.lambda_s else min(8.0, talk.scaled_seconds(row, args.scale))
        )
        _say(
            f"{row.name}: generating {seconds:g} s {row.size} at {row.video_bps / 1e6:.2f} Mb/s (grain {talk.grain(row)})"
        )
        out.append(
            Item(row.name, talk.make_source(row, seconds, folder), row.seconds, row.source_bytes, row.container, row)
        )
    return out


def check(args: argparse.Namespace) -> None:
    if (args.source is None) == (args.workload is None):
        raise UsageError("bench: give a FILE or --workload talk (not both)")
    if not 0 < args.scale <= 1:
        raise UsageError("--scale must be in (0, 1]")
    if args.source is not None and not args.source.is_file():
        raise UsageError(f"{args.source}: no such file")
    if args.segments_per_config < 1:
        raise UsageError("--segments-per-config must be at least 1")


def cmd_model(args: argparse.Namespace) -> int:
    """`bench model --from RESULTS.json`: every modeled figure again from the committed measurements."""
    if args.from_ is None:
        raise UsageError("bench model: give --from RESULTS.json")
    sets = reproject.parse_sets(args.sets)
    doc = reproject.load_json(args.from_, "--from")
    calibration = reproject.load_json(args.calibration, "--calibration") if args.calibration else None
    try:
        deployed = stack.load(args.template)
    except stack.StackError as exc:
        raise UsageError(str(exc)) from None
    runtimes = args.runtimes if args.runtimes != DEFAULT_RUNTIMES else None
    out = reproject.model(doc, deployed, sets, calibration, runtimes)
    print_all(out)
    if args.json:
        write_json(args.json, out)
        _say(f"wrote {args.json}")
    if args.plot:
        for path in plots(out, args.plot):
            _say(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.source == Path("model"):
        return cmd_model(args)
    if args.from_ or args.sets or args.calibration:
        raise UsageError("--from, --set and --calibration belong to `bench model`")
    check(args)
    specs = parse_runtimes(args.runtimes)
    try:
        deployed = stack.load(args.template)
    except stack.StackError as exc:
        raise UsageError(str(exc)) from None
    settings = Settings(codec=args.codec, crf=args.crf, preset=args.preset)
    started = time.perf_counter()
    if args.work_dir:
        args.work_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="splitstitch-bench-", dir=args.work_dir))
    opts = Options(settings, specs, deployed, folder, args.segments_per_config, args.endpoint_url)
    if cgroup.unavailable():
        _say(
            f"no CPU quotas: {cgroup.unavailable()}; stages measured on whole cores, validation at other shares skipped"
        )
    before = machine_state()
    measured = []
    sources = args.work_dir / "sources" if args.work_dir else folder
    sources.mkdir(parents=True, exist_ok=True)
    try:
        keep = args.work_dir / "measured" if args.work_dir else None
        if keep:
            keep.mkdir(exist_ok=True)
        measured = [measure_one(item, opts, specs, keep, args.reuse) for item in items(args, sources)]
        measured[0].samples.extend(measure_scan(opts, _say))
        ladders = [measure_ladder(m, opts, args.ladder, keep, args.reuse) for m in measured] if args.ladder else []
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    doc = build(measured, opts, args, before)
    if ladders:
        fits = project.fit_all(measured, deployed.deployment.scan_parallel)
        doc["streaming"] = [streaming.entries(m, sm, fits, deployed, settings, specs, args.full_length)
                            for m, sm in zip(measured, ladders, strict=True)]  # fmt: skip

    doc["bench_seconds"] = round(time.perf_counter() - started, 1)
    print_all(doc)
    if args.json:
        write_json(args.json, doc)
        _say(f"wrote {args.json}")
    if args.plot:
        for path in plots(doc, args.plot):
            _say(f"wrote {path}")
    return 0


MEASURED_SETTINGS = (
    "codec",
    "crf",
    "preset",
    "height",
    "audio_bitrate",
    "audio_tracks",
    "segment_seconds",
    "encoder_threads",
    "verify",
)  # what a kept measurement depends on


def measure_one(item: Item, opts: Options, specs: list[Any], keep: Path | None, reuse: bool) -> Any:
    """A row the talk did not run (the 10 GB job) is measured for the model only. With a work folder, each
    item's measurements are kept there (`--reuse` takes them instead of measuring again)."""
    path = keep / f"{item.name}-{kept_key(opts, item, specs)}.json" if keep else None
    if reuse and path and path.is_file():
        _say(f"{item.name}: reusing the measurements in {path}")
        measured = kept.from_dict(json.loads(path.read_text()))
        # the plan at full length follows the planner as it is now (pure, instant), not the one kept
        measured.plan_full = plan_segments(measured.full, opts.settings, opts.stack.deployment.fanout())
        if not (item.row is not None and item.row.lambda_s == 0) and runner.complete(measured, opts, _say):
            write_json(path, kept.to_dict(measured))
        return measured
    if item.row is not None and item.row.lambda_s == 0:
        opts = dataclasses.replace(opts, runtimes=[s for s in specs if s.kind == "lambda"])
    measured = measure_item(item, opts, _say)
    if path:
        write_json(path, kept.to_dict(measured))
    return measured


def kept_key(opts: Options, item: Item, specs: list[Any], *extra: str) -> str:
    """What a kept measurement depends on: the measured settings, the item, the runtimes measured (a stack
    asked later is run then, see `runner.complete`)."""
    measured_settings = {k: v for k, v in opts.settings.to_dict().items() if k in MEASURED_SETTINGS}
    names = [s.name for s in specs if s.kind != "aws"]
    return hashlib.sha256(
        json.dumps([measured_settings, item.real_seconds, str(item.source), names, *extra]).encode()
    ).hexdigest()[:12]


def measure_ladder(m: Any, opts: Options, ladder: str, keep: Path | None, reuse: bool) -> streaming.StreamMeasured:
    """The streaming job's measurements for `m`'s source (kept and reused like the file job's)."""
    path = keep / f"{m.item.name}-{kept_key(opts, m.item, [], 'ladder', ladder)}-ladder.json" if keep else None
    if reuse and path and path.is_file():
        _say(f"{m.item.name}: reusing the ladder measurements in {path}")
        sm = streaming.StreamMeasured.from_dict(json.loads(path.read_text()))
        streaming.complete(m, sm, streaming.stream_settings(opts.settings, ladder), opts, _say)
        write_json(path, sm.to_dict())
        return sm
    sm = streaming.measure_stream(m, opts, ladder, _say)
    if path:
        write_json(path, sm.to_dict())
    return sm


def build(measured: list[Any], opts: Options, args: argparse.Namespace, before: dict[str, Any]) -> dict[str, Any]:
    deployed, settings, full = opts.stack, opts.settings, args.full_length
    fits = project.fit_all(measured, deployed.deployment.scan_parallel)
    rows, pairs = [], []
    for m in measured:
        specs = (
            opts.runtimes
            if m.item.row is None or m.item.row.lambda_s
            else [s for s in opts.runtimes if s.kind == "lambda"]
        )
        entries = project.runtimes(m, fits, deployed, settings, specs, full)
        row = m.item.row
        rows.append({"name": m.item.name, "label": row.label if row else m.item.name, "scale": round(m.scale, 6),
                     "source": source_doc(m), "real": {"seconds": m.item.real_seconds, "bytes": m.item.real_bytes},
                     "talk": {"lambda_s": row.lambda_s, "t2_large_s": row.t2_large_s, "laptop_s": row.laptop_s,
                              "target_s": row.target_s, "bitrate_bps": round(row.source_bytes * 8 / row.seconds)}
                     if row and row.lambda_s else None,
                     "plan_full": {"segments": len(m.plan_full.segments), "target_s": m.plan_full.target_seconds,
                                   "reason": m.plan_full.reason, "plan_s": round(m.plan_s, 3)},
                     "measured": m.runs, "errors": m.errors, "samples": [s.to_dict() for s in m.samples], "runtimes": entries})  # fmt: skip
        pairs.append((m, entries))
    sweep_rows = [m for m in measured if m.item.name in ("100MB-720p", "1GB-MKV-720p")] or measured[:1]
    return {
        "workload": args.workload or "file", "scale": args.scale if args.workload else 1.0, "full_length": full,
        "settings": settings.to_dict(), "machine": {"cpus": opts.cpus, "before": before, "after": machine_state(),
                                                    "cpu_quotas": cgroup.unavailable() or "cgroup v1"},
        "stack": {"template": deployed.template, "max_concurrency": deployed.max_concurrency,
                  "memory_mb": {k: f.memory_mb for k, f in deployed.functions.items()},
                  "deployment": vars(deployed.deployment), "transitions": vars(deployed.transitions),
                  "segment_retries": deployed.segment_retries, "encode_timeout_s": deployed.encode_timeout_s},
        "assumptions": {k: v.to_dict() for k, v in CASES.items()},
        "fits": {f"{k[0]}:{k[1]}" if k[1] else k[0]: f.to_dict() for k, f in fits.items()},
        "validation": project.validation(measured, fits, opts.cpus),
        "rows": rows, "targets": project.targets(pairs),
        "sweeps": [sweep.sweeps(m, fits, deployed, settings, full) for m in sweep_rows],
    }  # fmt: skip


def print_all(doc: dict[str, Any]) -> None:
    where = "at their real sizes" if doc["full_length"] else "as measured here"
    for r in doc["rows"]:
        print(f"\n== {r['label']} (measured on {r['source']['duration_s']:.1f} s, {r['source']['bytes'] / 1e6:.1f} MB, "
              f"{r['source']['bitrate_bps'] / 1e6:.2f} Mb/s; scale {r['scale']:.4g}); figures {where}")  # fmt: skip
        print(report.runtime_table(r))
        for error in r["errors"]:
            print(f"  left out (the core refused it): {error[:300]}")
        lam = next((e for e in r["runtimes"] if e["how"] == "modeled"), None)
        if lam:
            print(report.stage_table(lam["model"]))
    if doc["workload"] == "talk":
        print("\n== beside the talk (seconds)")
        print(report.talk_table(doc["rows"]))
    print()
    print(report.cost_table(doc["rows"]))
    if doc["targets"]:
        print()
        print(report.targets_table(doc["targets"]))
    for entry in doc.get("streaming", []):
        print(f"\n== {entry['name']} as a streaming job")
        print(report.stream_table(entry))
    print()
    print(report.fits_table(doc["fits"]))
    print(report.validation_table(doc["validation"]))
    print()
    print(report.assumptions_table(doc["assumptions"]))
    m = doc["machine"]
    print(f"\nmachine: {m['cpus']} CPUs, load {m['before']['load_1min']} -> {m['after']['load_1min']} (1 min), "
          f"busy {m['before']['busy']:.0%} before; CPU quotas: {m['cpu_quotas']}")  # fmt: skip


def write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def plots(doc: dict[str, Any], plot: Path) -> list[Path]:
    written = [plot]
    charts.bars(doc, plot)
    for r in doc["rows"]:
        lam = next((e for e in r["runtimes"] if e["how"] == "modeled"), None)
        if (lam and r["name"] in ("100MB-720p", "10GB-4K-2h", "1GB-MKV-720p")) or (lam and len(doc["rows"]) == 1):
            path = plot.with_name(f"{plot.stem}-timeline-{r['name']}{plot.suffix}")
            charts.timeline(lam["model"], f"{r['label']} on Lambda", path)
            written.append(path)
    if doc["sweeps"]:
        written += [
            plot.with_name(f"{plot.stem}-memory{plot.suffix}"),
            plot.with_name(f"{plot.stem}-scaling{plot.suffix}"),
        ]
        charts.memory(doc["sweeps"], written[-2])
        charts.scaling(doc["sweeps"], written[-1])
    return written
