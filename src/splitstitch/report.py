"""The JSON job report: source, output, plan, stage timings and verification, for humans and tools."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitstitch import __version__
from splitstitch.media import MediaInfo

if TYPE_CHECKING:
    from splitstitch.job import Job
    from splitstitch.stages import Finished
    from splitstitch.streaming import Packaged
    from splitstitch.verify import Verification

STAGES = ("prepare", "encode", "audio", "finish", "verify", "total")


def children_cpu_seconds() -> float:
    """CPU seconds (user + system) of every child process that has ended: ffmpeg/ffprobe runs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class StageTimer:
    """Wall seconds per stage and the CPU seconds its ffmpeg/ffprobe children used.

    `audio` runs beside the segments (in the local pool, or as its own Lambda), so its wall time overlaps
    `encode` (locally its CPU is counted there).
    """

    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started, cpu = time.perf_counter(), children_cpu_seconds()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)
            self.cpu_seconds[name] = round(self.cpu_seconds.get(name, 0.0) + children_cpu_seconds() - cpu, 4)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 4)

    def as_dict(self) -> dict[str, float]:
        return {name: self.seconds.get(name, 0.0) for name in STAGES}

    def cpu_dict(self) -> dict[str, float]:
        return {name: self.cpu_seconds[name] for name in STAGES if name in self.cpu_seconds}


def describe(info: MediaInfo) -> dict[str, Any]:
    video = info.video
    frames = info.frames
    return {
        "path": info.path,
        "bytes": info.size,
        "format": info.format_name,
        "duration_s": info.duration,
        "video": None if video is None else {
            "codec": video.codec, "width": video.width, "height": video.height,
            "display_size": list(video.display_size), "rotation": video.rotation, "pix_fmt": video.pix_fmt,
            "bit_depth": video.bit_depth, "profile": video.profile, "color_primaries": video.color_primaries,
            "color_transfer": video.color_transfer, "color_space": video.color_space,
            "color_range": video.color_range, "side_data": list(video.side_data),
            "frame_rate": str(video.frame_rate) if video.frame_rate else None, "time_base": str(video.time_base),
            "frames": frames.count if frames else None, "vfr": frames.is_vfr() if frames else None,
            "duration_s": round(info.video_seconds(), 6) if frames else None,
        },
        "audio": [
            {"index": a.index, "codec": a.codec, "channels": a.channels, "channel_layout": a.channel_layout,
             "sample_rate": a.sample_rate, "extent_s": list(info.audio_extent(a.index) or ())}
            for a in info.audio
        ],
    }  # fmt: skip


def notes(job: Job) -> list[str]:
    """What the output does not keep of the source, in words ("video reduced from 10-bit to 8-bit: ...")."""
    return [n for n in (job.depth.note(),) if n]


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def build_report(
    job: Job, finished: Finished, output_path: str, timer: StageTimer, executor: dict[str, Any],
    verification: Verification,
) -> dict[str, Any]:  # fmt: skip
    """The job report: the same shape from the local runner and from the cloud's finish stage."""
    by_index = {e.index: e for e in finished.encoded}
    segments = [
        {"index": s.index, "start_s": round(s.start_seconds, 6), "duration_s": round(s.duration_seconds, 6),
         "start_frame": s.start_frame, "frames": s.frames, "on_keyframe": s.on_keyframe,
         "encode_seconds": by_index[s.index].seconds, "check_seconds": by_index[s.index].check_seconds,
         "bytes": by_index[s.index].bytes}
        for s in job.plan.segments
    ]  # fmt: skip
    plan = job.plan
    return {
        "tool": "splitstitch",
        "version": __version__,
        "job": job.id,
        "status": "succeeded" if verification.ok else "failed",
        "source": describe(job.info),
        "output": describe(finished.output) | {"path": output_path, "bytes": finished.size,
                                               "container": job.output.muxer, "parts": finished.parts},
        "settings": job.settings.to_dict(),
        "executor": executor,
        "plan": {"target_seconds": round(plan.target_seconds, 6), "reason": plan.reason, "seek": plan.seek,
                 "encoder_threads": plan.encoder_threads, "segments": segments},
        "audio": None if job.audio is None else job.audio.to_dict() | {
            "fragments": len(finished.audio.fragments) if finished.audio else 0,
            "encode_seconds": finished.audio.seconds if finished.audio else None},
        "timings_s": timer.as_dict(),
        "cpu_seconds": timer.cpu_dict(),
        "verification": verification.to_dict(),
        "timeline": [j.to_dict() for j in job.info.timeline] or None,  # where a restarting source was rebuilt
        "interlace": job.interlace.report() if job.interlace else None,  # what was detected, what was done
        "notes": notes(job),
    }  # fmt: skip


def build_stream_report(
    job: Job, packaged: Packaged, output_path: str, timer: StageTimer, executor: dict[str, Any],
    verification: Verification,
) -> dict[str, Any]:  # fmt: skip
    """A streaming job's report: the ladder as written (sizes and bitrates measured from the segments)."""
    rungs = [{"name": v.name, "width": v.width, "height": v.height, "codecs": v.codecs, "segments": len(v.segments),
              "peak_bps": v.peak_bps(), "average_bps": v.average_bps(),
              "maxrate_kbps": next(r.maxrate_kbps for r in job.rungs if r.name == v.name)}
             for v in packaged.videos]  # fmt: skip
    audio = [{"name": a.name, "codecs": a.codecs, "channels": a.channels, "segments": len(a.segments),
              "average_bps": a.average_bps()} for a in packaged.audios]  # fmt: skip
    plan = job.plan
    return {
        "tool": "splitstitch", "version": __version__, "job": job.id,
        "status": "succeeded" if verification.ok else "failed",
        "source": describe(job.info),
        "output": {"path": output_path, "format": job.settings.streaming, "entry": packaged.entry,
                   "files": len(packaged.files), "bytes": packaged.size, "rungs": rungs, "audio": audio},
        "settings": job.settings.to_dict(), "executor": executor,
        "plan": {"target_seconds": round(plan.target_seconds, 6), "reason": plan.reason, "seek": plan.seek,
                 "encoder_threads": plan.encoder_threads, "segments": [
                     {"index": s.index, "start_s": round(s.start_seconds, 6), "duration_s": round(s.duration_seconds, 6),
                      "frames": s.frames, "on_keyframe": s.on_keyframe} for s in plan.segments]},
        "timings_s": timer.as_dict(), "cpu_seconds": timer.cpu_dict(),
        "verification": verification.to_dict(),
        "timeline": [j.to_dict() for j in job.info.timeline] or None,
        "interlace": job.interlace.report() if job.interlace else None,
        "notes": notes(job),
    }  # fmt: skip
