"""Build the stack of template.yaml inside moto and route Lambda invocations to the in-process handlers.

Everything is read from the template (bucket, functions and their handlers and environment, the S3
notification and its filter, the state machine and its DefinitionSubstitutions), not retyped here.
moto 5.2.5 is pinned: `LambdaFunction._invoke_lambda` is private (see shared/FACTS.md).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import re
import socket
import threading
import time
import traceback
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT, REGION, STACK = "123456789012", "us-east-1", "splitstitch"
# The template points these at the layer's /opt/bin; in tests the core finds the wheel's binaries itself.
LAYER_ONLY_ENV = {"SPLITSTITCH_FFMPEG", "SPLITSTITCH_FFPROBE"}
POWERTOOLS_OFF = {
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_METRICS_DISABLED": "1",
    "POWERTOOLS_METRICS_NAMESPACE": "SplitstitchTest",
    "POWERTOOLS_SERVICE_NAME": "splitstitch",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


class CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as their long-form dicts."""


def _tag(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _short, _long in {"!Ref": "Ref", "!Sub": "Fn::Sub", "!GetAtt": "Fn::GetAtt", "!Join": "Fn::Join",
                      "!If": "Fn::If", "!Equals": "Fn::Equals", "!Select": "Fn::Select"}.items():  # fmt: skip
    CfnLoader.add_constructor(_short, _tag(_long))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)


@dataclass
class Resolver:
    """Resolves Ref / Fn::Sub / Fn::GetAtt against parameter values and the resources made so far."""

    template: dict[str, Any]
    overrides: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"Arn": ..., "Ref": ...}

    def pseudo(self) -> dict[str, str]:
        return {"AWS::StackName": STACK, "AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws"}

    def ref(self, name: str) -> str:
        if name in self.pseudo():
            return self.pseudo()[name]
        if name in self.overrides:
            return str(self.overrides[name])
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name]["Default"])
        return self.attributes[name]["Ref"]

    def __call__(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.attributes[value[0]][value[1]]
            if key == "Fn::Sub":
                text, extra = (value, {}) if isinstance(value, str) else (value[0], self(value[1]))

                def sub(match: re.Match[str]) -> str:
                    name = match.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        logical, attr = name.split(".", 1)
                        return self.attributes[logical][attr]
                    return self.ref(name)

                return re.sub(r"\$\{([^}!]+)\}", sub, text)
        if isinstance(node, dict):
            return {k: self(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self(v) for v in node]
        return node


def load_handler(code_uri: str, handler: str) -> Callable[[dict, Any], Any]:
    """Import functions/<name>/app.py under a unique module name (every function's module is `app`)."""
    module_name, func = handler.rsplit(".", 1)
    path = ROOT / code_uri / f"{module_name}.py"
    unique = "handler_" + re.sub(r"\W", "_", code_uri.strip("/"))
    spec = importlib.util.spec_from_file_location(unique, path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, func)


class FakeContext:
    """The parts of LambdaContext the handlers and Powertools use."""

    def __init__(self, name: str = "test-fn", memory_mb: int = 1769) -> None:
        self.function_name = name
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        self.aws_request_id = "00000000-0000-0000-0000-000000000000"
        self.function_version = "$LATEST"
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def segment_index(event: dict) -> int:
    """The segment an encode event is about (-1 for other events)."""
    return int(event["task"]["segment"]["index"]) if "task" in event else -1


@dataclass
class Stack:
    """The template's resources created in moto, with the in-process handler of every function."""

    bucket: str
    state_machine_arn: str
    functions: dict[str, str]  # logical id -> function name
    handlers: dict[str, Callable[[dict, Any], Any]]  # function name -> handler
    memory: dict[str, int]
    invocations: list[tuple[str, dict]] = field(default_factory=list)
    faults: dict[tuple[str, int], int] = field(default_factory=dict)  # (logical id, segment index) -> failures left
    lock: threading.Lock = field(default_factory=threading.Lock)
    endpoint: str = ""

    @property
    def s3(self) -> Any:
        return boto3.client("s3", region_name=REGION)

    @property
    def sfn(self) -> Any:
        return boto3.client("stepfunctions", region_name=REGION)

    def invoke(self, function_name: str, event: Any) -> tuple[str, bool, str]:
        """What `_invoke_lambda` returns: (payload JSON, errored, logs), errors shaped like Lambda's."""
        event = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        logical = next(k for k, v in self.functions.items() if v == function_name)
        with self.lock:
            self.invocations.append((logical, event))
            key = (logical, segment_index(event)) if isinstance(event, dict) else None
            if key in self.faults and self.faults[key] > 0:
                self.faults[key] -= 1
                error = {"errorType": "ToolError", "errorMessage": "ffmpeg exit 1: injected fault"}
                return json.dumps(error), True, "injected"
        try:
            result = self.handlers[function_name](event, FakeContext(function_name, self.memory[function_name]))
        except Exception as exc:
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc),
                     "stackTrace": traceback.format_exc().splitlines()[-5:]}  # fmt: skip
            return json.dumps(error), True, traceback.format_exc()
        return json.dumps(result), False, ""

    def wait(self, execution_name: str, timeout: float = 60.0) -> dict[str, Any]:
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution_name}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise AssertionError(f"execution {execution_name} still running after {timeout} s")

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


def build_stack(overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Stack:
    """Create the template's bucket, functions, S3 notification and state machine (on the moto server)."""
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    template = load_template()
    resolve = Resolver(template, overrides or {})
    resources = template["Resources"]
    session = boto3.session.Session(region_name=REGION)
    s3, lam, sfn, iam = (session.client(n) for n in ("s3", "lambda", "stepfunctions", "iam"))
    role = iam.create_role(RoleName="splitstitch-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]

    ((bucket_id, bucket_props),) = (
        (k, r["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::S3::Bucket"
    )
    bucket = resolve(bucket_props["BucketName"])
    s3.create_bucket(Bucket=bucket)
    resolve.attributes[bucket_id] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}

    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = resolve(globals_.get("Environment", {}).get("Variables", {}))
    functions, handlers, memory, notifications = {}, {}, {}, []
    for logical, res in resources.items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        name = f"{STACK}-{logical}"
        variables = global_env | resolve(props.get("Environment", {}).get("Variables", {}))
        mem = int(resolve(props.get("MemorySize", globals_.get("MemorySize", 128))))
        arn = lam.create_function(
            FunctionName=name, Runtime=props.get("Runtime", globals_["Runtime"]), Role=role,
            Handler=props.get("Handler", globals_["Handler"]), Code={"ZipFile": _zip()}, MemorySize=mem,
            Environment={"Variables": {k: v for k, v in variables.items() if k not in LAYER_ONLY_ENV}},
        )["FunctionArn"]  # fmt: skip
        resolve.attributes[logical] = {"Ref": name, "Arn": arn}
        functions[logical] = name
        handlers[name] = load_handler(props["CodeUri"], props.get("Handler", globals_["Handler"]))
        memory[name] = mem
        for key, value in variables.items():  # handlers read os.environ in-process
            if key not in LAYER_ONLY_ENV:
                os.environ[key] = value
        for event in props.get("Events", {}).values():
            if event["Type"] == "S3":
                notifications.append((arn, event["Properties"]))
    for arn, props in notifications:
        events = props["Events"] if isinstance(props["Events"], list) else [props["Events"]]
        config = {"LambdaFunctionArn": arn, "Events": events}
        if "Filter" in props:
            config["Filter"] = {"Key": {"FilterRules": props["Filter"]["S3Key"]["Rules"]}}
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"LambdaFunctionConfigurations": [config]}
        )

    ((sm_id, sm),) = (
        (k, r["Properties"]) for k, r in resources.items() if r["Type"] == "AWS::Serverless::StateMachine"
    )
    definition = (ROOT / sm["DefinitionUri"]).read_text()
    for key, value in resolve(sm["DefinitionSubstitutions"]).items():
        definition = definition.replace("${" + key + "}", str(value))
    json.loads(definition)  # every placeholder was substituted
    sm_arn = sfn.create_state_machine(name=resolve(sm["Name"]), definition=definition, roleArn=role)["stateMachineArn"]
    resolve.attributes[sm_id] = {"Ref": sm_arn, "Arn": sm_arn}
    os.environ.update(env or {})
    return Stack(bucket, sm_arn, functions, handlers, memory)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    urllib.request.urlopen(urllib.request.Request(url, method="POST", data=data)).read()


@contextlib.contextmanager
def served_stack(overrides: dict[str, Any] | None = None, execute: bool = True) -> Iterator[Stack]:
    """The template's stack on a moto server at 127.0.0.1 (encoders read the upload over HTTP ranges),
    with ASL execution on or off and every Lambda invocation routed to its in-process handler."""
    from moto.awslambda.models import LambdaFunction
    from moto.server import ThreadedMotoServer

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    saved = dict(os.environ)
    holder: dict[str, Stack] = {}
    original = LambdaFunction._invoke_lambda

    def invoke(self: LambdaFunction, event: object = None) -> tuple[str, bool, str]:
        return holder["stack"].invoke(self.function_name, event)

    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
    try:
        os.environ.update({"AWS_ENDPOINT_URL": url, "MOTO_PORT": str(port)})
        _post(f"{url}/moto-api/reset")  # the backends are process-wide: start from a clean state
        _post(f"{url}/moto-api/config", {"stepfunctions": {"execute_state_machine": execute}})
        holder["stack"] = build_stack(overrides)
        holder["stack"].endpoint = url
        yield holder["stack"]
    finally:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
