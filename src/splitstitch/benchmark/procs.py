"""CPU affinity and CPU accounting for the benchmark, in one place.

Processes are still started only by `splitstitch.ffmpeg`; on Linux affinity belongs to a thread and is
inherited by the threads and processes it starts, so pinning the calling thread pins the ffmpeg runs (and
the pipeline's worker threads) that follow. Benchmark-only.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


@contextmanager
def pinned(cpus: set[int]) -> Iterator[None]:
    """Restrict the calling thread (and the threads and processes it starts meanwhile) to `cpus`."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def busy_fraction(interval_s: float = 1.0) -> float:
    """Share of all CPUs busy (anyone's work) over `interval_s`, from /proc/stat; 0.0 where unavailable."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(interval_s)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_until_quiet(limit_s: float, threshold: float = 0.15) -> float:
    """Wait up to `limit_s` for the CPUs to be mostly idle; returns the last busy fraction seen."""
    deadline = time.monotonic() + limit_s
    busy = busy_fraction()
    while busy > threshold and time.monotonic() < deadline:
        busy = busy_fraction(2.0)
    return busy
