"""Pure models (no processes): list scheduling of segments onto workers, the Lambda end-to-end time,
EC2 types with more vCPUs than this machine, and burstable CPU credits.

Every input time here is a measurement from this machine; every constant an assumption that is stored
with the result (`LambdaAssumptions.to_dict`).
"""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field
from typing import Any

from splitstitch.benchmark.catalog import Burst


@dataclass(frozen=True)
class Item:
    """One unit of work for one worker (a Lambda invocation or a local encoder)."""

    name: str
    seconds: float  # compute time at the modeled CPU share
    in_bytes: int = 0
    out_bytes: int = 0


@dataclass(frozen=True)
class Slot:
    name: str
    worker: int
    start: float
    end: float
    cold_s: float = 0.0
    transfer_s: float = 0.0
    compute_s: float = 0.0
    stage: str = "encode"

    @property
    def billed_s(self) -> float:
        return self.cold_s + self.transfer_s + self.compute_s


def transfer_seconds(nbytes: float, mb_per_s: float | None) -> float:
    return 0.0 if not mb_per_s else nbytes / (mb_per_s * 1e6)


def schedule(
    items: list[Item],
    workers: int,
    *,
    start: float = 0.0,
    cold_start_s: float = 0.0,
    mb_per_s: float | None = None,
    overhead_s: float = 0.0,
) -> list[Slot]:
    """Greedy list scheduling in the given order (callers pass longest first, like the local pool): each item
    goes to the worker that frees first; a worker's first item pays the cold start."""
    if workers < 1:
        raise ValueError("workers must be >= 1")
    free = [(start, w) for w in range(min(workers, max(len(items), 1)))]
    heapq.heapify(free)
    used: set[int] = set()
    slots = []
    for item in items:
        at, worker = heapq.heappop(free)
        cold = 0.0 if worker in used else cold_start_s
        used.add(worker)
        moved = transfer_seconds(item.in_bytes + item.out_bytes, mb_per_s)
        end = at + overhead_s + cold + moved + item.seconds
        slots.append(Slot(item.name, worker, at + overhead_s, end, cold, moved, item.seconds))
        heapq.heappush(free, (end, worker))
    return slots


def makespan(slots: list[Slot], start: float = 0.0) -> float:
    return max((s.end for s in slots), default=start) - start


@dataclass(frozen=True)
class SegmentMeasure:
    """One segment encoded here at one thread on one pinned CPU."""

    index: int
    wall_s: float
    cpu_s: float
    in_bytes: int
    out_bytes: int


@dataclass(frozen=True)
class StageTimes:
    """Non-encode stages measured in the local run (seconds) and the sizes that travel through S3."""

    probe_plan_s: float
    split_s: float
    audio_s: float
    stitch_s: float
    verify_s: float
    source_bytes: int
    output_bytes: int
    audio_bytes: int = 0
    has_audio: bool = True


def seconds_at_share(m: SegmentMeasure, vcpus: float | None, thread_efficiency: float) -> float:
    """Encode time at a CPU share (None: as measured here). One vCPU takes the measured CPU seconds (ffmpeg's
    decode and filter threads share that vCPU); below one the time stretches by the share (throttling);
    above one the encoder runs ceil(vcpus) threads and each extra vCPU adds `thread_efficiency` of one
    (measured from 1 -> 2 threads here, assumed to hold up to 6)."""
    if vcpus is None:
        return m.wall_s
    one = max(m.wall_s, m.cpu_s)
    if vcpus <= 1.0:
        return one / vcpus
    return one / (1.0 + thread_efficiency * (vcpus - 1.0))


@dataclass(frozen=True)
class LambdaAssumptions:
    memory_mb: int
    vcpus: float | None  # None: segment times as measured on this machine (calibration)
    thread_efficiency: float  # measured here (2 threads vs 1 on one segment), clamped to 0..1
    concurrency_cap: int = 200  # template.yaml MaxConcurrency default (Distributed Map: up to 10,000)
    cold_start_s: float = 1.5  # assumed: Python runtime + ffmpeg layer init, once per concurrent Lambda
    s3_mb_per_s: float | None = 90.0  # assumed: one S3 stream from one Lambda
    sfn_state_s: float = 0.1  # assumed: Step Functions latency per state (and per Map iteration)
    per_core_speed: float = 1.0  # assumed: a Lambda vCPU is as fast as one core of this machine
    source_already_in_s3: bool = True  # client upload and download not included
    notes: str = "stage times (probe, split, audio, stitch, verify) measured here are used unchanged"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Timeline:
    total_s: float
    slots: list[Slot] = field(default_factory=list)
    transitions: int = 0
    s3_puts: int = 0
    s3_gets: int = 0

    @property
    def invocations(self) -> list[Slot]:
        return [s for s in self.slots if s.stage != "sfn"]


def lambda_timeline(stages: StageTimes, segments: list[SegmentMeasure], a: LambdaAssumptions) -> Timeline:
    """Prepare (probe+plan) -> split -> Map over segments (+ the audio job) -> stitch+verify, each a Lambda."""
    tp, cold, sfn = a.s3_mb_per_s, a.cold_start_s, a.sfn_state_s
    slots: list[Slot] = []
    t = 0.0

    def single(name: str, compute: float, moved_bytes: float) -> None:
        nonlocal t
        moved = transfer_seconds(moved_bytes, tp)
        slots.append(Slot(name, 0, t + sfn, t + sfn + cold + moved + compute, cold, moved, compute, name))
        t = slots[-1].end

    single("prepare", stages.probe_plan_s, 0)
    copy_split = stages.split_s > 0
    if copy_split:
        single("split", stages.split_s, 2 * stages.source_bytes)
    items = [Item("audio", stages.audio_s, 0, stages.audio_bytes)] if stages.has_audio else []
    ordered = sorted(segments, key=lambda m: -max(m.wall_s, m.cpu_s))
    items += [
        Item(f"seg {m.index}", seconds_at_share(m, a.vcpus, a.thread_efficiency) / a.per_core_speed,
             m.in_bytes, m.out_bytes)
        for m in ordered
    ]  # fmt: skip
    mapped = schedule(items, a.concurrency_cap, start=t + sfn, cold_start_s=cold, mb_per_s=tp, overhead_s=sfn)
    slots += mapped
    t = max(s.end for s in mapped) if mapped else t
    moved = sum(m.out_bytes for m in segments) + stages.audio_bytes + stages.output_bytes
    single("stitch", stages.stitch_s + stages.verify_s, moved)
    n = len(items)
    return Timeline(
        total_s=t,
        slots=slots,
        transitions=5 + 2 * n + (1 if copy_split else 0),
        s3_puts=1 + (len(segments) if copy_split else 0) + n + 1,
        s3_gets=(1 if copy_split else 0) + n + n,
    )


def calibration_assumptions(thread_efficiency: float, workers: int = 2, segments: int = 2) -> LambdaAssumptions:
    """The Lambda model shrunk to this machine: `workers` encoders with the segment times measured at that
    concurrency, no network, no cold starts, no Step Functions. Like the local pipeline, fewer segments than
    workers give each encoder `workers // segments` cores (through the measured thread efficiency)."""
    share = workers // max(segments, 1)
    return LambdaAssumptions(
        memory_mb=1769, vcpus=float(share) if share > 1 else None, thread_efficiency=thread_efficiency, concurrency_cap=workers, cold_start_s=0.0,
        s3_mb_per_s=None, sfn_state_s=0.0, notes="calibration: this machine's concurrency, no overheads",
    )  # fmt: skip


def many_core_seconds(stages: StageTimes, segments: list[SegmentMeasure], vcpus: int, efficiency: float) -> float:
    """An EC2 type with more vCPUs than this machine: the local pipeline with one single-thread encoder per
    vCPU, each segment `1/efficiency` slower than measured here (shared caches, memory bandwidth, clocks)."""
    items = [Item("audio", stages.audio_s)] if stages.has_audio else []
    one_vcpu = sorted((max(m.wall_s, m.cpu_s) for m in segments), reverse=True)
    items += [Item(str(i), t / efficiency) for i, t in enumerate(one_vcpu)]
    encode = makespan(schedule(items, vcpus))
    return stages.probe_plan_s + stages.split_s + encode + stages.stitch_s + stages.verify_s


@dataclass(frozen=True)
class BurstResult:
    seconds: float
    credits_used: float
    credits_earned: float
    throttled_after_s: float | None
    surplus_credits: float  # unlimited mode: credits beyond balance + earnings (billed)


def burst_seconds(full_speed_s: float, vcpus: int, busy_vcpus: float, burst: Burst) -> BurstResult:
    """Standard mode (t2): full speed while the balance lasts, then each vCPU gets its baseline share.
    Unlimited mode (t3 default, initial == 0): never throttled, surplus credits are billed."""
    busy = min(max(busy_vcpus, 0.0), float(vcpus))
    earn_per_s = burst.earn_per_hour / 3600
    drain_per_s = busy / 60 - earn_per_s
    if burst.initial == 0:
        used = busy * full_speed_s / 60
        return BurstResult(full_speed_s, used, earn_per_s * full_speed_s, None, max(0.0, drain_per_s * full_speed_s))
    if drain_per_s <= 0 or full_speed_s <= burst.initial / drain_per_s:
        return BurstResult(full_speed_s, busy * full_speed_s / 60, earn_per_s * full_speed_s, None, 0.0)
    exhausted = burst.initial / drain_per_s
    slowdown = max(1.0, busy / (burst.baseline_per_vcpu * vcpus))
    seconds = exhausted + (full_speed_s - exhausted) * slowdown
    used = burst.initial + earn_per_s * seconds
    return BurstResult(seconds, used, earn_per_s * seconds, exhausted, 0.0)
