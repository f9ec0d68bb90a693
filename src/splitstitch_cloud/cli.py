"""`splitstitch cloud run|status`: upload to a deployed stack, follow the job, download, print the cost.

The job is followed through S3 only (jobs/<job>.json and the encoded segments appearing in work/<job>/),
so a user needs S3 rights on the bucket and nothing else. `--endpoint-url` (or AWS_ENDPOINT_URL) points
every client at another endpoint, e.g. a moto server in the tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from splitstitch.errors import SplitstitchError, UsageError
from splitstitch_cloud import layout
from splitstitch_cloud.jobs import FAILED, SUCCEEDED, read_status
from splitstitch_cloud.steps import SETTINGS_METADATA
from splitstitch_cloud.storage import S3Store, client


class CloudError(SplitstitchError):
    """The stack, the bucket or the job could not be found, or the job failed."""


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
    s3 = client("s3", args.endpoint_url, args.region)
    if args.bucket:
        return S3Store(args.bucket, s3)
    cfn = client("cloudformation", args.endpoint_url, args.region)
    try:
        outputs = cfn.describe_stacks(StackName=args.stack)["Stacks"][0].get("Outputs", [])
    except cfn.exceptions.ClientError as exc:
        raise CloudError(f"stack {args.stack}: {exc.response['Error']['Message']}") from None
    bucket = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "BucketName"), None)
    if not bucket:
        raise CloudError(f"stack {args.stack}: no BucketName output (deploy template.yaml, or pass --bucket)")
    return S3Store(bucket, s3)


def settings_metadata(args: argparse.Namespace) -> dict[str, str]:
    wanted = {"codec": args.codec, "crf": args.crf, "preset": args.preset, "height": args.height,
              "segment_seconds": args.segment_seconds}  # fmt: skip
    chosen = {k: v for k, v in wanted.items() if v is not None}
    return {SETTINGS_METADATA: json.dumps(chosen)} if chosen else {}


def follow(store: S3Store, job: str, timeout: float, quiet: bool) -> dict[str, Any]:
    """Poll the job status; the bar counts encoded segments in work/<job>/."""
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=1, unit="seg", file=sys.stderr, bar_format="{desc:<8} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            status = read_status(store, job) or {"state": "waiting"}
            if bar is not None:
                bar.set_description_str(status["state"])
                bar.total = max(int(status.get("segments", 1)), 1)
                if status["state"] == "running":
                    bar.n = sum(
                        1 for k in store.keys(layout.work_prefix(job)) if k.rsplit("/", 1)[-1].startswith("enc_")
                    )
                elif status["state"] == SUCCEEDED:
                    bar.n = bar.total
                bar.refresh()
            if status["state"] in (SUCCEEDED, FAILED):
                return status
            time.sleep(1.0)
    finally:
        if bar is not None:
            bar.close()
    raise CloudError(f"job {job}: still not finished after {timeout:.0f} s (see `splitstitch cloud status {job}`)")


def format_cost(cost: dict[str, Any]) -> str:
    usd, q = cost["usd"], cost["quantities"]
    return (f"cost ${usd['total']:.6f}: Lambda ${usd['lambda_compute'] + usd['lambda_requests']:.6f} "
            f"({sum(q['lambda_gb_s'].values()):.1f} GB-s, {q['lambda_requests']} requests), "
            f"Step Functions ${usd['step_functions']:.6f} ({q['state_transitions']} transitions), "
            f"S3 ${usd['s3_requests'] + usd['s3_storage']:.6f} ({q['s3_puts']} PUT, {q['s3_gets']} GET)")  # fmt: skip


def cmd_run(args: argparse.Namespace) -> int:
    if not args.source.is_file():
        raise UsageError(f"{args.source}: no such file")
    store = store_for(args)
    key = layout.UPLOADS + (args.key or args.source.name)
    store.s3.upload_file(str(args.source), store.bucket, key, ExtraArgs={"Metadata": settings_metadata(args)})
    head = store.head(key)
    job = layout.job_name(key, head.get("VersionId") or head["ETag"].strip('"'))
    if not args.quiet:
        print(f"uploaded s3://{store.bucket}/{key}; job {job}", file=sys.stderr)
    status = follow(store, job, args.timeout, args.quiet)
    if status["state"] == FAILED:
        raise CloudError(f"job {job} failed: {status.get('reason', 'no reason recorded')}")
    output = args.output or Path(f"{args.source.stem}.out{Path(status['output_key']).suffix}")
    store.download(status["output_key"], output)
    print(output)
    if not args.quiet:
        print(f"{status['segments']} segments ({status['split_path']} split), verified, "
              f"{status['timings_s']['total']:.1f} s; {format_cost(status['cost'])}", file=sys.stderr)  # fmt: skip
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = read_status(store_for(args), args.job)
    if status is None:
        raise CloudError(f"job {args.job}: no status in jobs/ (wrong stack or job name?)")
    print(json.dumps(status, indent=2))
    return 0 if status["state"] != FAILED else 1
