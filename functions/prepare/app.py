"""Prepare: S3 ObjectCreated under uploads/ -> probe and plan by ranged reads, write the job and its Map items,
start the state machine (a refused upload becomes a failed job with its reason)."""

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.steps import Deployment, prepare
from splitstitch_cloud.storage import S3Store, client

logger, tracer, metrics = Logger(), Tracer(), Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict:
    jobs = []
    for record in event.records:
        obj = record.s3.get_object
        key = unquote_plus(obj.key)  # S3 events URL-encode keys, "/" included
        store = S3Store(record.s3.bucket.name, client("s3"))
        with tempfile.TemporaryDirectory() as tmp:  # used only to rebuild a source whose timestamps restart
            started = prepare(store, client("stepfunctions"), key, obj.etag, obj.version_id,
                              os.environ["STATE_MACHINE_ARN"], Deployment.from_env(), context.memory_limit_in_mb,
                              Path(tmp))  # fmt: skip
        logger.append_keys(job=started.job)
        logger.info("upload handled", extra={"key": key, "state": started.state, "reason": started.reason})
        if started.state == "started":
            metrics.add_metric(name="SegmentsPerJob", unit=MetricUnit.Count, value=started.segments)
        jobs.append({"job": started.job, "state": started.state, "segments": started.segments})
    return {"jobs": jobs}
