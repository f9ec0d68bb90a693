"""Events for one function, built from the bucket as it is now: `splitstitch cloud event encode` plans the upload
here (the prepare function's probe and plan, through a presigned URL) and prints one segment's Map item, which
`sam local invoke EncodeSegmentFunction -e -` runs with nothing in S3 but the upload."""

from __future__ import annotations

import json
import sys
from typing import Any

from splitstitch.errors import UsageError
from splitstitch_cloud.run import CloudError, stack_outputs
from splitstitch_cloud.steps import Deployment, Upload, described, map_item, plan_job
from splitstitch_cloud.storage import S3Store, client

TEMPLATE_DEFAULTS = '{"codec": "h264", "preset": "medium"}'  # template.yaml's Codec and Preset defaults


def deployed_config(stack: str, endpoint_url: str | None, region: str | None) -> tuple[Deployment, str] | None:
    """The prepare function's environment (the deployment's fan-out, limits and default settings), or None."""
    try:
        name = stack_outputs(stack, endpoint_url, region).get("PrepareFunctionName")
        if not name:
            return None
        env = client("lambda", endpoint_url, region).get_function_configuration(FunctionName=name)["Environment"][
            "Variables"
        ]
    except Exception:  # no such stack, or no right to read the function: the template's defaults then
        return None
    return Deployment.from_env(env), env.get("DEFAULT_SETTINGS", TEMPLATE_DEFAULTS)


def encode_event(store: S3Store, key: str, segment: int, stack: str, endpoint_url: str | None = None,
                 region: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The Map item of segment `segment` of the upload at `key`, as the deployed prepare function plans it."""
    config = deployed_config(stack, endpoint_url, region)
    if config is None:
        print(f"note: stack {stack}'s prepare function not readable: planned with the template's defaults",
              file=sys.stderr)  # fmt: skip
        config = (Deployment(), TEMPLATE_DEFAULTS)
    try:
        head = store.head(key)
    except store.s3.exceptions.ClientError as exc:
        raise CloudError(f"{key}: no such upload in {store.bucket} ({exc.response['Error'].get('Code')})") from None
    upload = described(store, Upload(key, head["ETag"].strip('"'), head.get("VersionId")), head)
    job, ref, shares = plan_job(store, upload, config[0], config[1])
    count = len(job.plan.segments)
    if not 0 <= segment < count:
        raise UsageError(f"segment {segment} does not exist: {key} is planned as {count} segments (0-{count - 1})")
    return map_item(job, store.bucket, ref, job.segment_task(segment), shares)


def dumps(item: dict[str, Any]) -> str:
    return json.dumps(item, indent=1)
