"""Encode audio: once for the whole file, beside the segment Map -> work/<job>/audio/."""

import tempfile
from pathlib import Path

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.observability import powertools
from splitstitch_cloud.steps import encode_audio
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(job=event["job"])
    with tempfile.TemporaryDirectory() as tmp:
        result = encode_audio(S3Store.from_env(event["bucket"]), event, Path(tmp), context.memory_limit_in_mb,
                              context.get_remaining_time_in_millis() / 1000)  # fmt: skip
    metrics.add_metric(name="AudioEncodeSeconds", unit=MetricUnit.Seconds, value=result.seconds)
    logger.info("audio encoded", extra={"fragments": len(result.fragments), "seconds": result.seconds})
    return {"fragments": len(result.fragments)}
