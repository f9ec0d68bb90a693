"""Prepare: S3 ObjectCreated under uploads/ -> probe and plan by ranged reads, write the job and its Map items,
start the state machine (a refused upload becomes a failed job with its reason; folder markers are ignored)."""

import os
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.observability import powertools
from splitstitch_cloud.steps import Deployment, Upload, identified, prepare
from splitstitch_cloud.storage import S3Store, client

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict:
    jobs = []
    for record in event.records:
        obj = record.s3.get_object
        store = S3Store(record.s3.bucket.name, client("s3"))
        upload = Upload(unquote_plus(obj.key), obj.etag, obj.version_id, obj.get("sequencer"))  # keys are URL-encoded
        upload = identified(store, upload)  # one HEAD: the settings metadata names the job too
        logger.append_keys(job=upload.job, key=upload.key)  # before any work: every line of this upload carries it
        started = prepare(store, client("stepfunctions"), upload, os.environ["STATE_MACHINE_ARN"],
                          Deployment.from_env(), context.memory_limit_in_mb)  # fmt: skip
        logger.info(
            "upload handled", extra={"state": started.state, "attempt": started.attempt, "reason": started.reason}
        )
        if started.state == "started":
            metrics.add_metric(name="SegmentsPerJob", unit=MetricUnit.Count, value=started.segments)
        jobs.append({"job": started.job, "state": started.state, "segments": started.segments})
    return {"jobs": jobs}
