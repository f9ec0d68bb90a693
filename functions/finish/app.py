"""Finish: {"job"} -> output assembled by parallel part uploads and verified before it appears; report,
jobs/<job>.json succeeded, work/<job>/ removed."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.finish import finish
from splitstitch_cloud.observability import powertools
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(job=event["job"])
    status = finish(S3Store.from_env(event.get("bucket")), event["job"], context.memory_limit_in_mb)
    metrics.add_metric(name="JobCostUSD", unit=MetricUnit.Count, value=status["cost"]["usd"]["total"])
    metrics.add_metric(name="JobSeconds", unit=MetricUnit.Seconds, value=status["timings_s"]["total"])
    logger.info("job succeeded", extra={"output": status["output_key"]})
    return {"job": event["job"], "state": status["state"], "output_key": status["output_key"]}
