"""Encode one segment: Distributed Map item {"job", "index"} -> work/<job>/enc_<index>.mp4."""

import tempfile
from pathlib import Path

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.steps import encode_one
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = Logger(), Tracer(), Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    job, index = event["job"], int(event["index"])
    logger.append_keys(job=job, segment=index)
    with tempfile.TemporaryDirectory() as tmp:
        encoded = encode_one(S3Store.from_env(), job, index, Path(tmp), context.memory_limit_in_mb)
    metrics.add_metric(name="SegmentEncodeSeconds", unit=MetricUnit.Seconds, value=encoded.seconds)
    metrics.add_metric(name="SegmentBytes", unit=MetricUnit.Bytes, value=encoded.bytes)
    logger.info("segment encoded", extra={"frames": encoded.frames, "seconds": encoded.seconds})
    return {"index": index, "frames": encoded.frames}  # small: Map results are discarded (ResultPath null)
