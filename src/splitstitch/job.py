"""One job as a value: what the prepare stage decided, everything the other stages need. No I/O.

The local runner keeps it in memory; the cloud stores it as `work/<job>/job.json` and gives every encoder
a self-contained task cut from it (`segment_task`), so no encoder needs to read anything but its source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from splitstitch.audio import AudioPlan
from splitstitch.codecs import OutputFormat
from splitstitch.encode import SegmentTask, output_pix_fmt, timescale_of
from splitstitch.media import MediaInfo
from splitstitch.plan import Fanout, Plan
from splitstitch.settings import Settings

JOB_VERSION = 2


@dataclass(frozen=True)
class Job:
    id: str
    source: str  # what the user gave: a path, or an S3 key
    settings: Settings
    output: OutputFormat
    info: MediaInfo
    plan: Plan
    audio: AudioPlan | None
    fanout: Fanout
    created: float = field(default_factory=time.time)

    @property
    def timescale(self) -> int:
        assert self.info.video
        return timescale_of(self.info.video.time_base)

    @property
    def output_pix_fmt(self) -> str:
        assert self.info.video
        return output_pix_fmt(self.settings, self.info.video)

    @property
    def output_bit_depth(self) -> int:
        return 10 if "10" in self.output_pix_fmt else 8

    def segment_task(self, index: int) -> SegmentTask:
        assert self.info.video
        return SegmentTask(self.plan.segments[index], self.info.video, self.info.start_time, self.settings,
                           self.plan.encoder_threads, self.timescale, self.settings.verify, self.info.format_name)  # type: ignore[arg-type]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JOB_VERSION, "id": self.id, "source": self.source, "settings": self.settings.to_dict(),
            "output": self.output.to_dict(), "info": self.info.to_dict(), "plan": self.plan.to_dict(),
            "audio": self.audio.to_dict() if self.audio else None, "fanout": self.fanout.to_dict(),
            "created": self.created,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(
            id=d["id"], source=d["source"], settings=Settings.from_dict(d["settings"]),
            output=OutputFormat.from_dict(d["output"]), info=MediaInfo.from_dict(d["info"]),
            plan=Plan.from_dict(d["plan"]), audio=AudioPlan.from_dict(d["audio"]),
            fanout=Fanout.from_dict(d["fanout"]), created=d["created"],
        )  # fmt: skip
