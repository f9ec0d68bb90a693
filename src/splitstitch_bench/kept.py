"""Measurements kept in the work folder between runs (`--work-dir`, `--reuse`): one JSON per workload item."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from splitstitch.media import MediaInfo
from splitstitch.plan import Plan
from splitstitch_bench import talk
from splitstitch_bench.cpufit import Sample
from splitstitch_bench.runner import Item, Measured


def to_dict(m: Measured) -> dict[str, Any]:
    """What a later run with `--reuse` needs to skip measuring this item again."""
    item = dataclasses.asdict(m.item) | {"source": str(m.item.source)}
    return {"item": item, "info": m.info.to_dict(), "plan_full": m.plan_full.to_dict(), "plan_s": m.plan_s,
            "packets": m.packets, "samples": [s.to_dict() for s in m.samples], "runs": m.runs,
            "finish_gets_per_segment": m.finish_gets_per_segment, "local_plan": m.local_plan,
            "local_threads": m.local_threads, "output_bps": m.output_bps, "errors": m.errors}  # fmt: skip


def from_dict(d: dict[str, Any]) -> Measured:
    raw = d["item"]
    row = talk.TalkRow(**raw["row"]) if raw.get("row") else None
    item = Item(raw["name"], Path(raw["source"]), raw["real_seconds"], raw["real_bytes"], raw["container"], row)
    info = MediaInfo.from_dict(d["info"])
    full = talk.full_info(info, item.real_seconds, item.real_bytes) if row else info
    return Measured(item, info, full, Plan.from_dict(d["plan_full"]), d["plan_s"], d["packets"],
                    [Sample(**s) for s in d["samples"]], d["finish_gets_per_segment"], d["runs"], d["local_plan"],
                    d["local_threads"], d["output_bps"], d["errors"])  # fmt: skip
