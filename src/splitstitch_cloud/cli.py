"""`splitstitch cloud run|status`: upload to a deployed stack, follow the job, download, print the cost.

The job is followed through S3 only (jobs/<job>.json and the encoded segments appearing in work/<job>/),
so a user needs S3 rights on the bucket and nothing else. `--endpoint-url` (or AWS_ENDPOINT_URL) points
every client at another endpoint, e.g. a moto server in the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from splitstitch_cloud.jobs import FAILED, SUCCEEDED, read_status
from splitstitch_cloud.run import CloudError, open_store, run_job
from splitstitch_cloud.storage import S3Store


def add_cloud(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cloud = sub.add_parser("cloud", help="run jobs on the deployed AWS stack (see docs/cloud.md)")
    csub = cloud.add_subparsers(dest="cloud_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", default="splitstitch", help="CloudFormation stack name (default splitstitch)")
        p.add_argument("--bucket", help="the media bucket (default: the stack's BucketName output)")
        p.add_argument("--region", help="AWS region (default: your AWS configuration)")
        p.add_argument("--endpoint-url", help="another AWS endpoint, e.g. a moto server (or AWS_ENDPOINT_URL)")

    run = csub.add_parser("run", help="upload a file, follow the job with a progress bar, download the output")
    run.add_argument("source", type=Path)
    run.add_argument("-o", "--output", type=Path, help="where to download the output (default: <stem>.out.mp4)")
    run.add_argument("--key", help="upload key under uploads/ (default: the file name)")
    run.add_argument("--codec", choices=("h264", "h265", "vp9"))
    run.add_argument("--crf", type=int)
    run.add_argument("--preset")
    run.add_argument("--height", type=int)
    run.add_argument("--segment-seconds", type=float)
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job (default 3600)")
    run.add_argument("--quiet", action="store_true")
    common(run)
    run.set_defaults(func=cmd_run)

    status = csub.add_parser("status", help="print a job's status (jobs/<job>.json)")
    status.add_argument("job")
    common(status)
    status.set_defaults(func=cmd_status)


def store_for(args: argparse.Namespace) -> S3Store:
    return open_store(args.stack, bucket=args.bucket, endpoint_url=args.endpoint_url, region=args.region)


def chosen_settings(args: argparse.Namespace) -> dict[str, Any]:
    wanted = {"codec": args.codec, "crf": args.crf, "preset": args.preset, "height": args.height,
              "segment_seconds": args.segment_seconds}  # fmt: skip
    return {k: v for k, v in wanted.items() if v is not None}


class JobProgress:
    """A progress bar fed by `run.follow`'s polls: the job state and encoded segments out of total."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=1, unit="seg", file=sys.stderr, leave=False,
                            bar_format="{desc:<8} {bar} {n_fmt}/{total_fmt} [{elapsed}]")  # fmt: skip

    def __call__(self, status: dict[str, Any], encoded: int) -> None:
        if self.bar is None:
            return
        self.bar.set_description_str(status["state"])
        self.bar.total = max(int(status.get("segments", 1)), 1)
        self.bar.n = self.bar.total if status["state"] == SUCCEEDED else encoded
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_cost(cost: dict[str, Any]) -> str:
    usd, q = cost["usd"], cost["quantities"]
    return (f"cost ${usd['total']:.6f}: Lambda ${usd['lambda_compute'] + usd['lambda_requests']:.6f} "
            f"({sum(q['lambda_gb_s'].values()):.1f} GB-s, {q['lambda_requests']} requests), "
            f"Step Functions ${usd['step_functions']:.6f} ({q['state_transitions']} transitions), "
            f"S3 ${usd['s3_requests'] + usd['s3_storage']:.6f} ({q['s3_puts']} PUT, {q['s3_gets']} GET)")  # fmt: skip


def cmd_run(args: argparse.Namespace) -> int:
    progress = JobProgress(enabled=not args.quiet)
    try:
        result = run_job(args.source, args.stack, endpoint_url=args.endpoint_url, region=args.region,
                         bucket=args.bucket, output=args.output, key=args.key, settings=chosen_settings(args),
                         timeout=args.timeout, on_poll=progress)  # fmt: skip
    finally:
        progress.close()
    status = result["status"]
    print(result["output"])
    if not args.quiet:
        print(f"job {result['job']}: {status['segments']} segments, verified, "
              f"{status['timings_s']['total']:.1f} s in the cloud, {result['client_seconds']:.1f} s here; "
              f"{format_cost(status['cost'])}", file=sys.stderr)  # fmt: skip
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = read_status(store_for(args), args.job)
    if status is None:
        raise CloudError(f"job {args.job}: no status in jobs/ (wrong stack or job name?)")
    print(json.dumps(status, indent=2))
    return 0 if status["state"] != FAILED else 1
