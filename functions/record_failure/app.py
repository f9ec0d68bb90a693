"""Record failure: jobs/<job>.json failed with its first real reason. Two callers: the state machine's Catch
({"job", "error"}), and the EventBridge rule for executions that FAILED, TIMED_OUT or were ABORTED (a job
still marked running then; one that already ended is left alone)."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from splitstitch_cloud.observability import powertools
from splitstitch_cloud.steps import execution_ended, record_failure
from splitstitch_cloud.storage import S3Store

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    if event.get("detail-type") == "Step Functions Execution Status Change":
        logger.append_keys(execution=event["detail"]["name"])
        status = execution_ended(S3Store.from_env(), event)
        if status is None:
            logger.info("execution ended; its job had already ended", extra={"status": event["detail"]["status"]})
            return {"job": None, "state": None, "reason": None}
    else:
        logger.append_keys(job=event["job"])
        status = record_failure(S3Store.from_env(), event["job"], event.get("error"))
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    logger.warning("job failed", extra={"job": status["job"], "reason": status["reason"]})
    return {"job": status["job"], "state": status["state"], "reason": status["reason"]}
