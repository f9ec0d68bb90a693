"""The deployed stack, modeled: pure arithmetic, no processes.

One job is the stage graph of `splitstitch.stages` as the template deploys it:

    prepare λ (S3 event): HEAD, ranged sniff, ffprobe over HTTP, parallel interval scan, plan, write items
    Parallel ┬ Distributed Map: children started at a rate, MaxConcurrency at once (waves), each an encode λ
             │   reading only its share of the source (+ the container index + GOP/request margins)
             └ audio λ: the whole source on one stream, encoded once
    finish λ: every fragment downloaded and the output uploaded as parts by 16 threads, verified

CPU seconds come from `Costs` (fitted to measurements on this machine, see cpufit.py); every network or
service figure from `catalog.Network`. Each stage reports seconds and the bytes it moves; cost comes from
`splitstitch_cloud.cost.estimate`, the one cost module the cloud also uses.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from splitstitch.source import REQUEST_BYTES
from splitstitch.stages import RESULT_READERS
from splitstitch_bench.catalog import Network, lambda_vcpus
from splitstitch_cloud import cost
from splitstitch_cloud.finish import USAGE_READERS
from splitstitch_cloud.storage import PART_THREADS

USAGE_GETS_PER_INVOCATION = 1  # finish reads one usage record per encode/audio invocation, USAGE_READERS at once
JSON_BYTES_PER_ITEM = 1500  # one Map item (segment task) in items.json


@dataclass(frozen=True)
class Shape:
    """One job's size: what the planner and the source say."""

    duration_s: float
    source_bytes: int
    output_bytes: int
    audio: bool
    segments: tuple[float, ...]  # seconds, in the order the Map runs them (longest first)
    gop_s: float  # keyframe interval: an encoder decodes from the keyframe before its first frame
    index_bytes: int  # container index every reader fetches first (MP4 moov, MKV cues)
    packets: int  # what the scan reads
    encoder_threads: int  # plan.encoder_threads as the deployed fanout gives it


@dataclass(frozen=True)
class Costs:
    """Wall seconds of each stage's compute on a given vCPU share (fitted on this machine)."""

    encode: Callable[[float, float, int], float]  # (segment seconds, vcpus, threads); lead-in decode included
    audio: Callable[[float, float], float]  # (source seconds, vcpus)
    scan: Callable[[int, float, int], float]  # (packets, vcpus, parallel ffprobes)
    finish: Callable[[int, float], float]  # (output bytes, vcpus)
    plan_s: float  # the planner on the full-length index, measured at the prepare function's share
    finish_gets_per_segment: float = 2.0  # measured from the finish stage's storage reads


@dataclass(frozen=True)
class Slot:
    stage: str  # prepare, encode, audio, finish
    row: int  # which concurrent Lambda (encode) or 0
    start: float
    cold_s: float
    io_s: float
    compute_s: float
    end: float


@dataclass
class Stage:
    seconds: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    parts: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
                "parts": {k: round(v, 3) for k, v in self.parts.items()}}  # fmt: skip


@dataclass(frozen=True)
class Memory:
    """What the template gives the functions: memory, and the properties that change time or cost."""

    prepare: int
    encode: int
    finish: int
    arch: str = "x86_64"  # Architecture: arm64 is priced lower and runs at `Network.arm64_speed`
    ephemeral_mb: tuple[int, int, int, int] = (512, 512, 512, 512)  # /tmp of prepare, encode, audio, finish
    reserved_encode: int = 0  # ReservedConcurrentExecutions of the encode function (0: none)
    express_children: bool = False  # the Distributed Map's child ExecutionType is EXPRESS


EXPRESS_PER_REQUEST = 1.00 / 1e6  # Step Functions Express: per execution (AWS Step Functions pricing, us-east-1)
EXPRESS_GB_S = 0.00001667  # per GB-s of duration, billed in 64 MB steps (the smallest, 64 MB, assumed)


def effective(net: Network, memory: Memory) -> Network:
    """The assumptions as the template's functions see them: an arm64 core at `arm64_speed` of an x86 one."""
    return replace(net, core_speed=net.core_speed * (net.arm64_speed if memory.arch == "arm64" else 1.0))


def concurrency(cap: int, memory: Memory, net: Network) -> int:
    """Encodes at once: the Map's MaxConcurrency, the encode function's reserved concurrency (if any) and the
    account's quota, whichever is lowest."""
    return max(1, min(cap, memory.reserved_encode or cap, net.account_concurrency))


@dataclass
class JobModel:
    seconds: float
    stages: dict[str, Stage]
    slots: list[Slot]
    cost: dict[str, Any]
    notes: dict[str, Any]

    def to_dict(self, with_slots: bool = False) -> dict[str, Any]:
        doc = {"seconds": round(self.seconds, 3), "stages": {k: v.to_dict() for k, v in self.stages.items()},
               "cost": self.cost, "notes": self.notes}  # fmt: skip
        if with_slots:
            doc["timeline"] = [vars(s) | {k: round(getattr(s, k), 3) for k in ("start", "cold_s", "io_s", "compute_s", "end")}
                               for s in self.slots]  # fmt: skip
        return doc


def streams_mb_s(net: Network, streams: int) -> float:
    return min(streams * net.s3_stream_mb_s, net.lambda_cap_mb_s) * 1e6


def overlap(net: Network, io_s: float, compute_s: float) -> float:
    return max(io_s, compute_s) if net.overlap_io else io_s + compute_s


def encoder_read_bytes(shape: Shape, seconds: float) -> int:
    """An encoder's ranged reads: its share, the GOP it decodes before its first frame, the index, and up to
    one HTTP request past its end (source.REQUEST_BYTES)."""
    rate = shape.source_bytes / shape.duration_s
    return int(rate * (seconds + shape.gop_s) + shape.index_bytes + REQUEST_BYTES)


def burst_delay(net: Network, i: int) -> float:
    """Lambda scaling: the first `lambda_burst` concurrent executions at once, then +N every 10 s."""
    return 10.0 * max(0, math.ceil((i + 1 - net.lambda_burst) / net.lambda_burst_per_10s))


def schedule_map(durations: list[float], cap: int, starts: list[float]) -> list[tuple[int, float, float, bool]]:
    """Children in order onto at most `cap` concurrent Lambdas: (row, start, end, cold) each. A child may not
    start before its own start time (`starts`, from the start rate) nor before a Lambda is free."""
    free: list[tuple[float, int]] = []
    out = []
    rows = 0
    for work, ready in zip(durations, starts, strict=True):
        if rows < cap and (not free or free[0][0] > ready):
            row, at, cold = rows, ready, True
            rows += 1
        else:
            at_free, row = heapq.heappop(free)
            at, cold = max(at_free, ready), False
        out.append((row, at, at + work, cold))
        heapq.heappush(free, (at + work, row))
    return out


@dataclass(frozen=True)
class MapItem:
    """One Distributed Map child: seconds of video, its compute at the encode share, bytes read and written."""

    seconds: float
    compute_s: float
    read_bytes: int
    out_bytes: int


@dataclass(frozen=True)
class Finished:
    """The finish stage as modeled, with the S3 requests it makes."""

    stage: Stage
    compute_s: float  # of stage.seconds, what runs on the function's CPU
    puts: int
    gets: int


FinishModel = Callable[[Shape, Costs, Network, float, int], Finished]  # (shape, costs, net, vcpus, map items)


def file_items(shape: Shape, costs: Costs, v_enc: float, speed: float = 1.0) -> list[MapItem]:
    """One Map item per segment; its CPU seconds (fitted on this machine) divided by the core speed."""
    out_rate = shape.output_bytes / shape.duration_s
    return [MapItem(s, costs.encode(s, v_enc, shape.encoder_threads) / speed, encoder_read_bytes(shape, s),
                    int(out_rate * s)) for s in shape.segments]  # fmt: skip


def file_finish(shape: Shape, costs: Costs, net: Network, v_fin: float, n: int) -> Finished:
    """Every fragment down, the output up in parts, 16 threads; the small GETs (each segment's result, each
    invocation's usage record) 32 at once, as stages.finish and finish.finish read them; verification."""
    req = net.s3_request_s
    fin = Stage(bytes_in=shape.output_bytes, bytes_out=shape.output_bytes)
    small_gets = (costs.finish_gets_per_segment / RESULT_READERS + USAGE_GETS_PER_INVOCATION / USAGE_READERS) * n
    moved = 2 * shape.output_bytes / streams_mb_s(net, PART_THREADS)
    parts_count = max(1, math.ceil(shape.output_bytes / (32 << 20)))
    fin.parts = {"cold_start": net.cold_start_s, "small_gets": small_gets * req,
                 "parts_io": moved + (n + parts_count) * req / PART_THREADS,
                 "assemble_verify_cpu": costs.finish(shape.output_bytes, v_fin) / net.core_speed,
                 "report_status_cleanup": (4 + math.ceil(3 * n / 1000)) * req}  # fmt: skip
    fin.seconds = (fin.parts["cold_start"] + fin.parts["small_gets"] + overlap(net, fin.parts["parts_io"],
                   fin.parts["assemble_verify_cpu"]) + fin.parts["report_status_cleanup"])  # fmt: skip
    gets = int((costs.finish_gets_per_segment + USAGE_GETS_PER_INVOCATION) * n) + n + parts_count
    return Finished(fin, fin.parts["assemble_verify_cpu"], parts_count + 2, gets)


def lambda_job(shape: Shape, costs: Costs, net: Network, memory: Memory, cap: int, scan_parallel: int,
               transitions: tuple[int, int], items: list[MapItem] | None = None, audio_plans: int | None = None,
               finish: FinishModel = file_finish) -> JobModel:  # fmt: skip
    """The modeled wall time, stages, timeline and cost of one job on the deployed stack: by default a single
    file (one Map item per segment, one audio plan, the stitching finish); a streaming job passes its items
    (segments x rungs), its audio renditions and its packaging finish (model_stream.py)."""
    stages: dict[str, Stage] = {}
    slots: list[Slot] = []
    net = effective(net, memory)
    cap = concurrency(cap, memory, net)
    req, speed = net.s3_request_s, net.core_speed  # every CPU second is divided by the core speed
    v_prep, v_enc, v_fin = (lambda_vcpus(m) for m in (memory.prepare, memory.encode, memory.finish))
    one = streams_mb_s(net, 1)
    order = items if items is not None else file_items(shape, costs, v_enc, speed)
    plans = (1 if shape.audio else 0) if audio_plans is None else audio_plans

    # prepare: HEAD + sniff + ffprobe's header/index read, the parallel scan, plan, job + items + status PUTs
    prep = Stage(bytes_in=shape.source_bytes + shape.index_bytes + 4096, bytes_out=JSON_BYTES_PER_ITEM * len(order))
    scan_io = shape.source_bytes / streams_mb_s(net, scan_parallel)
    prep.parts = {"s3_event": net.s3_event_s, "cold_start": net.cold_start_s,
                  "head_sniff_probe": 3 * req + shape.index_bytes / one,
                  "scan": overlap(net, scan_io, costs.scan(shape.packets, v_prep, scan_parallel) / speed),
                  "plan": costs.plan_s / speed, "write_items": 3 * req + prep.bytes_out / one}  # fmt: skip
    prep.seconds = sum(prep.parts.values())
    stages["prepare"] = prep
    slots.append(Slot("prepare", 0, net.s3_event_s, net.cold_start_s, prep.seconds - net.s3_event_s - net.cold_start_s
                      - prep.parts["scan"], prep.parts["scan"], prep.seconds))  # fmt: skip
    parent, per_item = transitions
    t0 = prep.seconds + net.transition_s * 2  # StartExecution, then the Parallel state

    # encode branch: Map state, item reader, children started at a rate, each cold in its first use
    enc = Stage()
    map_start = t0 + net.transition_s + req + JSON_BYTES_PER_ITEM * len(order) / one + net.map_overhead_s / 2
    starts = [map_start + i / net.child_start_per_s + per_item * net.transition_s + burst_delay(net, min(i, cap - 1))
              for i in range(len(order))]  # fmt: skip
    works, parts = [], []
    for item in order:
        io = item.read_bytes / one + 2 * req
        upload = item.out_bytes / one + 3 * req  # fragments, init (segment 0), result json
        parts.append((io, item.compute_s, upload))
        works.append(overlap(net, io, item.compute_s) + upload)
    placed = schedule_map([w + net.cold_start_s for w in works], cap, starts)
    end_map = map_start
    for (row, at, _, cold), work, (io, compute, upload), item in zip(placed, works, parts, order, strict=True):
        cold_s = net.cold_start_s if cold else 0.0
        end = at + cold_s + work
        end_map = max(end_map, end)
        enc.bytes_in += item.read_bytes
        enc.bytes_out += item.out_bytes
        slots.append(Slot("encode", row, at, cold_s, io + upload, compute, end))
    end_map += net.map_overhead_s / 2  # the Map run's completion after its last child
    enc.seconds = end_map - t0
    waves = math.ceil(len(order) / max(1, min(cap, len(order))))
    enc.parts = {"map_and_reader": map_start - t0 - net.map_overhead_s / 2, "child_start_spread": starts[-1] - map_start if starts else 0.0,
                 "slowest_encode_compute": max((p[1] for p in parts), default=0.0),
                 "slowest_encode_io": max((p[0] for p in parts), default=0.0),
                 "cold_start": net.cold_start_s, "map_overhead": net.map_overhead_s, "waves": waves}  # fmt: skip
    stages["encode"] = enc

    # audio branch: the audio Map (MaxConcurrency 0: every plan at once), each plan the whole source on one
    # stream, encoded once, uploaded
    aud = Stage()
    end_audio = t0
    if plans:
        audio_bytes = int(shape.duration_s * 128_000 / 8 * 1.02)
        aud.bytes_in, aud.bytes_out = plans * shape.source_bytes, plans * audio_bytes
        io = shape.source_bytes / one + 2 * req
        compute = costs.audio(shape.duration_s, v_enc) / speed
        aud.parts = {"transitions": 2 * net.transition_s, "cold_start": net.cold_start_s, "read_and_encode":
                     overlap(net, io, compute), "upload": audio_bytes / one + 3 * req}  # fmt: skip
        aud.seconds = sum(aud.parts.values())
        end_audio = t0 + aud.seconds
        for row in range(plans):
            slots.append(Slot("audio", row, t0 + 2 * net.transition_s, net.cold_start_s, io, compute, end_audio))
    stages["audio"] = aud

    n = len(order)
    start_fin = max(end_map, end_audio) + net.transition_s
    done = finish(shape, costs, net, v_fin, n)
    fin = done.stage
    slots.append(Slot("finish", 0, start_fin, net.cold_start_s, fin.seconds - net.cold_start_s - done.compute_s,
                      done.compute_s, start_fin + fin.seconds))  # fmt: skip
    stages["finish"] = fin
    total = start_fin + fin.seconds + net.transition_s

    arch = "arm64" if memory.arch == "arm64" else "x86_64"
    tmp = dict(zip(("prepare", "encode_segment", "encode_audio", "finish"), memory.ephemeral_mb, strict=True))
    invocations = [cost.Invocation("prepare", memory.prepare, prep.seconds - net.s3_event_s, arch,
                                   ephemeral_mb=tmp["prepare"]),
                   *(cost.Invocation("encode_segment", memory.encode, s.end - s.start, arch,
                                     ephemeral_mb=tmp["encode_segment"]) for s in slots if s.stage == "encode"),
                   cost.Invocation("finish", memory.finish, fin.seconds, arch, ephemeral_mb=tmp["finish"])]  # fmt: skip
    invocations += [cost.Invocation("encode_audio", memory.encode, aud.seconds - 2 * net.transition_s, arch,
                                    ephemeral_mb=tmp["encode_audio"])] * plans  # fmt: skip
    puts = 5 + 3 * n + 3 * plans + n + done.puts  # + usage records
    gets = 3 + scan_parallel * 8 + n * 8 + 8 * plans + done.gets
    usage = cost.JobUsage(tuple(invocations), n, 0, puts, gets, 2 * enc.bytes_out, total / 3600, audio_plans=plans)
    job_cost = cost.estimate(usage)
    if memory.express_children:
        job_cost = express_children(job_cost, [s.end - s.start for s in slots if s.stage == "encode"])
    notes = {"segments": n, "waves": waves, "concurrency": min(cap, n), "encoder_threads": shape.encoder_threads,
             "arch": arch, "core_speed": round(speed, 4), "child_execution_type": "EXPRESS" if memory.express_children
             else "STANDARD",
             "vcpus": {"prepare": round(v_prep, 3), "encode": round(v_enc, 3), "finish": round(v_fin, 3)},
             "memory_mb": vars(memory), "state_transitions": parent + (plans - 1) * cost.AUDIO_TRANSITIONS + per_item * n,
             "critical_branch": "encode" if end_map >= end_audio else "audio",
             "slowest_encode_s": round(max(works, default=0.0), 3)}  # fmt: skip
    return JobModel(total, stages, slots, job_cost, notes)


def express_children(job_cost: dict[str, Any], durations: list[float]) -> dict[str, Any]:
    """Express children are billed per execution and per GB-s (64 MB steps), not per state transition: the
    children's transitions (cost.CHILD_TRANSITIONS each) leave the Step Functions line, their price joins it."""
    prices = job_cost["prices"]
    children = len(durations)
    standard = cost.CHILD_TRANSITIONS * children * prices["sfn_transition"]
    express = children * EXPRESS_PER_REQUEST + sum(math.ceil(d * 10) / 10 for d in durations) * 0.0625 * EXPRESS_GB_S
    usd = dict(job_cost["usd"])
    usd["step_functions"] = round(usd["step_functions"] - standard + express, 8)
    usd["total"] = round(sum(v for k, v in usd.items() if k != "total"), 8)
    return job_cost | {"usd": usd}
