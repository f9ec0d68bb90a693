"""One job as a value: what the prepare stage decided, everything the other stages need. No I/O.

The local runner keeps it in memory; the cloud stores it as `work/<job>/job.json` and gives every encoder
a self-contained task cut from it (`segment_task`), so no encoder needs to read anything but its source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

from splitstitch.audio import AudioPlan
from splitstitch.codecs import OutputFormat
from splitstitch.depth import Depth, plan_depth
from splitstitch.encode import Placement, SegmentTask, output_pix_fmt, timescale_of
from splitstitch.interlace import Interlace
from splitstitch.ladder import Rung
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
    rebuilt: str | None = None  # storage name of a copy with one rebuilt timeline, which encoders read instead
    rungs: tuple[Rung, ...] = ()  # streaming: the ladder (every segment is encoded once per rung)
    renditions: tuple[AudioPlan, ...] = ()  # streaming: the audio renditions (each encoded once)
    interlace: Interlace | None = None  # what the source's fields are and whether every encoder deinterlaces
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
        return self.depth.output_bits

    @property
    def depth(self) -> Depth:
        """What the output keeps of the source's bit depth (and whether HDR is tone-mapped)."""
        assert self.info.video
        return plan_depth(self.settings, self.info.video)

    def segment_task(self, index: int, rung: Rung | None = None) -> SegmentTask:
        assert self.info.video
        settings, placement = self.settings, None
        if rung is not None:
            settings = replace(settings, height=rung.height, maxrate_kbps=rung.maxrate_kbps)
            placement = self.placement(index)
        return SegmentTask(self.plan.segments[index], self.info.video, self.info.start_time, settings,
                           self.plan.encoder_threads, self.timescale, self.settings.verify,  # type: ignore[arg-type]
                           rung.name if rung else None, placement, self.info.format_name,
                           self.interlace.parity if self.interlace else None, self.placement(index).duration)  # fmt: skip

    def placement(self, index: int) -> Placement:
        """Segment `index` on the output timeline, in the video timescale (the first frame at 0)."""
        assert self.info.video and self.info.frames
        ticks = self.info.video.time_base * self.timescale  # source ticks -> timescale ticks (an integer)
        first, segment = self.info.frames.timestamps[0], self.plan.segments[index]
        stop = segment.end_pts if segment.end_pts is not None else self.info.frames.end()
        return Placement(int((segment.start_pts - first) * ticks), int((stop - segment.start_pts) * ticks), index + 1)

    def tasks(self) -> list[SegmentTask]:
        """Every encode of the job, longest segment first (each rung of a ladder in turn)."""
        return [self.segment_task(s.index, rung) for s in self.plan.longest_first() for rung in (self.rungs or (None,))]

    def audio_plans(self) -> tuple[AudioPlan, ...]:
        return self.renditions or ((self.audio,) if self.audio else ())

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JOB_VERSION, "id": self.id, "source": self.source, "settings": self.settings.to_dict(),
            "output": self.output.to_dict(), "info": self.info.to_dict(), "plan": self.plan.to_dict(),
            "audio": self.audio.to_dict() if self.audio else None, "fanout": self.fanout.to_dict(),
            "rebuilt": self.rebuilt, "rungs": [r.to_dict() for r in self.rungs],
            "renditions": [a.to_dict() for a in self.renditions], "created": self.created,
            "interlace": self.interlace.to_dict() if self.interlace else None,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(
            id=d["id"], source=d["source"], settings=Settings.from_dict(d["settings"]),
            output=OutputFormat.from_dict(d["output"]), info=MediaInfo.from_dict(d["info"]),
            plan=Plan.from_dict(d["plan"]), audio=AudioPlan.from_dict(d["audio"]),
            fanout=Fanout.from_dict(d["fanout"]), rebuilt=d.get("rebuilt"),
            rungs=tuple(Rung.from_dict(r) for r in d.get("rungs", [])),
            renditions=tuple(a for a in (AudioPlan.from_dict(r) for r in d.get("renditions", [])) if a),
            created=d["created"], interlace=Interlace.from_dict(d.get("interlace")),
        )  # fmt: skip
