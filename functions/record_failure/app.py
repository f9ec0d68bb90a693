"""Record failure: the state machine's Catch target -> jobs/<job>.json failed with a one-line reason."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.steps import record_failure
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = Logger(), Tracer(), Metrics()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.append_keys(job=event["job"])
    status = record_failure(S3Store.from_env(), event["job"], event.get("error"))
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("job failed", extra={"reason": status["reason"]})
    return {"job": event["job"], "state": status["state"], "reason": status["reason"]}
