"""Narrow, one-line exceptions. Their names are what Step Functions `Catch` and the CLI match on."""

from __future__ import annotations

import re
from typing import Any

_SIGNED_QUERY = re.compile(r"(https?://[^\s?'\"]+)\?[^\s'\"]*")


def redact_urls(text: str) -> str:
    """Every http(s) URL's query string removed: a presigned URL's signature (and its credential) is a bearer
    token for the object, and must appear in no log, message or report."""
    return _SIGNED_QUERY.sub(r"\1?<query redacted>", text)


class SplitstitchError(Exception):
    """Base class: `str(error)` is always one line, fit for `error: <file>: <what>`."""

    exit_code = 1


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) ends the job: a KeyboardInterrupt, so every `finally` cleans up, and
    no retry loop (which catches `ToolError`) starts the work again. Exit status 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


INTERNAL_EXIT_CODE = 4  # any other exception: a bug in splitstitch, reported as one line (the CLI, the README)


def internal_error_line(exc: BaseException) -> str:
    """What the CLI prints for an exception that is not one of ours: a bug, named by its type and message."""
    message = " ".join(str(exc).split()) or "no message"  # folded onto one line
    return f"internal error ({type(exc).__name__}): {message}; a bug in splitstitch, run with -v for where"


class InputError(SplitstitchError):
    """The source cannot or must not be transcoded (missing, not a video, a playlist, too large...)."""

    exit_code = 2

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason


class UsageError(SplitstitchError):
    """Options that do not fit together (a codec the output container cannot hold...)."""

    exit_code = 2


class VerificationError(SplitstitchError):
    """The output does not match the source; the output is not moved into place."""

    exit_code = 3

    def __init__(self, failed: list[str], report: dict[str, Any] | None = None) -> None:
        super().__init__("verification failed: " + "; ".join(failed))
        self.failed = failed
        self.report = report


class ToolError(SplitstitchError):
    """ffmpeg or ffprobe failed: carries argv, exit status and the tail of stderr."""

    def __init__(self, argv: list[str], returncode: int | None, stderr_tail: str, timed_out: bool = False) -> None:
        program = argv[0].rsplit("/", 1)[-1] if argv else "?"
        status = "timed out" if timed_out else f"exit {returncode}"
        stderr_tail = redact_urls(stderr_tail)
        last = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else "no message"
        super().__init__(f"{program} {status}: {last}")
        self.argv = [redact_urls(arg) for arg in argv]
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timed_out


class SegmentMismatchError(SplitstitchError):
    """An encoded segment does not hold exactly the frames the plan gave it."""
