"""The talk's six reference jobs (FACTS.md), regenerated at a fraction of their length.

The talk gives size, resolution, duration and container (MKV where it says so, MP4 assumed otherwise);
frame rate and content are not given: we use 30 fps textured test video with AAC stereo, bitrate capped at
4 Mb/s (samples.x264), so our files are smaller than the talk's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples import AAC, TEXTURE, tone, video_source, x264

DEFAULT_SCALE = 0.02
MIN_SECONDS = 2.0


@dataclass(frozen=True)
class TalkRow:
    name: str
    size: str
    seconds: float
    container: str
    megabytes: int
    lambda_s: float
    t2_large_s: float
    laptop_s: float

    def realtime(self, seconds: float) -> float:
        return self.seconds / seconds


TALK_ROWS = (
    TalkRow("34MB-1080p", "1920x1080", 43, "mp4", 34, 11, 32, 18),
    TalkRow("77MB-2048x1152", "2048x1152", 6 * 60 + 49, "mp4", 77, 26, 144, 78),
    TalkRow("100MB-720p", "1280x720", 59 * 60 + 56, "mp4", 100, 86, 1073, 592),
    TalkRow("350MB-1440p", "2560x1440", 7 * 60 + 45, "mp4", 350, 35, 432, 224),
    TalkRow("420MB-MKV-3840x1606", "3840x1606", 62, "mkv", 420, 112, 157, 101),
    TalkRow("1GB-MKV-720p", "1280x720", 57 * 60 + 57, "mkv", 1024, 185, 4320, 2367),
)


def scaled_seconds(row: TalkRow, scale: float) -> float:
    return round(max(MIN_SECONDS, row.seconds * scale), 2)


def make_row_source(row: TalkRow, scale: float, folder: Path) -> Path:
    """Generate (or reuse) the row's source at `scale` of its duration."""
    seconds = scaled_seconds(row, scale)
    out = folder / f"{row.name}-{seconds:g}s.{row.container}"
    if out.exists() and out.stat().st_size > 0:
        return out
    muxer = "matroska" if row.container == "mkv" else "mp4"
    args = [*video_source(row.size, "30", seconds), *tone(seconds), "-vf", TEXTURE, *x264(60), *AAC, "-f", muxer]
    partial = out.with_name(f".{out.name}.partial")
    run_ffmpeg([*args, str(partial)], timeout=3600)
    partial.replace(out)
    return out
