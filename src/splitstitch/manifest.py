"""A job as data: MediaInfo, Plan, AudioPlan and Settings to and from JSON-ready dicts (no I/O, no boto3).

The cloud split step writes one manifest per job; encode and stitch steps rebuild the core's frozen values
from it, so every stage runs the same core functions as the local pipeline. Fractions travel as strings
("1/15360"), tuples as lists.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Any

from splitstitch.audio import AudioPlan
from splitstitch.media import AudioInfo, FrameIndex, MediaInfo, VideoInfo
from splitstitch.plan import Plan
from splitstitch.settings import Settings

MANIFEST_VERSION = 1


def _video_to_dict(video: VideoInfo) -> dict[str, Any]:
    d = asdict(video)
    d["time_base"] = str(video.time_base)
    d["frame_rate"] = str(video.frame_rate) if video.frame_rate is not None else None
    return d


def _video_from_dict(d: dict[str, Any]) -> VideoInfo:
    frame_rate = d.get("frame_rate")
    return VideoInfo(
        **{**d, "time_base": Fraction(d["time_base"]), "frame_rate": Fraction(frame_rate) if frame_rate else None}
    )


def media_to_dict(info: MediaInfo) -> dict[str, Any]:
    frames = info.frames
    return {
        "path": info.path,
        "size": info.size,
        "format_name": info.format_name,
        "duration": info.duration,
        "start_time": info.start_time,
        "video": _video_to_dict(info.video) if info.video else None,
        "audio": [{**asdict(a), "time_base": str(a.time_base)} for a in info.audio],
        "frames": None
        if frames is None
        else {
            "timestamps": list(frames.timestamps),
            "last_duration": frames.last_duration,
            "keyframes": list(frames.keyframes),
            "safe_cuts": list(frames.safe_cuts),
            "from_packets": frames.from_packets,
        },
        "data_end": info.data_end,
        "audio_extents": [list(e) for e in info.audio_extents],
        "scan_errors": info.scan_errors,
    }


def media_from_dict(d: dict[str, Any]) -> MediaInfo:
    f = d.get("frames")
    frames = None
    if f is not None:
        frames = FrameIndex(
            timestamps=tuple(f["timestamps"]),
            last_duration=f["last_duration"],
            keyframes=tuple(f["keyframes"]),
            safe_cuts=tuple(f["safe_cuts"]),
            from_packets=f["from_packets"],
        )
    return MediaInfo(
        path=d["path"],
        size=d["size"],
        format_name=d["format_name"],
        duration=d["duration"],
        start_time=d["start_time"],
        video=_video_from_dict(d["video"]) if d.get("video") else None,
        audio=tuple(AudioInfo(**{**a, "time_base": Fraction(a["time_base"])}) for a in d.get("audio", [])),
        frames=frames,
        data_end=d.get("data_end", 0),
        audio_extents=tuple((int(i), float(a), float(b)) for i, a, b in d.get("audio_extents", [])),
        scan_errors=d.get("scan_errors", ""),
    )


def audio_plan_from_dict(d: dict[str, Any] | None) -> AudioPlan | None:
    if d is None:
        return None
    return AudioPlan(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class JobManifest:
    """Everything a step needs about one job; segment files and outputs are named from `job` and indexes."""

    job: str
    source_key: str  # where the upload is (uploads/...)
    output_key: str  # where the verified output goes (outputs/...)
    source_name: str  # file name of the source, kept for ffmpeg's format guess on the decode path
    settings: Settings
    info: MediaInfo
    plan: Plan
    audio: AudioPlan | None
    segment_files: tuple[str, ...] | None  # copy path: file names under work/<job>/; None: decode path
    created: float
    version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "job": self.job,
            "source_key": self.source_key,
            "output_key": self.output_key,
            "source_name": self.source_name,
            "settings": self.settings.to_dict(),
            "info": media_to_dict(self.info),
            "plan": self.plan.to_dict(),
            "audio": self.audio.to_dict() if self.audio else None,
            "segment_files": list(self.segment_files) if self.segment_files is not None else None,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobManifest:
        names = {f.name for f in fields(cls)}
        plain = {k: v for k, v in d.items() if k in names}
        return cls(
            **{
                **plain,
                "settings": Settings(**d["settings"]),
                "info": media_from_dict(d["info"]),
                "plan": Plan.from_dict(d["plan"]),
                "audio": audio_plan_from_dict(d.get("audio")),
                "segment_files": tuple(d["segment_files"]) if d.get("segment_files") is not None else None,
            }
        )
