"""What one upload may make the deployment spend, checked before the Map starts.

An upload's settings metadata is the uploader's to choose: the template bounds what it may ask (codecs, presets,
output and ladder heights, rungs), and every planned job's encode cost is estimated (the planner's pessimistic
encode-time model, `throughput.encode_seconds`, at the encode function's memory and price) and refused over
the per-job budget. The segment count is capped by the plan itself (`Fanout.max_segments`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from splitstitch.errors import UsageError
from splitstitch.job import Job
from splitstitch.plan import output_size
from splitstitch.settings import Settings
from splitstitch.throughput import STARTUP_SECONDS, encode_seconds
from splitstitch_cloud.cost import Arch, Prices

DEFAULT_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")


def _names(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    return names or default


@dataclass(frozen=True)
class Bounds:
    """The template's AllowedCodecs, AllowedPresets, MaxOutputHeight, MaxLadderRungs and MaxJobCost."""

    codecs: tuple[str, ...] = ("h264", "h265", "vp9", "av1")
    presets: tuple[str, ...] = DEFAULT_PRESETS
    max_height: int = 2160
    max_rungs: int = 6
    max_job_dollars: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Bounds:
        env = os.environ if env is None else env
        d = cls()
        return cls(_names(env.get("ALLOWED_CODECS"), d.codecs), _names(env.get("ALLOWED_PRESETS"), d.presets),
                   int(env.get("MAX_OUTPUT_HEIGHT", d.max_height)), int(env.get("MAX_LADDER_RUNGS", d.max_rungs)),
                   float(env.get("MAX_JOB_COST", d.max_job_dollars)))  # fmt: skip

    def check_settings(self, settings: Settings) -> None:
        """UsageError when the settings ask for what this deployment does not allow."""
        if settings.codec not in self.codecs:
            raise UsageError(f"codec {settings.codec} is not allowed here (AllowedCodecs: {', '.join(self.codecs)})")
        if settings.preset not in self.presets:
            raise UsageError(
                f"preset {settings.preset} is not allowed here (AllowedPresets: {', '.join(self.presets)})"
            )
        if settings.height is not None and settings.height > self.max_height:
            raise UsageError(f"height {settings.height} is over this deployment's MaxOutputHeight of {self.max_height}")
        if settings.streaming and settings.ladder.strip().lower() != "auto":
            rungs = [p for p in settings.ladder.split(",") if p.strip()]
            if len(rungs) > self.max_rungs:
                raise UsageError(f"a ladder of {len(rungs)} rungs is over this deployment's MaxLadderRungs of "
                                 f"{self.max_rungs}")  # fmt: skip
            heights = [int(h) for p in rungs if (h := p.strip().lower().removesuffix("p")).isdigit()]
            if heights and max(heights) > self.max_height:
                raise UsageError(f"ladder height {max(heights)} is over this deployment's MaxOutputHeight of "
                                 f"{self.max_height}")  # fmt: skip


def dollars_text(amount: float) -> str:
    """$5.00, $13.02; small amounts keep their first digits ($0.0001)."""
    return f"${amount:.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.2g}"


def encode_estimate(job: Job, vcpus: float) -> float:
    """Estimated seconds of encode-function time for every segment encode of the job (ladder rungs included)."""
    seconds = 0.0
    for task in job.tasks():
        width, height = output_size(job.info, task.settings)
        frames = task.segment.end_frame - task.segment.start_frame
        seconds += STARTUP_SECONDS + encode_seconds(width, height, frames, task.settings.codec, task.settings.preset,
                                                    vcpus)  # fmt: skip
    return seconds


def check_cost(job: Job, bounds: Bounds, memory_mb: int, vcpus: float, arch: Arch = "x86_64") -> float:
    """The job's estimated encode cost in dollars; UsageError, with the estimate and the budget, over budget."""
    seconds = encode_estimate(job, vcpus)
    dollars = seconds * memory_mb / 1024 * Prices().lambda_gb_s[arch]
    if dollars > bounds.max_job_dollars:
        raise UsageError(f"estimated encode cost {dollars_text(dollars)} ({seconds:.0f} s of {memory_mb} MB Lambda "
                         f"over {len(job.tasks())} encodes) is over this deployment's per-job budget of "
                         f"{dollars_text(bounds.max_job_dollars)} (MaxJobCost)")  # fmt: skip
    return dollars
