"""`bench model --from RESULTS.json`: the committed measurements re-projected (no measuring), the three cases,
`--set`, the core speed, and every template property that changes time or cost moving the model."""

from __future__ import annotations

import json
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from splitstitch.errors import UsageError
from splitstitch_bench import model, reproject, stack
from splitstitch_bench.catalog import CASES, HEADLINE, Network
from splitstitch_bench.cpufit import Line, StageFit

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "talk-full.json"
ROW = "100MB-720p"


@cache
def committed() -> dict[str, Any]:
    return json.loads(RESULTS.read_text())


def one_row(doc: dict[str, Any], name: str = ROW) -> dict[str, Any]:
    return doc | {"rows": [r for r in doc["rows"] if r["name"] == name]}


def lam(doc: dict[str, Any], name: str = ROW, runtime: str = "lambda") -> dict[str, Any]:
    row = next(r for r in doc["rows"] if r["name"] == name)
    return next(e for e in row["runtimes"] if e["name"] == runtime)


@cache
def baseline() -> dict[str, Any]:
    return reproject.model(one_row(committed()), stack.load(ROOT / "template.yaml"))


def test_committed_figures_are_what_the_model_gives_from_the_committed_measurements() -> None:
    """Every modeled figure in the results file (and so in the README) comes back from its own measurements."""
    again = reproject.model(committed(), stack.load(ROOT / "template.yaml"))
    for old, new in zip(committed()["rows"], again["rows"], strict=True):
        for a, b in zip(old["runtimes"], new["runtimes"], strict=True):
            assert a["name"] == b["name"]
            assert b["seconds"] == pytest.approx(a["seconds"], abs=0.02), (old["name"], a["name"])
            if a["usd_per_min"] is not None:
                assert b["usd_per_min"] == pytest.approx(a["usd_per_min"], rel=1e-3, abs=1e-6)


def test_each_lambda_entry_has_three_cases_headlined_by_middle() -> None:
    for row in committed()["rows"]:
        for e in (e for e in row["runtimes"] if e["how"] == "modeled"):
            assert e["headline"] == "middle"
            cases = e["cases"]
            assert list(cases) == ["optimistic", "middle", "pessimistic"]
            assert e["seconds"] == cases["middle"]["seconds"]
            assert cases["optimistic"]["seconds"] <= cases["middle"]["seconds"] <= cases["pessimistic"]["seconds"]
            for case in cases.values():
                assert {"seconds", "cost_per_output_minute", "assumptions"} <= set(case)
                assert set(Network().to_dict()) <= set(case["assumptions"])


def test_targets_are_judged_on_middle() -> None:
    doc = committed()
    for t in doc["targets"]:
        assert t["modeled_s"] == lam(doc, t["row"])["cases"]["middle"]["seconds"]


def test_set_overrides_an_assumption_in_every_case_and_refuses_unknown_names() -> None:
    slower = reproject.model(one_row(committed()), stack.load(ROOT / "template.yaml"), {"core_speed": "0.5"})
    base, slow = lam(baseline()), lam(slower)
    for case in CASES:
        assert slow["cases"][case]["assumptions"]["core_speed"] == 0.5
        assert slow["cases"][case]["seconds"] > base["cases"][case]["seconds"]
    with pytest.raises(UsageError, match="unknown assumption 'no_such'"):
        reproject.parse_sets(["no_such=1"])
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        reproject.parse_sets(["core_speed"])
    with pytest.raises(UsageError, match="not a float"):
        reproject.parse_sets(["core_speed=fast"])


def test_a_new_account_row_is_slower_than_the_deployed_one() -> None:
    doc = baseline()
    assert lam(doc, runtime="lambda:new-account")["seconds"] > lam(doc)["seconds"] * 2


# -- core speed: it scales the CPU line per core, on every thread count


FIT = StageFit(Line(0.5, 0.8, 3), efficiency=0.5)
COSTS = model.Costs(encode=lambda s, v, k: FIT.wall(s, v, k), audio=lambda d, v: 0.01 * d,
                    scan=lambda p, v, n: 1e-4 * p, finish=lambda b, v: b / 1e9, plan_s=0.2)  # fmt: skip


def slowest_encode(core_speed: float, threads: int, memory_mb: int) -> float:
    shape = model.Shape(duration_s=60.0, source_bytes=60_000_000, output_bytes=30_000_000, audio=False,
                        segments=(6.0,) * 10, gop_s=2.0, index_bytes=10_000, packets=5000, encoder_threads=threads)  # fmt: skip
    net = Network(core_speed=core_speed, overlap_io=True)
    job = model.lambda_job(shape, COSTS, net, model.Memory(3008, memory_mb, 3008), 100, 16, (10, 3))
    return job.stages["encode"].parts["slowest_encode_compute"]


@pytest.mark.parametrize(("threads", "memory_mb"), [(1, 1769), (2, 3538), (4, 7076), (2, 1769)])
@pytest.mark.parametrize("factor", [0.8, 1.25])
def test_core_speed_scales_the_encode_on_every_thread_count(threads: int, memory_mb: int, factor: float) -> None:
    """0.8 makes the encode 25% slower, 1.25 makes it 20% faster, whatever the threads and vCPUs."""
    ratio = slowest_encode(factor, threads, memory_mb) / slowest_encode(1.0, threads, memory_mb)
    assert ratio == pytest.approx(1 / factor, rel=1e-6)


# -- the template: every property that changes time or cost moves the model


def edit_parameter(text: str, name: str, value: str) -> str:
    pattern = re.compile(rf"(\n  {name}:\n(?:    .*\n)*?    Default: )(\S+)")
    assert pattern.search(text), f"parameter {name} with a Default not found in template.yaml"
    return pattern.sub(lambda m: m.group(1) + value, text, count=1)


def edit_asl(folder: Path, old: str, new: str) -> None:
    asl = next((folder / "statemachine").glob("*.asl.json"))
    text = asl.read_text()
    assert old in text
    asl.write_text(text.replace(old, new))


PROPERTIES = {
    "Architecture": lambda t, f: edit_parameter(t, "Architecture", "arm64"),
    "EncodeEphemeralStorage": lambda t, f: edit_parameter(t, "EncodeEphemeralStorage", "10240"),
    "AudioEphemeralStorage": lambda t, f: edit_parameter(t, "AudioEphemeralStorage", "10240"),
    "EncodeReservedConcurrency": lambda t, f: edit_parameter(t, "EncodeReservedConcurrency", "20"),
    "Preset": lambda t, f: edit_parameter(t, "Preset", "slow"),
    "EncodeMemorySize": lambda t, f: edit_parameter(t, "EncodeMemorySize", "3008"),
    "MaxConcurrency": lambda t, f: edit_parameter(t, "MaxConcurrency", "50"),
    "FinishMemorySize": lambda t, f: edit_parameter(t, "FinishMemorySize", "1024"),
    "ExecutionType": lambda t, f: (edit_asl(f, '"ExecutionType": "STANDARD"', '"ExecutionType": "EXPRESS"'), t)[1],
}


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_each_template_property_moves_the_model(prop: str, tmp_path: Path) -> None:
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    text = (ROOT / "template.yaml").read_text()
    edited = PROPERTIES[prop](text, tmp_path)
    assert edited != text or prop == "ExecutionType"
    (tmp_path / "template.yaml").write_text(edited)
    changed = reproject.model(one_row(committed()), stack.load(tmp_path / "template.yaml"))
    before, after = lam(baseline()), lam(changed)
    assert (after["seconds"], after["usd"]) != (before["seconds"], before["usd"]), f"{prop} changed nothing"


def test_account_quota_and_arm64_speed_are_assumptions_the_model_reads(tmp_path: Path) -> None:
    base = lam(baseline())
    quota = lam(
        reproject.model(one_row(committed()), stack.load(ROOT / "template.yaml"), {"account_concurrency": "10"})
    )
    assert quota["seconds"] > base["seconds"]
    shutil.copytree(ROOT / "statemachine", tmp_path / "statemachine")
    (tmp_path / "template.yaml").write_text(
        edit_parameter((ROOT / "template.yaml").read_text(), "Architecture", "arm64")
    )
    arm = stack.load(tmp_path / "template.yaml")
    same = lam(reproject.model(one_row(committed()), arm))
    slower = lam(reproject.model(one_row(committed()), arm, {"arm64_speed": "0.7"}))
    assert same["usd"] < base["usd"]  # arm64 is priced lower per GB-s
    assert slower["seconds"] > same["seconds"]


def test_headline_is_middle() -> None:
    assert HEADLINE == "middle"
