"""`splitstitch cloud run|status|event|local`: jobs on a deployed stack (or the local one), from a client.

The job is followed through S3 only (jobs/<job>.json and the encoded segments appearing in work/<job>/),
so a user needs S3 rights on the bucket and nothing else. `--endpoint-url` (or AWS_ENDPOINT_URL) points
every client at another endpoint: the local stack of `splitstitch cloud local`, or a moto server in the tests.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from splitstitch_cloud.jobs import ENDED, FAILED, SUCCEEDED
from splitstitch_cloud.run import CloudError, describe, follow, open_store, progress, run_job, upload_of_key
from splitstitch_cloud.storage import S3Store


def add_cloud(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cloud = sub.add_parser("cloud", help="run jobs on the deployed AWS stack, or on a local one (see docs/cloud.md)")
    csub = cloud.add_subparsers(dest="cloud_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--stack", default="splitstitch", help="CloudFormation stack name (default splitstitch)")
        p.add_argument("--bucket", help="the media bucket (default: the stack's BucketName output)")
        p.add_argument("--region", help="AWS region (default: your AWS configuration)")
        p.add_argument(
            "--endpoint-url", help="another endpoint, e.g. `splitstitch cloud local`'s (or AWS_ENDPOINT_URL)"
        )

    run = csub.add_parser("run", help="upload a file, follow the job with a progress bar, download the output")
    run.add_argument("source", type=Path)
    run.add_argument("-o", "--output", type=Path, help="where to download the output (default: <stem>.out.mp4)")
    run.add_argument("--key", help="upload key under uploads/ (default: the file name)")
    run.add_argument("--codec", choices=("h264", "h265", "vp9"))
    run.add_argument("--crf", type=int)
    run.add_argument("--preset")
    run.add_argument("--height", type=int)
    run.add_argument("--segment-seconds", type=float)
    run.add_argument(
        "--format",
        choices=("mp4", "hls", "dash", "cmaf"),
        help="mp4, or a streaming package downloaded into a folder (default: the stack's OutputFormat)",
    )
    run.add_argument("--ladder", help="streaming rungs, e.g. 720,480,360 (default auto)")
    run.add_argument("--deinterlace", choices=("auto", "on", "off"),
                     help="auto (default): deinterlace an interlaced source; on; off")  # fmt: skip
    run.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the job (default 3600)")
    run.add_argument("--quiet", action="store_true")
    common(run)
    run.set_defaults(func=cmd_run)

    status = csub.add_parser("status", help="a job's state, stage, segments done, elapsed time and failure reason")
    status.add_argument("job", nargs="?", help="the job name (or give --key)")
    status.add_argument("--key", help="find the job of this upload, e.g. uploads/movie.mp4")
    status.add_argument("--watch", action="store_true", help="show a progress bar until the job ends")
    status.add_argument("--json", action="store_true", help="print the status document as JSON")
    status.add_argument("--timeout", type=float, default=3600.0, help="--watch: give up after this many seconds")
    common(status)
    status.set_defaults(func=cmd_status)

    event = csub.add_parser("event", help="print a function's event, e.g. for `sam local invoke -e -`")
    esub = event.add_subparsers(dest="event_kind", required=True)
    encode = esub.add_parser("encode", help="the Distributed Map item of one segment of an upload (planned here)")
    encode.add_argument("--key", required=True, help="the upload, e.g. uploads/movie.mp4")
    encode.add_argument("--segment", type=int, required=True, help="segment index (0-based)")
    common(encode)
    encode.set_defaults(func=cmd_event_encode)

    from splitstitch_cloud.local_cli import add_local

    add_local(csub)


def aws_errors(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """AWS SDK errors as one line (`error: ...`, exit 1), never a traceback."""

    @functools.wraps(cmd)
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except NoCredentialsError:
            hint = " (any will do for `splitstitch cloud local`: AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local)"
            raise CloudError("no AWS credentials found" + hint) from None
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise CloudError(f"{exc.operation_name}: {error.get('Code')}: {error.get('Message')}") from None
        except BotoCoreError as exc:
            raise CloudError(str(exc).splitlines()[0]) from None

    return wrapped


def store_for(args: argparse.Namespace) -> S3Store:
    return open_store(args.stack, bucket=args.bucket, endpoint_url=args.endpoint_url, region=args.region)


def chosen_settings(args: argparse.Namespace) -> dict[str, Any]:
    wanted = {"codec": args.codec, "crf": args.crf, "preset": args.preset, "height": args.height,
              "segment_seconds": args.segment_seconds, "output": args.format, "ladder": args.ladder,
              "deinterlace": args.deinterlace}  # fmt: skip
    return {k: v for k, v in wanted.items() if v is not None}


class JobProgress:
    """A progress bar fed by `run.follow`'s polls: the job's stage and encoded segments out of total."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=1, unit="seg", file=sys.stderr, leave=False,
                            bar_format="{desc:<16} {bar} {n_fmt}/{total_fmt} [{elapsed}]")  # fmt: skip

    def __call__(self, p: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.bar.set_description_str(f"{p['state']}/{p.get('stage', '?')}")
        self.bar.total = max(int(p.get("segments") or 1), 1)
        self.bar.n = self.bar.total if p["state"] == SUCCEEDED else min(p["segments_done"], self.bar.total)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def format_cost(cost: dict[str, Any]) -> str:
    usd, q = cost["usd"], cost["quantities"]
    lambda_usd = usd["lambda_compute"] + usd["lambda_requests"] + usd.get("lambda_ephemeral", 0.0)
    return (f"cost ${usd['total']:.6f}: Lambda ${lambda_usd:.6f} "
            f"({sum(q['lambda_gb_s'].values()):.1f} GB-s, {q['lambda_requests']} requests, {q.get('retries', 0)} retries), "
            f"Step Functions ${usd['step_functions']:.6f} ({q['state_transitions']} transitions), "
            f"S3 ${usd['s3_requests'] + usd['s3_storage']:.6f} ({q['s3_puts']} PUT, {q['s3_gets']} GET, {q.get('polls', 0)} polls), "
            f"egress ${usd.get('egress', 0.0):.6f}")  # fmt: skip


@aws_errors
def cmd_run(args: argparse.Namespace) -> int:
    bar = JobProgress(enabled=not args.quiet)
    try:
        result = run_job(args.source, args.stack, endpoint_url=args.endpoint_url, region=args.region,
                         bucket=args.bucket, output=args.output, key=args.key, settings=chosen_settings(args),
                         timeout=args.timeout, on_poll=bar)  # fmt: skip
    finally:
        bar.close()
    status = result["status"]
    print(result["output"])
    if not args.quiet:
        cost = f"; {format_cost(result['cost'])}" if result.get("cost") else ""
        print(f"job {result['job']}: {status['segments']} segments, verified, "
              f"{status['timings_s']['total']:.1f} s in the cloud, {result['client_seconds']:.1f} s here{cost}",
              file=sys.stderr)  # fmt: skip
    return 0


@aws_errors
def cmd_status(args: argparse.Namespace) -> int:
    store = store_for(args)
    if bool(args.job) == bool(args.key):
        raise CloudError("give a job name or --key uploads/<name>, not both")
    # by key, right after an upload: the job may have no status yet, or an earlier attempt's failure
    job, uploaded_at = (args.job, 0.0) if args.job else upload_of_key(store, args.key)
    if args.job and progress(store, job)["state"] in ENDED:  # a job name must have a status (one line if not)
        args.watch = False
    if args.watch:
        bar = JobProgress(enabled=True)
        try:
            status, _ = follow(store, job, args.timeout, bar, after=uploaded_at)
        finally:
            bar.close()
        p = progress(store, job, status)
    else:
        p = progress(store, job)
    print(json.dumps(p, indent=2) if args.json else describe(p))
    return 0 if p["state"] != FAILED else 1


@aws_errors
def cmd_event_encode(args: argparse.Namespace) -> int:
    from splitstitch_cloud.events import encode_event

    store = store_for(args)
    item = encode_event(store, args.key, args.segment, args.stack, args.endpoint_url, args.region)
    print(json.dumps(item, indent=1))
    return 0
