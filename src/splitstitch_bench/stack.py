"""The deployed stack as the model sees it, read from `template.yaml` and `statemachine/transcode.asl.json`
at run time (never copied): every function's memory, timeout and /tmp, the Map's MaxConcurrency, retries,
what the prepare function gets from its environment (so `Deployment.fanout()` plans exactly as deployed),
and the Step Functions state transitions of one job, counted by walking the ASL's success path.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from splitstitch_cloud.steps import Deployment

ROOT = Path(__file__).resolve().parents[2]  # the project folder (src layout, editable install)
TEMPLATE_ENV = "SPLITSTITCH_TEMPLATE"


class StackError(RuntimeError):
    """The template or the ASL has a shape the model does not understand: the model must be updated."""


@dataclass(frozen=True)
class Function:
    logical_id: str
    stage: str  # functions/<stage>/: prepare, encode_segment, encode_audio, finish, record_failure
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int
    arch: str = "x86_64"  # Architectures[0]
    reserved: int = 0  # ReservedConcurrentExecutions (0: none)


@dataclass(frozen=True)
class Transitions:
    """State transitions of one successful job (Standard workflow; each state entered is one)."""

    parent: int  # the parent execution with one audio plan (the audio Map runs one Task per plan)
    per_item: int  # one Distributed Map child execution: its start plus the states it enters
    parent_no_audio: int

    @property
    def per_audio(self) -> int:
        return self.parent - self.parent_no_audio

    def job(self, items: int, audio: bool | int = True, retries: int = 0) -> int:
        """`audio`: whether the job has audio, or how many audio plans it has (streaming renditions)."""
        plans = int(audio)
        return self.parent_no_audio + plans * self.per_audio + items * self.per_item + retries


@dataclass(frozen=True)
class Stack:
    functions: dict[str, Function]  # by stage
    max_concurrency: int
    segment_retries: int
    retry_interval_s: float
    encode_timeout_s: int
    deployment: Deployment
    transitions: Transitions
    template: str
    child_execution_type: str = "STANDARD"  # the Distributed Map's children
    preset: str = "medium"  # the prepare function's DEFAULT_SETTINGS preset

    def memory(self, stage: str) -> int:
        return self.functions[stage].memory_mb

    def ephemeral(self) -> tuple[int, int, int, int]:
        """/tmp MB of prepare, encode_segment, encode_audio and finish (billed above 512 MB)."""
        return tuple(self.functions[s].ephemeral_mb if s in self.functions else 512
                     for s in ("prepare", "encode_segment", "encode_audio", "finish"))  # type: ignore[return-value]  # fmt: skip


class _Loader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_Loader.add_multi_constructor("!", _tag)


def find_template(path: Path | None = None) -> Path:
    for candidate in (path, os.environ.get(TEMPLATE_ENV), Path.cwd() / "template.yaml", ROOT / "template.yaml"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise StackError(f"template.yaml not found (looked in {Path.cwd()} and {ROOT}; set {TEMPLATE_ENV})")


def _resolve(value: Any, params: dict[str, Any], conditions: dict[str, Any] | None = None) -> Any:
    """A template value with !Ref to a parameter replaced by the parameter's default, a !Sub of parameters
    filled in, and an !If decided by its condition (Not / Equals / Ref); AWS::NoValue is None."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        if value["Ref"] == "AWS::NoValue":
            return None
        if value["Ref"] not in params:
            raise StackError(f"!Ref {value['Ref']}: not a parameter with a default")
        return params[value["Ref"]]
    if isinstance(value, dict) and set(value) == {"Sub"} and isinstance(value["Sub"], str):
        names = re.findall(r"\$\{([\w:]+)\}", value["Sub"])
        if all(n in params for n in names):
            return re.sub(r"\$\{([\w:]+)\}", lambda m: str(params[m.group(1)]), value["Sub"])
        return value
    if isinstance(value, dict) and set(value) == {"If"} and conditions is not None:
        name, yes, no = value["If"]
        return _resolve(yes if _condition(conditions[name], params, conditions) else no, params, conditions)
    return value


def _condition(expr: Any, params: dict[str, Any], conditions: dict[str, Any]) -> bool:
    if isinstance(expr, dict) and set(expr) == {"Not"}:
        return not _condition(expr["Not"][0], params, conditions)
    if isinstance(expr, dict) and set(expr) == {"Equals"}:
        a, b = (_resolve(v, params, conditions) for v in expr["Equals"])
        return str(a) == str(b)
    if isinstance(expr, dict) and set(expr) == {"Condition"}:
        return _condition(conditions[expr["Condition"]], params, conditions)
    raise StackError(f"condition {expr} is not one the model can evaluate (Not, Equals, Condition)")


def _functions(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, Function]:
    glob = doc.get("Globals", {}).get("Function", {})
    conditions = doc.get("Conditions", {})
    found = {}
    for logical_id, res in doc["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        stage = Path(props["CodeUri"].rstrip("/")).name
        memory = _resolve(props.get("MemorySize", glob.get("MemorySize", 128)), params)
        timeout = _resolve(props.get("Timeout", glob.get("Timeout", 3)), params)
        tmp = props.get("EphemeralStorage", glob.get("EphemeralStorage", {})).get("Size", 512)
        archs = props.get("Architectures", glob.get("Architectures", ["x86_64"]))
        arch = str(_resolve(archs[0], params, conditions)) if archs else "x86_64"
        reserved = _resolve(props.get("ReservedConcurrentExecutions"), params, conditions)
        found[stage] = Function(logical_id, stage, int(memory), int(timeout), int(_resolve(tmp, params)), arch,
                                int(reserved or 0))  # fmt: skip
    return found


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """`Deployment.from_env()` reads os.environ: give it the template's environment for one call."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare_environment(doc: dict[str, Any], params: dict[str, Any]) -> dict[str, str]:
    props = next(r["Properties"] for r in doc["Resources"].values()
                 if r.get("Type") == "AWS::Serverless::Function" and r["Properties"]["CodeUri"].rstrip("/").endswith("prepare"))  # fmt: skip
    variables = props.get("Environment", {}).get("Variables", {})
    env = {}
    for name, value in variables.items():
        resolved = _resolve(value, params)
        if not isinstance(resolved, dict):
            env[name] = str(resolved)
    return env


def asl_definition(doc: dict[str, Any], params: dict[str, Any], asl_path: Path) -> dict[str, Any]:
    machine = next(
        r["Properties"] for r in doc["Resources"].values() if r.get("Type") == "AWS::Serverless::StateMachine"
    )
    subs = {k: _resolve(v, params) for k, v in machine.get("DefinitionSubstitutions", {}).items()}
    text = asl_path.read_text(encoding="utf-8")

    def fill(m: re.Match[str]) -> str:
        value = subs.get(m.group(1))
        if value is None:
            raise StackError(f"ASL placeholder ${{{m.group(1)}}} has no DefinitionSubstitution")
        return str(value) if not isinstance(value, dict) else f"arn:aws:lambda:::function:{m.group(1)}"

    return json.loads(re.sub(r"\$\{(\w+)\}", fill, text))


def _choose(state: dict[str, Any], data: dict[str, Any]) -> str:
    for rule in state.get("Choices", []):
        if set(rule) != {"Variable", "IsNull", "Next"} or not rule["Variable"].startswith("$."):
            raise StackError(f"Choice rule {rule} is not one the model can evaluate (IsNull on $.field)")
        if (data.get(rule["Variable"][2:]) is None) == rule["IsNull"]:
            return rule["Next"]
    return state["Default"]


def walk(machine: dict[str, Any], data: dict[str, Any]) -> tuple[int, int]:
    """(transitions of this execution, transitions of one Distributed Map child) on the success path."""
    states, name, count, child = machine["States"], machine["StartAt"], 0, 0
    while name is not None:
        state = states[name]
        count += 1
        kind = state["Type"]
        if kind == "Parallel":
            for branch in state["Branches"]:
                inner, inner_child = walk(branch, data)
                count, child = count + inner, max(child, inner_child)
        elif kind == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED":
                child = 1 + walk(processor, data)[0]  # the child execution's start, then its states
            else:  # an inline Map (the audio plans): its states once per item of the input list
                path = state.get("ItemsPath", "$")
                if not path.startswith("$.") or not isinstance(data.get(path[2:]), list):
                    raise StackError(f"Map {name!r} is inline over {path}: the model needs that list in its data")
                count += len(data[path[2:]]) * walk(processor, data)[0]
        elif kind in ("Fail", "Succeed"):
            break
        elif kind not in ("Task", "Pass", "Choice", "Wait"):
            raise StackError(f"state {name!r} of type {kind} is not modeled")
        name = _choose(state, data) if kind == "Choice" else None if state.get("End") else state.get("Next")
    return count, child


def segment_retries(machine: dict[str, Any]) -> int:
    """MaxAttempts of the encode Task's retry on our own errors (ToolError)."""
    for state in _all_states(machine):
        for rule in state.get("Retry", []):
            if "ToolError" in rule.get("ErrorEquals", []):
                return int(rule["MaxAttempts"])
    raise StackError("no Retry on ToolError in the ASL")


def _all_states(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for state in machine["States"].values():
        yield state
        for branch in state.get("Branches", []):
            yield from _all_states(branch)
        if "ItemProcessor" in state:
            yield from _all_states(state["ItemProcessor"])


def map_state(machine: dict[str, Any]) -> dict[str, Any]:
    """The Distributed Map of the segments."""
    found = [s for s in _all_states(machine) if s["Type"] == "Map"
             and s["ItemProcessor"].get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"]  # fmt: skip
    if len(found) != 1:
        raise StackError(f"expected one Distributed Map state, found {len(found)}")
    return found[0]


def load(template: Path | None = None) -> Stack:
    path = find_template(template)
    doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    params = {k: v["Default"] for k, v in doc.get("Parameters", {}).items() if "Default" in v}
    functions = _functions(doc, params)
    machine_props = next(r["Properties"] for r in doc["Resources"].values()
                         if r.get("Type") == "AWS::Serverless::StateMachine")  # fmt: skip
    machine = asl_definition(doc, params, path.parent / machine_props["DefinitionUri"])
    with _environment(prepare_environment(doc, params)):
        deployment = Deployment.from_env()
    preset = json.loads(prepare_environment(doc, params).get("DEFAULT_SETTINGS", "{}")).get("preset", "medium")
    with_audio, per_item = walk(machine, {"audio": [{}]})
    no_audio, _ = walk(machine, {"audio": []})
    the_map = map_state(machine)
    encode = next(s for s in _all_states(the_map["ItemProcessor"]) if s["Type"] == "Task")
    return Stack(
        functions=functions, max_concurrency=int(the_map["MaxConcurrency"]), segment_retries=segment_retries(machine),
        retry_interval_s=float(next(r["IntervalSeconds"] for r in encode.get("Retry", []))),
        encode_timeout_s=int(encode.get("TimeoutSeconds", functions["encode_segment"].timeout_s)),
        deployment=deployment, transitions=Transitions(with_audio, per_item, no_audio), template=str(path),
        child_execution_type=the_map["ItemProcessor"]["ProcessorConfig"].get("ExecutionType", "STANDARD"),
        preset=str(preset),
    )  # fmt: skip
