"""The one module that starts processes: ffmpeg and ffprobe, never through a shell.

Every call gets `-nostdin`, a timeout, and on failure a `ToolError` that keeps argv, the exit status
and the tail of stderr. Builders elsewhere return argument lists (without the program); this module
prepends the resolved binary and the global flags.

Every child is registered while it runs: `stop_children(signum)` (called by the CLI's signal handler) kills
them all and refuses new ones with `Interrupted`, so SIGTERM or SIGHUP leaves no orphaned encoder.

`run_ffmpeg(..., on_progress=f)` also asks ffmpeg for its machine-readable progress (`-progress pipe:1`,
key=value blocks every `PROGRESS_PERIOD_S`) and calls `f(media seconds written)` as each block arrives;
stdout then carries only that stream, so such a run must not write its output to stdout.
"""

from __future__ import annotations

import io
import json
import logging
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from splitstitch.binaries import binaries
from splitstitch.errors import Interrupted, ToolError, redact_urls

log = logging.getLogger(__name__)

STDERR_TAIL_CHARS = 4000
DEFAULT_TIMEOUT_S = 3600.0
PROGRESS_PERIOD_S = 0.5
OnProgress = Callable[[float], None]  # media seconds written so far by one ffmpeg process


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    stdout: str
    stderr: str


def ffmpeg_argv(
    args: list[str], loglevel: str = "error", program: str | None = None, *, progress: bool = False
) -> list[str]:
    """Full ffmpeg argv: global flags first, so no option trails the output name.

    `progress` adds `-progress pipe:1 -stats_period P`: key=value blocks on stdout (`-nostats` only
    silences the human-readable stats line on stderr, not these)."""
    report = ["-progress", "pipe:1", "-stats_period", f"{PROGRESS_PERIOD_S:g}"] if progress else []
    return [program or binaries().ffmpeg, "-nostdin", "-hide_banner", "-nostats", *report, "-loglevel", loglevel,
            "-y", *args]  # fmt: skip


def ffprobe_argv(args: list[str], loglevel: str = "error") -> list[str]:
    return [binaries().ffprobe, "-hide_banner", "-loglevel", loglevel, *args]


class _Children:
    """The live child processes. Re-entrant lock: a signal handler runs on the main thread, which may be
    inside `start` at that moment."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.live: set[subprocess.Popen[bytes]] = set()
        self.stopped_by: int | None = None

    def start(self, argv: list[str], stdout: int) -> subprocess.Popen[bytes]:
        with self.lock:
            if self.stopped_by is not None:
                raise Interrupted(self.stopped_by)
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
            self.live.add(proc)
            return proc

    def done(self, proc: subprocess.Popen[bytes]) -> None:
        """Forget `proc` (killing it if it still runs: its caller was interrupted)."""
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with self.lock:
            self.live.discard(proc)

    def check(self) -> None:
        """After a child ended: if `stop` killed it, the job is over, not a tool failure to retry."""
        if self.stopped_by is not None:
            raise Interrupted(self.stopped_by)

    def stop(self, signum: int) -> None:
        with self.lock:
            self.stopped_by = signum
            for proc in list(self.live):
                if proc.poll() is None:
                    proc.kill()

    def reset(self) -> None:
        with self.lock:
            self.stopped_by = None


_children = _Children()


def stop_children(signum: int) -> None:
    """Kill every running ffmpeg/ffprobe and refuse to start more (`Interrupted(signum)`)."""
    _children.stop(signum)


def allow_children() -> None:
    """Undo `stop_children` (for a process that goes on after an interrupted job, e.g. tests)."""
    _children.reset()


def _run(argv: list[str], timeout: float) -> Completed:
    log.debug("run %s", [redact_urls(arg) for arg in argv])
    proc = _children.start(argv, subprocess.PIPE)
    timed_out = False
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            timed_out = True
    finally:
        _children.done(proc)
    _children.check()
    stderr = err.decode("utf-8", "replace")
    if timed_out or proc.returncode != 0:
        raise ToolError(argv, None if timed_out else proc.returncode, stderr[-STDERR_TAIL_CHARS:], timed_out=timed_out)
    return Completed(argv, out.decode("utf-8", "replace"), stderr)


@dataclass(frozen=True)
class ProgressBlock:
    """One block of ffmpeg's `-progress` output."""

    seconds: float | None  # media seconds written (out_time); None while ffmpeg reports N/A
    ended: bool  # `progress=end`: the last block


def _out_seconds(fields: dict[str, str]) -> float | None:
    """`out_time_us`, else `out_time` (HH:MM:SS.micro), else `out_time_ms`, which despite its name is in
    microseconds too (an old ffmpeg quirk kept for compatibility). Negative times (before the first
    packet) count as 0."""
    try:
        if "out_time_us" in fields:
            return max(int(fields["out_time_us"]) / 1e6, 0.0)
        if "out_time" in fields:
            sign, text = (-1, fields["out_time"][1:]) if fields["out_time"].startswith("-") else (1, fields["out_time"])
            hours, minutes, seconds = text.split(":")
            return max(sign * (int(hours) * 3600 + int(minutes) * 60 + float(seconds)), 0.0)
        if "out_time_ms" in fields:
            return max(int(fields["out_time_ms"]) / 1e6, 0.0)
    except ValueError:  # N/A
        return None
    return None


def parse_progress(lines: Iterable[str]) -> Iterator[ProgressBlock]:
    """ffmpeg's `-progress` stream: `key=value` lines, each block closed by `progress=continue|end`.

    Lazy, so it can read a pipe line by line; lines without `=` and an unclosed last block are ignored."""
    fields: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.strip().partition("=")
        if not sep:
            continue
        if key != "progress":
            fields[key.strip()] = value.strip()
            continue
        yield ProgressBlock(_out_seconds(fields), value.strip() == "end")
        fields = {}


def _read_all(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())


def _run_with_progress(argv: list[str], timeout: float, on_progress: OnProgress) -> Completed:
    """Like `_run`, reading stdout as it comes: stderr is drained by a thread (kept for `ToolError`) and a
    timer kills ffmpeg at the deadline. If `on_progress` raises, ffmpeg is killed and the error propagates."""
    log.debug("run %s", [redact_urls(arg) for arg in argv])
    proc = _children.start(argv, subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stderr_chunks: list[bytes] = []
    drain = threading.Thread(target=_read_all, args=(proc.stderr, stderr_chunks), daemon=True)
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout, expire)
    lines = io.TextIOWrapper(proc.stdout, encoding="utf-8", errors="replace")
    drain.start()
    timer.start()
    try:
        for block in parse_progress(lines):
            if block.seconds is not None:
                on_progress(block.seconds)
        returncode = proc.wait()
    finally:
        timer.cancel()
        _children.done(proc)
        drain.join()
        lines.close()  # and proc.stdout under it
        proc.stderr.close()
    _children.check()
    stderr = b"".join(stderr_chunks).decode("utf-8", "replace")
    if returncode != 0 and timed_out.is_set():
        raise ToolError(argv, None, stderr[-STDERR_TAIL_CHARS:], timed_out=True)
    if returncode != 0:
        raise ToolError(argv, returncode, stderr[-STDERR_TAIL_CHARS:])
    return Completed(argv, "", stderr)  # stdout carried the progress stream


def run_ffmpeg(
    args: list[str],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    loglevel: str = "error",
    program: str | None = None,
    on_progress: OnProgress | None = None,
) -> Completed:
    """Run ffmpeg (`program` overrides the binary, e.g. a build that can decode AV1).

    With `on_progress`, it is called with the media seconds written so far, about every
    `PROGRESS_PERIOD_S` and once at the end (see `parse_progress`); `Completed.stdout` is then empty."""
    if on_progress is None:
        return _run(ffmpeg_argv(args, loglevel, program), timeout)
    return _run_with_progress(ffmpeg_argv(args, loglevel, program, progress=True), timeout, on_progress)


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


def ffmpeg_filters(timeout: float = 60.0) -> frozenset[str]:
    """The names of the filters the ffmpeg in use was built with (`ffmpeg -filters`)."""
    out = _run(ffmpeg_argv(["-filters"]), timeout).stdout
    return frozenset(line.split()[1] for line in out.splitlines() if len(line.split()) > 2 and line[:1] == " ")
