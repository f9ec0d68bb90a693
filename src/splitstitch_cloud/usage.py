"""What each invocation used, recorded under work/<job>/usage/ (every attempt, failed ones too), and the job's
cost from those records (`cost.estimate`)."""

from __future__ import annotations

import json
import os
import platform
import time
import uuid
from pathlib import Path
from typing import Any

from splitstitch_cloud import contract, cost

_cold = [True]


def arch() -> cost.Arch:
    return "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def process_age_seconds(proc: Path = Path("/proc")) -> float | None:
    """How long this process has run (Linux: its start time in clock ticks after boot, against the uptime)."""
    try:
        stat = (proc / "self" / "stat").read_text()
        start_ticks = int(stat.rsplit(")", 1)[1].split()[19])
        uptime = float((proc / "uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def init_seconds() -> float:
    """The billed INIT of this invocation: on the first invocation a Lambda-like process serves (a cold start),
    how long the process ran before it (runtime start and handler import); else 0. Outside an execution
    environment (no AWS_LAMBDA_FUNCTION_NAME, e.g. handlers called in-process by tests) always 0."""
    if not _cold[0]:
        return 0.0
    _cold[0] = False
    if "AWS_LAMBDA_FUNCTION_NAME" not in os.environ:
        return 0.0
    return round(process_age_seconds() or 0.0, 3)


def record(function: str, memory_mb: int, began: float, init_s: float, ok: bool, **counts: int) -> dict[str, Any]:
    return {"function": function, "memory_mb": memory_mb, "seconds": round(time.perf_counter() - began, 3),
            "init_s": init_s, "arch": arch(), "ok": ok, **counts}  # fmt: skip


def source_reads(read: int, counted: bool) -> dict[str, Any]:
    """Bytes of the source an invocation read by ranged GETs (`source_bytes`); None when ffmpeg read it through a
    presigned URL, which this process cannot count."""
    return {"source_bytes": read if counted else None}


STAGE_FUNCTIONS = {"prepare": "prepare", "encode": "encode_segment", "audio": "encode_audio"}


def source_read_report(prepare: dict[str, Any] | None, records: list[dict[str, Any]], finish_bytes: int,
                       source_size: int) -> dict[str, Any]:  # fmt: skip
    """Bytes of the source each stage read (every attempt, failed ones too), and as a multiple of the source;
    a stage any of whose invocations read through a presigned URL is None (not counted)."""
    stages: dict[str, int | None] = {}
    for stage, function in STAGE_FUNCTIONS.items():
        mine = [prepare] if stage == "prepare" else [r for r in records if r.get("function") == function]
        counts = [r.get("source_bytes") for r in mine if r]
        stages[stage] = sum(counts) if counts and None not in counts else (0 if not counts else None)  # type: ignore[arg-type]
    stages["finish"] = finish_bytes
    ratios = {k: round(v / source_size, 4) if v is not None and source_size else None for k, v in stages.items()}
    return {"source_bytes": source_size, "bytes": stages, "times_source": ratios}


def store_record(storage: Any, item: str, data: dict[str, Any]) -> None:
    """Put one invocation's record (counting its own PUT) under work/<job>/usage/."""
    data = data | {"s3_puts": int(data.get("s3_puts", 0)) + 1}
    storage.put_bytes(contract.usage_name(item, uuid.uuid4().hex[:12]), json.dumps(data).encode())


def ephemeral_sizes() -> dict[str, int]:
    """MB of /tmp per function, as the template configured them (env EPHEMERAL_STORAGE_MB of the finish)."""
    try:
        return {k: int(v) for k, v in json.loads(os.environ.get("EPHEMERAL_STORAGE_MB") or "{}").items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def job_cost(records: list[dict[str, Any]], segments: int, work_bytes: int, seconds: float,
             audio_plans: int = 1) -> dict[str, Any]:  # fmt: skip
    """The job's cost from every invocation's record (prepare, every encode attempt, audio, finish)."""
    sizes = ephemeral_sizes()
    invocations = tuple(
        cost.Invocation(r["function"], int(r["memory_mb"]), float(r["seconds"]), r.get("arch", "x86_64"),
                        float(r.get("init_s", 0.0)), sizes.get(r["function"], cost.FREE_EPHEMERAL_MB), bool(r.get("ok", True)))
        for r in records
    )  # fmt: skip
    puts = 4 + sum(int(r.get("s3_puts", 0)) for r in records)  # + upload, job, items, status writes
    gets = 3 + sum(int(r.get("s3_gets", 0)) for r in records)  # + head, sniff, items read by the Map
    usage = cost.JobUsage(invocations, segments, 0, puts, gets, 2 * work_bytes, seconds / 3600, audio_plans=audio_plans)
    return cost.estimate(usage)
