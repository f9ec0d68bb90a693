"""What a `cloud local` run that was killed (SIGKILL, OOM, a lost terminal) leaves behind, found and removed when
the next one starts: its functions' worker processes, their CPU cgroups and their /tmp tmpfs mounts.

Both carry the owning run's pid in their names (`splitstitch-PID-...` under the cgroup v1 CPU controller,
`splitstitch-local-PID-...` under the temp folder), so a sweep touches only runs whose owner is gone; a run
still alive (another test worker, another terminal) is left alone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_PREFIX = "splitstitch-"
TMP_PREFIX = "splitstitch-local-"
_OWNER = re.compile(r"^splitstitch-(?:local-)?(\d+)-")


def owner_pid(name: str) -> int | None:
    found = _OWNER.match(name)
    return int(found.group(1)) if found else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale(name: str) -> bool:
    pid = owner_pid(name)
    return pid is not None and pid != os.getpid() and not alive(pid)


@dataclass(frozen=True)
class Swept:
    processes: int
    cgroups: int
    mounts: int
    folders: int


def _kill_members(group: Path) -> int:
    killed = 0
    try:
        pids = [int(p) for p in (group / "cgroup.procs").read_text().split()]
    except OSError:
        return 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except OSError:
            pass
    return killed


def sweep(cgroup_root: Path, tmp_root: Path | None = None) -> Swept:
    """Remove the leftovers of every dead run: kill the processes still in its cgroups (orphaned workers and
    their ffmpeg), remove the groups, unmount its tmpfs mounts and delete its temp folders."""
    tmp_root = tmp_root or Path(tempfile.gettempdir())
    processes = cgroups = mounts = folders = 0
    groups = [g for g in cgroup_root.glob(f"{CGROUP_PREFIX}*") if g.is_dir() and stale(g.name)]
    for group in groups:
        processes += _kill_members(group)
    for group in groups:
        for _ in range(50):  # a killed process leaves its group a moment later
            try:
                group.rmdir()
                cgroups += 1
                break
            except OSError:
                _kill_members(group)
                time.sleep(0.02)
    for folder in tmp_root.glob(f"{TMP_PREFIX}*"):
        if not folder.is_dir() or not stale(folder.name):
            continue
        for mount in mounts_under(folder):
            if subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True).returncode == 0:
                mounts += 1
        shutil.rmtree(folder, ignore_errors=True)
        folders += 1
    found = Swept(processes, cgroups, mounts, folders)
    if processes or cgroups or mounts or folders:
        log.warning("removed what a killed run left: %s", found)
    return found


def mounts_under(folder: Path) -> list[Path]:
    """Mount points at or below `folder` (from /proc/self/mounts; octal escapes decoded), deepest first."""
    try:
        lines = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(folder.resolve())
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[1])
        if point == prefix or point.startswith(prefix + "/"):
            points.append(Path(point))
    return sorted(points, key=lambda p: len(p.parts), reverse=True)
