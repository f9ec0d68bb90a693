"""Whether an upload event starts an attempt, before anything is read; and whether this ffmpeg can decode the
source's video at all (a deployment whose ffmpeg lacks a decoder, say AV1 without dav1d, refuses at prepare).

S3 may deliver an event more than once, Lambda retries a failed asynchronous invocation, and users upload the
same file again after a failure. The job is the object (key + version/ETag); the event's `sequencer` tells a
repeated delivery of one PUT from a new PUT of the same bytes:
- no status yet: attempt 1;
- starting, same event: the retry of a prepare that failed after writing its status -> carry on (same attempt);
- failed, a new PUT: attempt n + 1 (work/<job>/ is cleared first);
- starting for longer than a prepare can run, a new PUT: attempt n + 1 (that prepare is gone);
- anything else (running, succeeded, failed and the same event): a duplicate, nothing happens.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal

from splitstitch.errors import InputError, ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import MediaInfo
from splitstitch.source import MediaSource
from splitstitch_cloud.contract import is_folder_marker
from splitstitch_cloud.jobs import FAILED, STARTING

STALE_STARTING_S = 960.0  # a prepare runs at most 900 s


@dataclass(frozen=True)
class Admission:
    action: Literal["start", "duplicate", "ignore"]
    attempt: int = 1
    fresh: bool = False  # a new attempt of a failed job: clear what the last one left in work/<job>/


def admit(key: str, status: dict[str, Any] | None, sequencer: str | None, now: float | None = None) -> Admission:
    if is_folder_marker(key):
        return Admission("ignore", 0)
    if status is None:
        return Admission("start")
    attempt, same_event = int(status.get("attempt", 1)), status.get("sequencer") == sequencer
    if status["state"] == STARTING and same_event:
        return Admission("start", attempt)
    stale = status["state"] == STARTING and (now or time.time()) - float(status.get("updated", 0)) > STALE_STARTING_S
    if (status["state"] == FAILED or stale) and not same_event:
        return Admission("start", attempt + 1, fresh=True)
    return Admission("duplicate", attempt)


def decode_probe_args(source: MediaSource, video_index: int) -> list[str]:
    """Decode the source's first video frame and throw it away (argv without the program)."""
    return [*source.input_args(), "-map", f"0:{video_index}", "-frames:v", "1", "-f", "null", "-"]


def decoder_message(stderr: str) -> str:
    """The first thing the decoder said (ffmpeg repeats it once per packet)."""
    for line in stderr.splitlines():
        text = line.split("] ")[-1].strip()
        if text:
            return text
    return "no message"


def check_decodable(source: MediaSource, info: MediaInfo, timeout: float = 120.0) -> None:
    """Raise InputError when this ffmpeg cannot decode the source's video (then every segment would fail)."""
    assert info.video is not None
    try:
        run_ffmpeg(decode_probe_args(source, info.video.index), timeout=timeout)
    except ToolError as exc:
        if exc.timed_out:
            raise
        detail = decoder_message(exc.stderr_tail)
        raise InputError(
            source.name, f"its {info.video.codec} video cannot be decoded by this deployment's ffmpeg ({detail})"
        ) from None
