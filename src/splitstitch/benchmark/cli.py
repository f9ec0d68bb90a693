"""`splitstitch bench FILE | --workload talk`: measured and modeled runtimes side by side."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from splitstitch.benchmark import report, talk
from splitstitch.benchmark.catalog import parse_runtimes
from splitstitch.benchmark.runner import Options, bench_source, cloud_run_job
from splitstitch.codecs import CODECS, X264_PRESETS
from splitstitch.errors import UsageError
from splitstitch.settings import Settings

DEFAULT_RUNTIMES = "laptop,local,ec2:t2.large,ec2:c7i.xlarge,lambda:1769,lambda:3008,lambda:10240"


def add_bench(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("bench", help="measure laptop/local here, model EC2 and Lambda from the measurements")
    p.add_argument("source", type=Path, nargs="?", help="video to benchmark (or use --workload)")
    p.add_argument("--workload", choices=("talk",), help="generate the talk's six reference jobs instead")
    p.add_argument("--scale", type=float, default=talk.DEFAULT_SCALE,
                   help=f"talk workload: fraction of each job's duration (default {talk.DEFAULT_SCALE})")  # fmt: skip
    p.add_argument("--runtimes", default=DEFAULT_RUNTIMES,
                   help="laptop, local, ec2:TYPE, lambda[:MB[,MB...]], aws:STACK (comma separated)")  # fmt: skip
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument("--plot", type=Path, help="bar chart PNG; the Lambda timeline goes beside it (-timeline.png)")
    p.add_argument("--codec", choices=CODECS, default="h264")
    p.add_argument("--crf", type=int)
    p.add_argument("--preset", choices=X264_PRESETS, default="medium")
    p.add_argument("--segment-seconds", type=float, default=10.0)
    p.add_argument(
        "--lambda-concurrency",
        type=int,
        default=200,
        help="Map concurrency cap (default 200, the template's MaxConcurrency)",
    )
    p.add_argument("--cold-start", type=float, default=1.5, help="assumed seconds per cold Lambda (default 1.5)")
    p.add_argument("--s3-mbps", type=float, default=90.0, help="assumed MB/s per S3 stream (default 90)")
    p.add_argument("--sfn-overhead", type=float, default=0.1, help="assumed seconds per Step Functions state")
    p.add_argument("--endpoint-url", help="aws:STACK only: AWS endpoint (e.g. moto server)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each source, wait up to this long for the CPUs to be idle")  # fmt: skip
    p.add_argument("--work-dir", type=Path, help="temporary files and generated sources (default: system temp)")
    p.set_defaults(func=cmd_bench)


def _options(args: argparse.Namespace) -> Options:
    if (args.source is None) == (args.workload is None):
        raise UsageError("bench: give a FILE or --workload talk (not both)")
    if not 0 < args.scale <= 1:
        raise UsageError("--scale must be in (0, 1]")
    for name in ("lambda_concurrency", "cold_start", "s3_mbps", "sfn_overhead"):
        if getattr(args, name) < 0 or (name == "lambda_concurrency" and args.lambda_concurrency < 1):
            raise UsageError(f"--{name.replace('_', '-')} must be positive")
    if args.source is not None and not args.source.is_file():
        raise UsageError(f"{args.source}: no such file")
    settings = Settings(codec=args.codec, crf=args.crf, preset=args.preset, segment_seconds=args.segment_seconds)
    overrides = {"concurrency_cap": args.lambda_concurrency, "cold_start_s": args.cold_start,
                 "s3_mb_per_s": args.s3_mbps, "sfn_state_s": args.sfn_overhead}  # fmt: skip
    runtimes = parse_runtimes(args.runtimes)
    if any(spec.kind == "aws" for spec in runtimes):
        cloud_run_job()  # fail before measuring anything
    return Options(settings, runtimes, args.work_dir, overrides, args.endpoint_url, args.wait_quiet)


def _say(text: str) -> None:
    print(f"bench: {text}", file=sys.stderr, flush=True)


def _plots(results: list[dict[str, Any]], plot: Path, labels: list[str] | None = None) -> list[Path]:
    report.bar_chart(results, plot, labels)
    written = [plot]
    lambdas = [r for r in results[-1]["runtimes"] if "timeline" in r]
    if lambdas:
        timeline = plot.with_name(f"{plot.stem}-timeline{plot.suffix}")
        report.timeline_chart(lambdas[-1], timeline)
        written.append(timeline)
    return written


def cmd_bench(args: argparse.Namespace) -> int:
    opts = _options(args)
    started = time.perf_counter()
    if args.workload:
        doc = run_talk(opts, args.scale)
        results = doc["results"]
        labels = [r["talk"]["name"] for r in results]
    else:
        result = bench_source(args.source, opts, _say)
        doc, results, labels = result, [result], None
        print(report.runtime_table(result))
        notes = report.assumptions_text(result)
        if notes:
            print(notes)
    doc["bench_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        report.write_json(args.json, doc)
        _say(f"wrote {args.json}")
    if args.plot:
        for path in _plots(results, args.plot, labels):
            _say(f"wrote {path}")
    return 0


def run_talk(opts: Options, scale: float) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="splitstitch-talk-", dir=opts.work_root))
    pairs = []
    try:
        for row in talk.TALK_ROWS:
            _say(f"{row.name}: generating {talk.scaled_seconds(row, scale):g} s {row.size} {row.container}")
            source = talk.make_row_source(row, scale, folder)
            result = bench_source(source, opts, _say)
            result["talk"] = {"name": row.name, "seconds": row.seconds, "size": row.size, "container": row.container,
                              "megabytes": row.megabytes, "lambda_s": row.lambda_s, "t2_large_s": row.t2_large_s,
                              "laptop_s": row.laptop_s}  # fmt: skip
            pairs.append((row, result))
            print(f"\n== {row.name} ({result['source']['duration_s']:.1f} s of {row.seconds} s, {row.size})")
            print(report.runtime_table(result), flush=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("\n== beside the talk")
    print(report.talk_table(pairs))
    if pairs:
        print("\nmodeled assumptions (last job):")
        print(report.assumptions_text(pairs[-1][1]))
    return {"workload": "talk", "scale": scale, "results": [r for _, r in pairs]}
