"""Where moto 5.2.5 does not behave like AWS, the local stack makes it (moto is pinned: these patch its internals).

- Distributed Map: a failed child execution fails the Map with `States.ExceedToleratedFailureThreshold` once the
  tolerated count/percentage (default 0) is exceeded, and no further children start; moto ran the next state.
- A Parallel branch (or inline Map iteration) failing with a `States.*` error fails the state with that error;
  moto turned it into a ValueError ("Custom Error Names MUST NOT begin with the prefix 'States.'").
- S3 -> Lambda notifications are asynchronous invocations, delivered after the PUT has completed (moto called the
  function inside the PUT, before the object's metadata was attached), with a `sequencer`, retried on error
  (MaximumRetryAttempts, default 2) and then sent to the function's on-failure destination (an SQS queue).
- StopExecution ends the execution ABORTED at once (moto waited for the running states to return).
- The ASL interpreter's AWS clients are made once per service and region, not once per task (speed only).
- EventBridge rules on "Step Functions Execution Status Change" invoke their Lambda targets: see eventbridge.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_sequence = itertools.count(1)


class ThresholdExceeded(Exception):
    """Marks the Map's job pool as failed (moto stops handing out items once a worker reports an exception)."""


def patch_step_functions() -> Callable[[], None]:
    """AWS semantics for Distributed Map failures and for States.* errors out of branches; returns the undo."""
    from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as dipw,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def error_name(error_name: str | None) -> Any:
        if error_name and error_name.startswith("States."):
            return StatesErrorName.from_name(error_name)
        return CustomErrorName(error_name)

    worker_cls, component_cls = dipw.DistributedItemProcessorWorker, dic.DistributedIterationComponent
    original_job, original_run = worker_cls._eval_job, component_cls._map_run

    def eval_job(self: Any, env: Any, job: Any) -> None:
        original_job(self, env, job)
        record = self._map_run_record
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        total = max(1, record.item_counter.total.get())
        if failed and (
            failed > record.tolerated_failure_count or 100 * failed / total > record.tolerated_failure_percentage
        ):
            job.job_output = ThresholdExceeded()

    def map_run(self: Any, env: Any, eval_input: Any) -> None:
        try:
            original_run(self, env, eval_input)
        except ThresholdExceeded:
            name = StatesErrorNameType.StatesExceedToleratedFailureThreshold
            cause = "The specified tolerated failure threshold was exceeded"
            raise FailureEventException(FailureEvent(
                env=env, error_name=StatesErrorName(typ=name), event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(mapRunFailedEventDetails=MapRunFailedEventDetails(error=name.to_name(), cause=cause)),
            )) from None  # fmt: skip

    worker_cls._eval_job, component_cls._map_run = eval_job, map_run  # type: ignore[method-assign]
    branches_decl.CustomErrorName = iteration_worker.CustomErrorName = error_name  # type: ignore[misc]

    def undo() -> None:
        worker_cls._eval_job, component_cls._map_run = original_job, original_run  # type: ignore[method-assign]
        branches_decl.CustomErrorName = iteration_worker.CustomErrorName = CustomErrorName  # type: ignore[misc]

    return undo


def patch_stop_execution() -> Callable[[], None]:
    """StopExecution marks the execution ABORTED now; a state still running cannot change that afterwards."""
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend import execution as module

    execution_cls, comm_cls = module.Execution, module.BaseExecutionWorkerCommunication
    original_stop, original_reflect = execution_cls.stop, comm_cls._reflect_execution_status

    def stop(self: Any, stop_date: datetime, error: str | None, cause: str | None) -> None:
        original_stop(self, stop_date, error, cause)
        if self.exec_status == ExecutionStatus.RUNNING:
            self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date

    def reflect(self: Any) -> None:
        if self.execution.exec_status == ExecutionStatus.ABORTED:
            return
        original_reflect(self)

    execution_cls.stop, comm_cls._reflect_execution_status = stop, reflect  # type: ignore[method-assign]

    def undo() -> None:
        execution_cls.stop, comm_cls._reflect_execution_status = original_stop, original_reflect  # type: ignore[method-assign]

    return undo


def patch_task_clients() -> Callable[[], None]:
    """Reuse the interpreter's boto3 clients (moto made a new one, tens of ms of CPU, for every Task)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import resource_eval_s3
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = lambda_eval_utils.boto_client_for
    cache: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def cached(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            if (region, service) not in cache:
                cache[(region, service)] = original(region, service, state_credentials)
            return cache[(region, service)]

    lambda_eval_utils.boto_client_for = resource_eval_s3.boto_client_for = cached  # type: ignore[assignment]

    def undo() -> None:
        lambda_eval_utils.boto_client_for = resource_eval_s3.boto_client_for = original  # type: ignore[assignment]

    return undo


def failure_record(function_arn: str, event: Any, payload: str, attempts: int) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination after an asynchronous invocation failed for good."""
    try:
        response = json.loads(payload)
    except ValueError:
        response = {"errorMessage": payload}
    return {
        "version": "1.0", "timestamp": datetime.now(UTC).isoformat(),
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{function_arn}:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": attempts},
        "requestPayload": event, "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                                                    "functionError": "Unhandled"},
        "responsePayload": response,
    }  # fmt: skip


@dataclass
class AsyncInvoker:
    """Lambda's asynchronous invocation: queued, retried after `delays`, then the on-failure destination."""

    invoke: Callable[[str, Any], tuple[str, bool, str]]  # (function name, event) -> Result
    configs: dict[str, dict[str, Any]]  # function name -> resolved EventInvokeConfig ({} when none)
    send_to_queue: Callable[[str, str], None]  # (queue ARN, message body)
    delays: tuple[float, ...] = (1.0, 2.0)  # AWS waits about 1 and 2 minutes; shortened here
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(8, "lambda-async"))
    pending: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition)
    delivered: list[tuple[str, Any, str]] = field(default_factory=list)  # (function, event, "ok"/"failed")

    def submit(self, function_name: str, event: Any) -> None:
        with self.cond:
            self.pending += 1
        self.pool.submit(self._run, function_name, event)

    def _run(self, function_name: str, event: Any) -> None:
        try:
            config = self.configs.get(function_name, {})
            retries = int(config.get("MaximumRetryAttempts", 2))
            payload, errored = "", True
            for attempt in range(retries + 1):
                if attempt:
                    time.sleep(self.delays[min(attempt, len(self.delays)) - 1])
                try:
                    payload, errored, _ = self.invoke(function_name, event)
                except Exception as exc:  # throttled: Lambda retries these too
                    payload, errored = json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True
                if not errored:
                    break
            self.delivered.append((function_name, event, "failed" if errored else "ok"))
            target = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            if errored and target:
                arn = f"arn:aws:lambda:::function:{function_name}"
                self.send_to_queue(target, json.dumps(failure_record(arn, event, payload, retries + 1)))
        except Exception:  # a bug here must not hang `settle`
            log.exception("asynchronous invocation of %s", function_name)
        finally:
            with self.cond:
                self.pending -= 1
                self.cond.notify_all()

    def settle(self, timeout: float) -> bool:
        """Wait until no asynchronous invocation is queued or running."""
        with self.cond:
            return self.cond.wait_for(lambda: self.pending == 0, timeout)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class S3Notifications:
    """moto's S3 -> Lambda notifications, held until the request that caused them has been answered."""

    async_invoker: AsyncInvoker
    held: list[tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self) -> Callable[[], None]:
        from moto.s3 import notifications

        original_invoke, original_event = notifications._invoke_awslambda, notifications._get_s3_event

        def hold(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            with self.lock:
                self.held.append((fn_arn.split(":")[6], event_body))

        def event(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
            body = original_event(event_name, bucket, key, notification_id)
            obj = body["Records"][0]["s3"]["object"]
            obj["sequencer"] = f"{time.time_ns():016X}{next(_sequence):08X}"
            if getattr(key, "version_id", None) not in (None, "null"):
                obj["versionId"] = key.version_id
            return body

        notifications._invoke_awslambda, notifications._get_s3_event = hold, event

        def undo() -> None:
            notifications._invoke_awslambda, notifications._get_s3_event = original_invoke, original_event

        return undo

    def flush(self) -> None:
        """Called after every request the server answered: deliver what it caused."""
        with self.lock:
            held, self.held = self.held, []
        for function_name, body in held:
            self.async_invoker.submit(function_name, body)
