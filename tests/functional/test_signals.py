"""A stop signal ends a job the way Ctrl-C does: every ffmpeg child stopped, temporary files removed, nothing at
OUT, exit 128 + the signal. `timeout`, systemd and container runtimes send SIGTERM to our process only (not its
process group, as a terminal's Ctrl-C does), so the children must be stopped by us, not by the signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def session_members(sid: int) -> list[int]:
    """Processes still in session `sid` (the job and every child it started, orphaned or not)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields after the name: state ppid pgrp session
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "mode"),
    [(signal.SIGTERM, "file"), (signal.SIGHUP, "file"), (signal.SIGINT, "file"), (signal.SIGTERM, "cmaf")],
)
def test_stop_signal_to_the_process_alone(sig: signal.Signals, mode: str, samples, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / ("o.mp4" if mode == "file" else "package")
    work.mkdir()
    streaming = [] if mode == "file" else ["--format", mode, "--ladder", "360,240"]
    argv = [
        sys.executable,
        "-m",
        "splitstitch.cli",
        "transcode",
        str(samples("long_gop")),
        "-o",
        str(out),
        "--work-dir",
        str(work),
        "--preset",
        "veryslow",
        "--segment-seconds",
        "1",
        "--quiet",
        *streaming,
    ]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(work.glob("*/encoded_*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be stopped"
    assert len(session_members(proc.pid)) > 1, "no encoder was running"
    os.kill(proc.pid, sig)  # the process alone, as `timeout` and `kill` do
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, stderr
    assert "Traceback" not in stderr
    what = "interrupted" if sig == signal.SIGINT else f"stopped by {sig.name}"
    assert stderr.splitlines()[-1] == f"error: {what}; temporary files removed"
    time.sleep(0.2)
    assert session_members(proc.pid) == [], "ffmpeg children outlived the job"
    assert list(work.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name != "work"] == []
