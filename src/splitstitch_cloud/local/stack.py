"""The resources of template.yaml created in moto (on a moto server, see server.py), read from the template:
the bucket and its S3 notifications, the functions (their handlers run by `invoker`), the state machine with its
DefinitionSubstitutions, the queues, log groups, alarms, dashboard and EventBridge rules.
"""

from __future__ import annotations

import io
import json
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from splitstitch_cloud.local.aws import AsyncInvoker
from splitstitch_cloud.local.eventbridge import ExecutionEvents, Rule
from splitstitch_cloud.local.invoker import Invoker
from splitstitch_cloud.local.template import FunctionSpec, Resolver, function_spec, resources

ACCOUNT, REGION = "123456789012", "us-east-1"


class JobTimeout(AssertionError):
    """An execution did not end in time; the message carries its history."""


@dataclass
class Stack:
    bucket: str
    state_machine_arn: str
    functions: dict[str, str]  # logical id -> function name
    specs: dict[str, FunctionSpec]  # function name -> spec
    invoker: Invoker
    async_invoker: AsyncInvoker
    events: ExecutionEvents
    resolver: Resolver
    definition: dict[str, Any]  # the state machine as created (substitutions applied)
    endpoint: str = ""
    region: str = REGION
    extra: dict[str, Any] = field(default_factory=dict)  # created names: queues, alarms, dashboards, log groups

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint or None)

    @property
    def s3(self) -> Any:
        return self.client("s3")

    @property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @property
    def invocations(self) -> list[tuple[str, Any]]:
        return self.invoker.invocations

    def execution_arn(self, name: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every asynchronous invocation (S3 notifications, EventBridge targets) has run."""
        self.events.poll()
        if not self.async_invoker.settle(timeout):
            raise JobTimeout(f"asynchronous invocations still running after {timeout:.0f} s")

    def wait(self, execution_name: str, timeout: float = 60.0) -> dict[str, Any]:
        """The execution once it has ended (and its EventBridge targets ran); on timeout a JobTimeout that prints
        the execution's history, so a job that never ends fails the test in `timeout` seconds, with a reason."""
        arn, deadline = self.execution_arn(execution_name), time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                described = self.sfn.describe_execution(executionArn=arn)
            except self.sfn.exceptions.ExecutionDoesNotExist:
                described = None
            if described is not None and described["status"] != "RUNNING":
                self.settle(max(1.0, deadline - time.monotonic()))
                return described
            time.sleep(0.1)
        raise JobTimeout(
            f"execution {execution_name} still running after {timeout:.0f} s\n{self.history(execution_name)}"
        )

    def history(self, execution_name: str) -> str:
        """The execution's history, one event a line (or why there is none)."""
        try:
            events = self.sfn.get_execution_history(executionArn=self.execution_arn(execution_name))["events"]
        except self.sfn.exceptions.ExecutionDoesNotExist:
            jobs = ", ".join(self.keys("jobs/")) or "none"
            return (
                f"no execution named {execution_name}; jobs/: {jobs}; invocations: {[n for n, _ in self.invocations]}"
            )
        lines = []
        for e in events:
            details = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
            brief = {k: str(v)[:160] for k, v in details.items() if k in ("error", "cause", "name", "resource")}
            lines.append(f"  {e['id']:>4} {e['type']} {json.dumps(brief) if brief else ''}")
        return "execution history:\n" + "\n".join(lines)

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for p in pages for o in p.get("Contents", [])]

    def json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buf.getvalue()


def names(template: dict[str, Any], resolve: Resolver) -> None:
    """Every resource's Ref and Arn, from its name in the template or the name CloudFormation would give it."""
    prefix, stack = f"arn:aws:{{}}:{resolve.region}:{resolve.account}:", resolve.stack
    resolve.attributes |= {k: {"Ref": k, "Arn": k} for k in template["Resources"]}  # layers and the like
    for logical, props in resources(template, "AWS::S3::Bucket").items():
        bucket = resolve(props.get("BucketName", f"{stack}-{logical.lower()}"))
        resolve.attributes[logical] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    for logical in resources(template, "AWS::Serverless::Function"):
        name = f"{stack}-{logical}"
        resolve.attributes[logical] = {"Ref": name, "Arn": prefix.format("lambda") + f"function:{name}"}
    for logical, props in resources(template, "AWS::Serverless::StateMachine").items():
        name = resolve(props.get("Name", f"{stack}-{logical}"))
        arn = prefix.format("states") + f"stateMachine:{name}"
        resolve.attributes[logical] = {"Ref": arn, "Arn": arn, "Name": name}
    for logical in resources(template, "AWS::SQS::Queue"):
        name = resolve(props.get("QueueName", f"{stack}-{logical}"))
        url = f"http://sqs.{resolve.region}.localhost/{resolve.account}/{name}"
        resolve.attributes[logical] = {"Ref": url, "Arn": prefix.format("sqs") + name, "QueueName": name}
    for logical, props in resources(template, "AWS::Logs::LogGroup").items():
        name = resolve(props.get("LogGroupName", f"/{stack}/{logical}"))
        resolve.attributes[logical] = {"Ref": name, "Arn": prefix.format("logs") + f"log-group:{name}:*"}


def build(
    template: dict[str, Any], root: Path, resolve: Resolver, invoker_factory: Any, async_delays: tuple[float, ...]
) -> Stack:
    """Create the template's resources in moto (boto3 clients pointed at the server by AWS_ENDPOINT_URL)."""
    session = boto3.session.Session(region_name=resolve.region)
    s3, lam, sfn, iam, sqs, logs, cw, events = (session.client(n) for n in
        ("s3", "lambda", "stepfunctions", "iam", "sqs", "logs", "cloudwatch", "events"))  # fmt: skip
    role = iam.create_role(RoleName=f"{resolve.stack}-local", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    names(template, resolve)
    extra: dict[str, Any] = {"queues": {}, "log_groups": {}, "alarms": [], "dashboards": [], "rules": []}

    buckets = [resolve.attributes[logical]["Ref"] for logical in resources(template, "AWS::S3::Bucket")]
    for name in buckets:
        s3.create_bucket(Bucket=name)
    bucket = buckets[0] if buckets else ""
    for logical in resources(template, "AWS::SQS::Queue"):
        name = resolve.attributes[logical]["QueueName"]
        extra["queues"][logical] = sqs.create_queue(QueueName=name)["QueueUrl"]
    for props in resources(template, "AWS::Logs::LogGroup").values():
        group = resolve(props)
        logs.create_log_group(logGroupName=group["LogGroupName"])
        if "RetentionInDays" in group:
            logs.put_retention_policy(logGroupName=group["LogGroupName"], retentionInDays=int(group["RetentionInDays"]))
        extra["log_groups"][group["LogGroupName"]] = group.get("RetentionInDays")

    specs, functions, notifications = {}, {}, []
    for logical, props in resources(template, "AWS::Serverless::Function").items():
        spec = function_spec(logical, props, resolve, template)
        lam.create_function(FunctionName=spec.name, Runtime=spec.runtime, Role=role, Handler=spec.handler,
                            Code={"ZipFile": _zip()}, MemorySize=spec.memory_mb, Timeout=spec.timeout_s,
                            EphemeralStorage={"Size": max(512, spec.ephemeral_mb)},  # the tests use smaller /tmp sizes
                            Environment={"Variables": spec.environment})  # fmt: skip
        if "ReservedConcurrentExecutions" in spec.properties:
            lam.put_function_concurrency(FunctionName=spec.name,
                                         ReservedConcurrentExecutions=int(spec.properties["ReservedConcurrentExecutions"]))  # fmt: skip
        specs[spec.name], functions[logical] = spec, spec.name
        for event in spec.properties.get("Events", {}).values():
            if event["Type"] == "S3":
                notifications.append((resolve.attributes[logical]["Arn"], event["Properties"]))
    for arn, props in notifications:
        kinds = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
        config: dict[str, Any] = {"LambdaFunctionArn": arn, "Events": kinds}
        if "Filter" in props:
            config["Filter"] = {"Key": {"FilterRules": props["Filter"]["S3Key"]["Rules"]}}
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [config]}
        )

    machines = resources(template, "AWS::Serverless::StateMachine")
    sm_id, sm = (
        next(iter(machines.items())) if machines else ("", {"DefinitionUri": None, "DefinitionSubstitutions": {}})
    )
    text = (
        (root / sm["DefinitionUri"]).read_text()
        if sm["DefinitionUri"]
        else '{"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}'
    )
    resolve.attributes.setdefault(sm_id, {"Name": f"{resolve.stack}-none"})
    for key, value in resolve(sm["DefinitionSubstitutions"]).items():
        text = text.replace("${" + key + "}", str(value))
    definition = json.loads(text)  # every placeholder was substituted
    logging_config = {}
    if "Logging" in sm:
        lg = resolve(sm["Logging"])
        destinations = [{"cloudWatchLogsLogGroup": {"logGroupArn": d["CloudWatchLogsLogGroup"]["LogGroupArn"]}}
                        for d in lg.get("Destinations", [])]  # fmt: skip
        logging_config = {"loggingConfiguration": {"level": lg.get("Level", "OFF"), "destinations": destinations,
                                                   "includeExecutionData": bool(lg.get("IncludeExecutionData", False))}}  # fmt: skip
    name = resolve.attributes[sm_id]["Name"]
    sm_arn = sfn.create_state_machine(name=name, definition=text, roleArn=role, **logging_config)["stateMachineArn"]

    for props in resources(template, "AWS::CloudWatch::Alarm").values():
        alarm = resolve(props)
        cw.put_metric_alarm(**{k: alarm[k] for k in ("AlarmName", "MetricName", "Namespace", "Statistic", "Period",
                                                       "EvaluationPeriods", "Threshold", "ComparisonOperator") if k in alarm},
                            Dimensions=alarm.get("Dimensions", []), TreatMissingData=alarm.get("TreatMissingData", "missing"))  # fmt: skip
        extra["alarms"].append(alarm["AlarmName"])
    for props in resources(template, "AWS::CloudWatch::Dashboard").values():
        board = resolve(props)
        cw.put_dashboard(DashboardName=board["DashboardName"], DashboardBody=board["DashboardBody"])
        extra["dashboards"].append(board["DashboardName"])
    rules = []
    for logical, props in resources(template, "AWS::Events::Rule").items():
        rule = resolve(props)
        pattern = json.dumps(rule["EventPattern"])
        events.put_rule(
            Name=rule.get("Name", f"{resolve.stack}-{logical}"),
            EventPattern=pattern,
            State=rule.get("State", "ENABLED"),
        )
        targets = [t["Arn"].split(":")[6] for t in rule.get("Targets", []) if ":lambda:" in t["Arn"]]
        rules.append(Rule(logical, pattern, targets))
        extra["rules"].append(logical)

    outputs = resolve(template.get("Outputs", {}))  # `--stack NAME` finds the bucket and functions as on AWS
    holder = {"Resources": {"Outputs": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
              "Outputs": {k: {"Value": str(v["Value"])} for k, v in outputs.items()}}  # fmt: skip
    with warnings.catch_warnings():  # moto cannot create the placeholder resource; only the Outputs matter
        warnings.simplefilter("ignore", UserWarning)
        session.client("cloudformation").create_stack(StackName=resolve.stack, TemplateBody=json.dumps(holder))
    invoker = invoker_factory(specs)
    configs = {name: spec.properties.get("EventInvokeConfig", {}) for name, spec in specs.items()}

    def send_to_queue(arn: str, body: str) -> None:
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"], MessageBody=body)

    async_invoker = AsyncInvoker(invoker.invoke, configs, send_to_queue, async_delays)
    watcher = ExecutionEvents(sfn, [sm_arn], rules, async_invoker, resolve.region, resolve.account)
    return Stack(bucket, sm_arn, functions, specs, invoker, async_invoker, watcher, resolve, definition, extra=extra)
