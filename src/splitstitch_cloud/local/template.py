"""template.yaml read as data: CloudFormation short tags, Ref / Fn::Sub / Fn::GetAtt / Fn::If against parameter
values and the resources made so far, and each function's settings as the local stack needs them.

Nothing here is retyped from the template: the local stack is built from what this module reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

NO_VALUE = object()  # Ref AWS::NoValue: the property is left out


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


for _short in ("Ref", "Sub", "GetAtt", "Join", "If", "Equals", "Not", "Select", "And", "Or"):
    CfnLoader.add_constructor(f"!{_short}", _tag(_short if _short == "Ref" else f"Fn::{_short}"))
CfnLoader.add_constructor("!Condition", _tag("Condition"))


def load_template(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=CfnLoader)


@dataclass
class Resolver:
    """Resolves intrinsic functions against parameter values and the attributes of resources made so far."""

    template: dict[str, Any]
    stack: str
    account: str
    region: str
    overrides: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"Arn": ..., "Ref": ...}

    def pseudo(self) -> dict[str, str]:
        return {"AWS::StackName": self.stack, "AWS::AccountId": self.account, "AWS::Region": self.region,
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}  # fmt: skip

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo():
            return self.pseudo()[name]
        if name in self.overrides:
            return str(self.overrides[name])
        if name in self.template.get("Parameters", {}):
            return str(self.template["Parameters"][name]["Default"])
        return self.attributes[name]["Ref"]

    def condition(self, name: str) -> bool:
        return bool(self(self.template["Conditions"][name]))

    def __call__(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.attributes[value[0]][value[1]]
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::If":
                return self(value[1] if self.condition(value[0]) else value[2])
            if key == "Fn::Equals":
                return str(self(value[0])) == str(self(value[1]))
            if key == "Fn::Not":
                return not self(value[0])
            if key == "Condition":
                return self.condition(value)
        if isinstance(node, dict):
            return {k: r for k, v in node.items() if (r := self(v)) is not NO_VALUE}
        if isinstance(node, list):
            return [r for v in node if (r := self(v)) is not NO_VALUE]
        return node

    def _sub(self, value: Any) -> str:
        text, extra = (value, {}) if isinstance(value, str) else (value[0], self(value[1]))

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in extra:
                return str(extra[name])
            if "." in name:
                logical, attr = name.split(".", 1)
                return self.attributes[logical][attr]
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", sub, text)


@dataclass(frozen=True)
class FunctionSpec:
    """One AWS::Serverless::Function as the local stack runs it."""

    logical: str
    name: str
    code_uri: str
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    environment: dict[str, str]
    properties: dict[str, Any]  # the resolved Properties (Events, EventInvokeConfig, Policies ...)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """logical id -> Properties of every resource of one type."""
    return {k: r.get("Properties", {}) for k, r in template["Resources"].items() if r["Type"] == kind}


def function_spec(logical: str, props: dict[str, Any], resolve: Resolver, template: dict[str, Any]) -> FunctionSpec:
    glob = template.get("Globals", {}).get("Function", {})
    merged = resolve({k: v for k, v in glob.items() if k != "Environment"} | props)
    env = resolve(glob.get("Environment", {}).get("Variables", {})) | merged.get("Environment", {}).get("Variables", {})
    return FunctionSpec(
        logical=logical, name=f"{resolve.stack}-{logical}", code_uri=merged["CodeUri"], handler=merged["Handler"],
        runtime=merged["Runtime"], memory_mb=int(merged.get("MemorySize", 128)), timeout_s=int(merged.get("Timeout", 3)),
        ephemeral_mb=int(merged.get("EphemeralStorage", {}).get("Size", 512)),
        environment={k: str(v) for k, v in env.items()}, properties=merged,
    )  # fmt: skip
