"""Lambda CPU from measurements, not assumptions: stage timings taken here under cgroup CPU quotas equal to a
function's vCPU share are fitted on some configurations and checked on others. Pure: no processes.

The model of one stage's compute:

    wall(work, vcpus, threads) = a / min(vcpus, 1) + b * work / min(vcpus, 1 + e * (threads - 1), parallel)

- `a + b * work` is the time at exactly 1 vCPU and 1 thread: the CPU seconds (cgroup cpuacct) measured at
  a 1-vCPU quota, fitted by least squares (`work` is segment seconds, source seconds, packets or output
  bytes). CPU seconds, not wall seconds: this machine is shared, and other work's share of its cores shows
  in the wall time but not in the CPU a stage needs; one thread on a vCPU of its own takes its CPU seconds;
- `e` is what each thread beyond the first adds: the CPUs kept busy (CPU / wall seconds) at 2 threads on 2
  vCPUs, minus one (x264's frame threads on a short segment do not double its speed; other work on this
  machine lowers it too, so it errs slow); beyond 2 threads extrapolated linearly, and said so; `r2`, the
  CPU seconds at 2 threads over those at 1, is reported beside it;
- `parallel` is how many vCPUs one invocation can keep busy per thread (1 for ffmpeg at one thread, 16 for
  the prepare function's 16 scanners, 1 for the finish stage's Python assembly).

Validation configurations (0.5 vCPU, 1.7 vCPU at 2 threads, whole jobs through the local executor) are
predicted with the fitted values only; the error per stage is reported.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from typing import Any

FIT, VALIDATE = "fit", "validate"


@dataclass(frozen=True)
class Sample:
    stage: str  # encode, audio, scan, finish, job
    group: str  # content (talk row) for encode; "" for stages whose cost does not depend on content
    work: float
    vcpus: float  # the quota (0 = no quota: the whole machine)
    threads: int
    wall_s: float
    cpu_s: float
    role: str  # FIT or VALIDATE
    note: str = ""
    parallel: float = 1.0  # processes working at once (the prepare scan: 1 here, 16 in Lambda)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Line:
    a: float
    b: float
    points: int

    def at(self, work: float) -> float:
        return self.a + self.b * work


def fit_line(points: list[tuple[float, float]]) -> Line:
    """Least squares wall = a + b * work, with a >= 0 (refitted through the origin otherwise)."""
    if not points:
        raise ValueError("no points to fit")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if len(set(xs)) > 1:
        mx, my = statistics.fmean(xs), statistics.fmean(ys)
        b = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x in xs)
        a = my - b * mx
        if a >= 0 and b > 0:
            return Line(a, b, len(points))
    b = sum(x * y for x, y in points) / sum(x * x for x in xs) if any(xs) else 0.0
    return Line(0.0, b, len(points)) if any(xs) else Line(statistics.fmean(ys), 0.0, len(points))


@dataclass(frozen=True)
class StageFit:
    line: Line  # wall seconds at 1 vCPU, 1 thread
    thread_cost: float = 1.0  # r2: CPU at 2 threads / CPU at 1 thread, same work (reported)
    parallel: float = 1.0
    efficiency: float = 1.0  # e: speed each thread beyond the first adds, fitted at 2 threads on 2 vCPUs

    def speedup(self, vcpus: float, threads: int, parallel: float) -> float:
        return min(vcpus, 1.0 + self.efficiency * (max(threads, 1) - 1) if threads > 1 else parallel)

    def wall(self, work: float, vcpus: float, threads: int = 1, parallel: float | None = None) -> float:
        """`a` (process start, probing, the decode check's start) runs on one vCPU at most; the part that
        grows with the work spreads over the threads (or parallel processes) the share allows."""
        usable = self.speedup(vcpus, threads, self.parallel if parallel is None else parallel)
        return self.line.a / max(min(vcpus, 1.0), 1e-6) + self.line.b * work / max(usable, 1e-6)

    def to_dict(self) -> dict[str, Any]:
        return {"a_s": round(self.line.a, 4), "b_s_per_unit": self.line.b, "points": self.line.points,
                "thread_cost_2": round(self.thread_cost, 4), "efficiency": round(self.efficiency, 4),
                "parallel": self.parallel}  # fmt: skip


def fit_stage(samples: list[Sample], stage: str, group: str = "", parallel: float = 1.0) -> StageFit | None:
    """Fit one stage from its FIT samples at 1 vCPU (line) and at 2 threads (thread cost)."""
    mine = [s for s in samples if s.stage == stage and s.group == group and s.role == FIT]
    one = [s for s in mine if s.vcpus == 1.0 and s.threads == 1]
    if not one:
        return None
    line = fit_line([(s.work, s.cpu_s) for s in one])
    two = [s for s in mine if s.threads == 2 and s.work]
    cost, efficiency = 1.0, 1.0
    if two:
        per_work_1 = statistics.median(s.cpu_s / s.work for s in one if s.work)
        per_work_2 = statistics.median(s.cpu_s / s.work for s in two)
        cost = max(1.0, per_work_2 / per_work_1) if per_work_1 else 1.0
        efficiency = min(1.0, max(0.0, statistics.median(s.cpu_s / s.wall_s for s in two) - 1.0))
    return StageFit(line, cost, parallel, efficiency)


@dataclass(frozen=True)
class Check:
    stage: str
    config: str
    predicted_s: float
    measured_s: float
    cpu_s: float

    @property
    def error(self) -> float:
        return (self.predicted_s - self.measured_s) / self.measured_s if self.measured_s else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "config": self.config, "predicted_s": round(self.predicted_s, 3),
                "measured_s": round(self.measured_s, 3), "cpu_s": round(self.cpu_s, 3), "error": round(self.error, 4)}  # fmt: skip


def config_name(s: Sample) -> str:
    share = "no quota" if not s.vcpus else f"{s.vcpus:g} vCPU"
    return f"{share}, {s.threads} thread{'s' if s.threads > 1 else ''}" + (f", {s.note}" if s.note else "")


def validate(samples: list[Sample], fits: dict[tuple[str, str], StageFit], machine_cpus: int) -> list[Check]:
    """Every VALIDATE sample of a fitted stage, predicted from the fit alone."""
    checks = []
    for s in samples:
        fit = fits.get((s.stage, s.group))
        if s.role != VALIDATE or fit is None:
            continue
        vcpus = s.vcpus or float(machine_cpus)
        checks.append(Check(f"{s.stage}{':' + s.group if s.group else ''}", config_name(s),
                            fit.wall(s.work, vcpus, s.threads, s.parallel), s.wall_s, s.cpu_s))  # fmt: skip
    return checks


def summarize(checks: list[Check]) -> list[dict[str, Any]]:
    """Median and range of the error per (stage kind, configuration)."""
    groups: dict[tuple[str, str], list[Check]] = {}
    for c in checks:
        groups.setdefault((c.stage.split(":")[0], c.config), []).append(c)
    out = []
    for (stage, config), cs in sorted(groups.items()):
        errors = [c.error for c in cs]
        out.append({"stage": stage, "config": config, "n": len(cs), "median_error": round(statistics.median(errors), 4),
                    "min_error": round(min(errors), 4), "max_error": round(max(errors), 4)})  # fmt: skip
    return out
