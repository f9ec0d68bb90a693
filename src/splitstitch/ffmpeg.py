"""The one module that starts processes: ffmpeg and ffprobe, never through a shell.

Every call gets `-nostdin`, a timeout, and on failure a `ToolError` that keeps argv, the exit status
and the tail of stderr. Builders elsewhere return argument lists (without the program); this module
prepends the resolved binary and the global flags.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from typing import Any

from splitstitch.binaries import binaries
from splitstitch.errors import ToolError

log = logging.getLogger(__name__)

STDERR_TAIL_CHARS = 4000
DEFAULT_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    stdout: str
    stderr: str


def ffmpeg_argv(args: list[str], loglevel: str = "error", program: str | None = None) -> list[str]:
    """Full ffmpeg argv: global flags first, so no option trails the output name."""
    return [program or binaries().ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", loglevel, "-y", *args]


def ffprobe_argv(args: list[str], loglevel: str = "error") -> list[str]:
    return [binaries().ffprobe, "-hide_banner", "-loglevel", loglevel, *args]


def _run(argv: list[str], timeout: float) -> Completed:
    log.debug("run %s", argv)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"").decode("utf-8", "replace")[-STDERR_TAIL_CHARS:]
        raise ToolError(argv, None, tail, timed_out=True) from None
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise ToolError(argv, proc.returncode, stderr[-STDERR_TAIL_CHARS:])
    return Completed(argv, proc.stdout.decode("utf-8", "replace"), stderr)


def run_ffmpeg(
    args: list[str], *, timeout: float = DEFAULT_TIMEOUT_S, loglevel: str = "error", program: str | None = None
) -> Completed:
    """Run ffmpeg (`program` overrides the binary, e.g. a build that can decode AV1)."""
    return _run(ffmpeg_argv(args, loglevel, program), timeout)


def run_ffprobe(args: list[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> Completed:
    return _run(ffprobe_argv(args), timeout)


def ffprobe_json(args: list[str], *, timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    out = run_ffprobe([*args, "-of", "json"], timeout=timeout).stdout
    try:
        return json.loads(out or "{}")
    except json.JSONDecodeError as exc:
        raise ToolError(ffprobe_argv(args), 0, f"unreadable ffprobe JSON: {exc}") from None


def compact_records(text: str) -> list[dict[str, str]]:
    """ffprobe `-of compact=p=0` output: one `key=value|key=value` record per line, keys in any order."""
    return [dict(part.split("=", 1) for part in line.strip().split("|") if "=" in part) for line in text.splitlines()]
