"""The model against the deployed stack: template.yaml and the ASL are read at run time, and these tests fail
when the model's reading and what the template deploys (or what the cloud code assumes) disagree."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from splitstitch_bench import stack
from splitstitch_cloud import cost
from splitstitch_cloud.steps import Deployment

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deployed() -> stack.Stack:
    return stack.load(ROOT / "template.yaml")


def template() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=stack._Loader)


def test_every_function_of_the_template_is_a_stage_the_model_knows(deployed: stack.Stack) -> None:
    assert set(deployed.functions) == {"prepare", "encode_segment", "encode_audio", "finish", "record_failure"}
    assert all((ROOT / "functions" / stage / "app.py").is_file() for stage in deployed.functions)


def test_memory_timeouts_and_concurrency_are_the_template_defaults(deployed: stack.Stack) -> None:
    params = {k: v.get("Default") for k, v in template()["Parameters"].items()}
    assert deployed.memory("encode_segment") == deployed.memory("encode_audio") == params["EncodeMemorySize"]
    assert deployed.memory("prepare") == params["PrepareMemorySize"]
    assert deployed.memory("finish") == params["FinishMemorySize"]
    assert deployed.max_concurrency == params["MaxConcurrency"]
    assert deployed.segment_retries == params["SegmentRetries"]
    assert deployed.encode_timeout_s == params["EncodeTimeout"]


def test_the_model_plans_with_what_the_prepare_function_is_given(deployed: stack.Stack, monkeypatch) -> None:
    """The prepare function builds its fan-out from its environment; the model must build the same one."""
    doc = template()
    params = {k: v["Default"] for k, v in doc["Parameters"].items() if "Default" in v}
    for name, value in stack.prepare_environment(doc, params).items():
        monkeypatch.setenv(name, value)
    assert Deployment.from_env() == deployed.deployment
    fanout = deployed.deployment.fanout()
    assert fanout.concurrency == deployed.max_concurrency
    assert fanout.vcpus == pytest.approx(deployed.memory("encode_segment") / 1769)
    assert fanout.wave_share == pytest.approx(params["EncodeWavePercent"] / 100) and fanout.wave_share > 0


def test_state_transitions_counted_from_the_asl_match_the_cost_module(deployed: stack.Stack) -> None:
    assert deployed.transitions.parent_no_audio == cost.PARENT_TRANSITIONS
    assert deployed.transitions.per_audio == cost.AUDIO_TRANSITIONS
    assert deployed.transitions.per_item == cost.CHILD_TRANSITIONS
    for plans in (0, 1, 3):
        usage = cost.JobUsage((), segments=7, retries=2, audio_plans=plans)
        assert cost.estimate(usage)["quantities"]["state_transitions"] == deployed.transitions.job(7, plans, retries=2)


def test_walk_counts_a_changed_asl_and_refuses_what_it_cannot_model() -> None:
    doc = template()
    params = {k: v["Default"] for k, v in doc["Parameters"].items() if "Default" in v}
    machine = stack.asl_definition(doc, params, ROOT / "statemachine" / "transcode.asl.json")
    assert stack.walk(machine, {"audio": [{}]}) == (5, 2)  # Parallel, segment Map, audio Map + its Task, Finish
    assert stack.walk(machine, {"audio": [{}, {}]}) == (6, 2)  # two renditions: the audio Task twice
    longer = copy.deepcopy(machine)
    longer["States"]["Finish"]["Next"] = "Done"
    del longer["States"]["Finish"]["End"]
    longer["States"]["Done"] = {"Type": "Pass", "End": True}
    assert stack.walk(longer, {"audio": []}) == (5, 2)
    with pytest.raises(stack.StackError, match="inline over"):
        stack.walk(machine, {"audio": None})


def test_missing_template_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(stack, "ROOT", tmp_path)
    with pytest.raises(stack.StackError, match=r"template\.yaml not found"):
        stack.find_template()
