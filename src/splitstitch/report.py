"""The JSON job report: source, output, plan, stage timings and verification, for humans and tools."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch.media import MediaInfo

STAGES = ("probe", "plan", "split", "encode", "audio", "stitch", "verify", "total")


@dataclass
class StageTimer:
    """Wall seconds per stage; `audio` runs inside the encode pool, so it overlaps `encode`."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = round(self.seconds.get(name, 0.0) + seconds, 4)

    def as_dict(self) -> dict[str, float]:
        return {name: self.seconds.get(name, 0.0) for name in STAGES}


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


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
