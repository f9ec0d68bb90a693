"""Encode segment: one Distributed Map item (self-contained: source, segment, settings) -> its fragments
and result under work/<job>/segments/ (or its one-line reason under work/<job>/errors/)."""

import tempfile
from pathlib import Path

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.observability import powertools
from splitstitch_cloud.steps import encode_segment
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    index = int(event["task"]["segment"]["index"])
    logger.append_keys(job=event["job"], segment=index)
    with tempfile.TemporaryDirectory() as tmp:
        encoded = encode_segment(S3Store.from_env(event["bucket"]), event, Path(tmp), context.memory_limit_in_mb,
                                 context.get_remaining_time_in_millis() / 1000)  # fmt: skip
    metrics.add_metric(name="SegmentEncodeSeconds", unit=MetricUnit.Seconds, value=encoded.seconds)
    metrics.add_metric(name="SegmentBytes", unit=MetricUnit.Bytes, value=encoded.bytes)
    logger.info("segment encoded", extra={"frames": encoded.frames, "seconds": encoded.seconds})
    return {"index": index, "frames": encoded.frames}  # small: Map results are discarded (ResultPath null)
