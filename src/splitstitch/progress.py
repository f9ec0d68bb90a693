"""Progress of a job in media seconds: stages as they happen, and within a stage the sum over its jobs.

The pipeline names each stage (`Progress.stage`) and gives every ffmpeg run of a measured stage a
reporter (`Progress.reporter(key)`), which the run calls with the media seconds it has written. A
`StageMeter` sums those against the stage's total and works out the speed (media seconds per wall second
over a sliding window, "x realtime") and the time left. A `Tracker` hands each change to a renderer as a
`Snapshot`; the CLI draws it as a bar on a terminal or as plain lines in a log. Nothing here prints.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

WINDOW_S = 8.0  # the speed is measured over the last WINDOW_S wall seconds
MIN_SPAN_S = 1.0  # and not before MIN_SPAN_S of them have passed (the first reports are noise)

Clock = Callable[[], float]
Reporter = Callable[[float], None]  # media seconds written so far by one job
State = Literal["started", "running", "done"]


@dataclass(frozen=True)
class Snapshot:
    stage: str
    state: State
    done_s: float  # media seconds done, summed over the stage's jobs
    total_s: float  # media seconds of the stage; 0 when the stage is not measured
    elapsed_s: float  # wall seconds since the stage started
    speed: float | None  # media seconds per wall second; None until it can be measured
    eta_s: float | None  # wall seconds left at that speed
    parts: int = 0  # jobs summed into done_s
    side: tuple[tuple[str, float], ...] = ()  # (key, fraction done) of jobs outside the total, e.g. audio

    @property
    def fraction(self) -> float:
        return self.done_s / self.total_s if self.total_s > 0 else 0.0


class StageMeter:
    """Thread-safe sum of the media seconds that the jobs of one stage report.

    Each job (`parts`: key -> its media seconds) reports the seconds it has done; a value is clamped to
    the job's own length and replaces the job's previous one (a retried job starts again from 0). `side`
    jobs (the audio, which covers the whole duration at many times realtime) are followed as a fraction of
    the stage's total but not summed, so the total and the speed stay in seconds of video.
    """

    def __init__(
        self, stage: str, parts: Mapping[str, float] | None = None, side: Sequence[str] = (), *,
        clock: Clock = time.monotonic, window_s: float = WINDOW_S,
    ) -> None:  # fmt: skip
        self.stage = stage
        self._caps = {key: max(seconds, 0.0) for key, seconds in (parts or {}).items()}
        self._total = sum(self._caps.values())
        self._done = dict.fromkeys(self._caps, 0.0)
        self._side = dict.fromkeys(side, 0.0)
        self._sum = 0.0
        self._clock = clock
        self._window_s = window_s
        self._started = clock()
        self._samples: deque[tuple[float, float]] = deque([(self._started, 0.0)])
        self._lock = threading.Lock()

    def knows(self, key: str) -> bool:
        return key in self._caps or key in self._side

    def report(self, key: str, seconds: float) -> Snapshot:
        with self._lock:
            now = self._clock()
            if key in self._side:
                self._side[key] = min(max(seconds, 0.0), self._total)
            else:
                value = min(max(seconds, 0.0), self._caps[key])  # KeyError: a job this stage does not have
                self._sum += value - self._done[key]
                self._done[key] = value
                self._samples.append((now, self._sum))
                while len(self._samples) > 1 and self._samples[1][0] <= now - self._window_s:
                    self._samples.popleft()
            return self._snapshot(now, "running")

    def started(self) -> Snapshot:
        with self._lock:
            return self._snapshot(self._started, "started")

    def finish(self) -> Snapshot:
        """The stage is over: every job is complete; the speed is over the whole stage."""
        with self._lock:
            now = self._clock()
            elapsed = now - self._started
            speed = self._total / elapsed if self._total > 0 and elapsed > 0 else None
            side = tuple((key, 1.0) for key in self._side)
            return Snapshot(self.stage, "done", self._total, self._total, elapsed, speed, 0.0, len(self._caps), side)

    def _snapshot(self, now: float, state: State) -> Snapshot:
        t0, done0 = self._samples[0]
        span = now - t0
        speed = (self._sum - done0) / span if self._total > 0 and span >= MIN_SPAN_S else None
        if speed is not None and speed < 0:  # a retried job went back: no honest speed in this window
            speed = None
        eta = (self._total - self._sum) / speed if speed else None
        side = tuple((key, done / self._total if self._total else 0.0) for key, done in self._side.items())
        elapsed = now - self._started
        return Snapshot(self.stage, state, self._sum, self._total, elapsed, speed, eta, len(self._caps), side)


class Progress(Protocol):
    """What the pipeline calls: the stage that starts now, and one reporter per job of a measured stage."""

    def stage(self, name: str, parts: Mapping[str, float] | None = None, side: Sequence[str] = ()) -> None: ...

    def reporter(self, key: str) -> Reporter | None: ...


class Silent:
    """No progress wanted: no reporters either, so ffmpeg runs without `-progress`."""

    def stage(self, name: str, parts: Mapping[str, float] | None = None, side: Sequence[str] = ()) -> None:
        return None

    def reporter(self, key: str) -> Reporter | None:
        return None


SILENT = Silent()


class Tracker:
    """A `Progress` that feeds `render` with a snapshot at each stage start, each report and each stage end.

    `render` is called under one lock, never from two threads at once. Reports from a stage that has
    ended are dropped. `finish()` ends the last stage; a failed job is not finished, so it has no "done".
    """

    def __init__(self, render: Callable[[Snapshot], None], *, clock: Clock = time.monotonic) -> None:
        self._render = render
        self._clock = clock
        self._meter: StageMeter | None = None
        self._lock = threading.Lock()

    def stage(self, name: str, parts: Mapping[str, float] | None = None, side: Sequence[str] = ()) -> None:
        with self._lock:
            self._end_stage()
            self._meter = StageMeter(name, parts, side, clock=self._clock)
            self._render(self._meter.started())

    def reporter(self, key: str) -> Reporter | None:
        meter = self._meter
        if meter is None or not meter.knows(key):
            raise KeyError(f"no job {key!r} in the current stage")

        def report(seconds: float) -> None:
            with self._lock:
                if meter is self._meter:
                    self._render(meter.report(key, seconds))

        return report

    def finish(self) -> None:
        with self._lock:
            self._end_stage()
            self._meter = None

    def _end_stage(self) -> None:
        if self._meter is not None:
            self._render(self._meter.finish())
