"""CPU quotas for the bench: cgroup v1 `cpu` (cfs quota) and `cpuacct` (usage), one group per measurement.

The calling *thread* is moved into the group (cgroup v1 takes thread ids in `tasks`); the ffmpeg/ffprobe
processes it starts, and the threads it creates (the local executor's pool), inherit the group. As root on
these machines: `/sys/fs/cgroup/cpu/NAME/cpu.cfs_quota_us` (period 100,000 us: 100,000 = 1 vCPU). Where
that is not writable, `unavailable()` says why and the bench measures without quotas, saying so.

A burstable EC2 type is emulated by `CreditThrottle`: a thread that watches the group's CPU use and, once
the (scaled) credit balance is spent, lowers the quota to the instance's baseline.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CPU_ROOT = Path("/sys/fs/cgroup/cpu")
ACCT_ROOT = Path("/sys/fs/cgroup/cpuacct")
PERIOD_US = 100_000
_counter = itertools.count()


def unavailable() -> str | None:
    """None when quotas can be set here, else the reason (one line)."""
    for root, name in ((CPU_ROOT, "cpu.cfs_quota_us"), (ACCT_ROOT, "cpuacct.usage")):
        if not (root / name).exists():
            return f"no cgroup v1 {root.name} controller at {root}"
        if not os.access(root, os.W_OK):
            return f"{root} is not writable (needs root)"
    return None


@dataclass
class Group:
    cpu: Path | None
    acct: Path | None

    def usage_s(self) -> float:
        """CPU seconds used by the group's tasks (and their children) so far."""
        if self.acct is None:
            return _rusage_s()
        return int((self.acct / "cpuacct.usage").read_text()) / 1e9

    def set_vcpus(self, vcpus: float | None) -> None:
        if self.cpu is None:
            return
        quota = -1 if not vcpus else max(1000, round(vcpus * PERIOD_US))
        (self.cpu / "cpu.cfs_quota_us").write_text(str(quota))

    def throttled_s(self) -> float:
        if self.cpu is None:
            return 0.0
        stat = dict(line.split() for line in (self.cpu / "cpu.stat").read_text().splitlines() if line.strip())
        return int(stat.get("throttled_time", 0)) / 1e9


def _rusage_s() -> float:
    import resource

    kids, me = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    return kids.ru_utime + kids.ru_stime + me.ru_utime + me.ru_stime


def _move(tid: int, *roots: Path) -> None:
    for root in roots:
        (root / "tasks").write_text(str(tid))


@contextmanager
def quota(vcpus: float | None) -> Iterator[Group]:
    """Run the calling thread (and what it starts) at `vcpus` (None: no quota, usage still counted)."""
    if unavailable() is not None:
        yield Group(None, None)
        return
    name = f"splitstitch-bench-{os.getpid()}-{next(_counter)}"
    cpu, acct = CPU_ROOT / name, ACCT_ROOT / name
    cpu.mkdir()
    acct.mkdir()
    group = Group(cpu, acct)
    tid = threading.get_native_id()
    try:
        group.set_vcpus(vcpus)
        _move(tid, cpu, acct)
        yield group
    finally:
        _move(tid, CPU_ROOT, ACCT_ROOT)
        for folder in (cpu, acct):
            for _ in range(50):  # threads started inside may take a moment to end
                try:
                    folder.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


@dataclass(frozen=True)
class CreditPlan:
    """A burstable instance's credits over a job compressed by `scale` (scaled source / real source): the
    balance is scaled, earnings per second are not, so the throttle falls at the same point of the job."""

    vcpus: int
    baseline_per_vcpu: float
    earn_per_hour: float
    credits: float  # at the start, unscaled (launch credits, or a full balance)
    scale: float

    @property
    def balance_cpu_s(self) -> float:
        return self.credits * 60.0 * self.scale

    def spent(self, used_cpu_s: float, elapsed_s: float) -> bool:
        """Earnings accrue over the time the instance itself would have taken: at most `used / vcpus` (all
        its vCPUs busy). Counting our wall time instead would credit other work on this machine's CPUs."""
        instance_s = min(elapsed_s, used_cpu_s / self.vcpus)
        earned = self.earn_per_hour / 3600 * 60.0 * instance_s  # credits are vCPU-minutes
        return used_cpu_s >= self.balance_cpu_s + earned


class CreditThrottle:
    """Watches `group`; once `plan` is spent, sets the quota to the baseline and records when."""

    def __init__(self, group: Group, plan: CreditPlan, poll_s: float = 0.05) -> None:
        self.group, self.plan, self.poll_s = group, plan, poll_s
        self.throttled_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="credit-throttle", daemon=True)
        self._start = time.perf_counter()
        self._used0 = group.usage_s()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            elapsed = time.perf_counter() - self._start
            if self.plan.spent(self.group.usage_s() - self._used0, elapsed):
                self.group.set_vcpus(self.plan.vcpus * self.plan.baseline_per_vcpu)
                self.throttled_at = elapsed
                return

    def __enter__(self) -> CreditThrottle:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
