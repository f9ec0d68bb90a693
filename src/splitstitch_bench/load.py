"""How busy this machine is (other work shares the CPUs): reported beside every measurement."""

from __future__ import annotations

import time
from pathlib import Path


def busy_fraction(interval_s: float = 1.0) -> float:
    """Share of all CPUs busy (anyone's work) over `interval_s`, from /proc/stat; 0.0 where unavailable."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)

    try:
        total0, idle0 = sample()
        time.sleep(interval_s)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)
