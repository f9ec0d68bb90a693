"""EventBridge rules on "Step Functions Execution Status Change" invoke their Lambda targets in the local stack
(moto emits no such events and delivers no rule to Lambda): a watcher polls the executions and matches each
rule's pattern with moto's own matcher."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from splitstitch_cloud.local.aws import TERMINAL, AsyncInvoker

log = logging.getLogger(__name__)


@dataclass
class Rule:
    name: str
    pattern: str  # JSON
    targets: list[str]  # Lambda function names


def status_change_event(execution: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """The "Step Functions Execution Status Change" event EventBridge delivers for one execution."""

    def millis(value: Any) -> int | None:
        return int(value.timestamp() * 1000) if value else None

    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": account, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"], "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"], "status": execution["status"], "startDate": millis(execution.get("startDate")),
            "stopDate": millis(execution.get("stopDate")), "input": execution.get("input"),
            "output": execution.get("output"), "error": execution.get("error"), "cause": execution.get("cause"),
        },
    }  # fmt: skip


@dataclass
class ExecutionEvents:
    """Polls the state machines' executions; an execution that ended goes once through every rule."""

    sfn: Any
    state_machines: list[str]
    rules: list[Rule]
    async_invoker: AsyncInvoker
    region: str
    account: str
    interval: float = 0.2
    seen: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)  # one poll at a time: see poll()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="eventbridge", daemon=True).start()

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                log.debug("execution watcher", exc_info=True)

    def poll(self) -> None:
        """Serialised: the background loop and `LocalStack.settle` both poll, and a poll that finds an execution
        already `seen` must not return before the other has submitted its event (settle would see nothing
        pending, and a test would read the job's status before the rule's target ran)."""
        from moto.events.models import EventPattern

        with self.lock:
            for arn in self.state_machines:
                for item in self.sfn.list_executions(stateMachineArn=arn)["executions"]:
                    if item["status"] not in TERMINAL or item["executionArn"] in self.seen:
                        continue
                    self.seen.add(item["executionArn"])
                    execution = self.sfn.describe_execution(executionArn=item["executionArn"])
                    event = status_change_event(execution, self.region, self.account)
                    for rule in self.rules:
                        if EventPattern.load(rule.pattern).matches_event(event):
                            for target in rule.targets:
                                self.async_invoker.submit(target, event)
