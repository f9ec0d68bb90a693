"""The talk's six reference jobs (FACTS.md) and sources that resemble them, generated at a fraction of
their length.

The talk gives size, resolution, duration and container. Its bitrates say what kind of content each was:
100 MB for 59:56 of 720p is about 220 kb/s (very easy content: slides or flat animation), 1 GB for 57:57 of
720p about 2.4 Mb/s (ordinary video), 420 MB for 62 s of 3840x1606 about 54 Mb/s (detailed film). Encode
speed depends on content, so each scaled source is made to match its row's bitrate and, through the amount
of grain, its complexity:

- picture: lavfi `testsrc2` (moving pattern) + temporal `noise` whose strength grows with the row's bits
  per pixel (none for the 220 kb/s row); encoded with x264 `veryfast` at the row's bitrate
  (`-b:v`, `-maxrate` 1.5x), keyframe every 2 s, closed GOP;
- frame rate (not given by the talk): 30 fps for the MP4 rows, 24 fps for the two MKV rows (film);
- audio: AAC stereo 128 kb/s.

The synthetic full-length frame index (`full_info`) has the same rate and keyframe interval, so the
planner cuts the real-length job exactly as the deployed prepare function would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.frames import FrameIndex
from splitstitch.media import AudioInfo, MediaInfo
from splitstitch.samples import tone

DEFAULT_SCALE = 0.02
MIN_SECONDS = 4.0
GOP_S = 2.0
AUDIO_BPS = 128_000


@dataclass(frozen=True)
class TalkRow:
    name: str
    size: str  # WxH
    seconds: float
    container: str
    megabytes: float
    lambda_s: float
    t2_large_s: float
    laptop_s: float
    target_s: float  # issue 8
    fps: int

    @property
    def width(self) -> int:
        return int(self.size.split("x")[0])

    @property
    def height(self) -> int:
        return int(self.size.split("x")[1])

    @property
    def source_bytes(self) -> int:
        return int(self.megabytes * 1e6)

    @property
    def video_bps(self) -> float:
        return max(50_000.0, self.source_bytes * 8 / self.seconds - AUDIO_BPS)

    @property
    def bits_per_pixel(self) -> float:
        return self.video_bps / (self.width * self.height * self.fps)

    @property
    def label(self) -> str:
        minutes, seconds = divmod(round(self.seconds), 60)
        size = f"{self.megabytes / 1000:g} GB" if self.megabytes >= 1000 else f"{self.megabytes:g} MB"
        return f"{size} {self.container.upper()} {self.size} {minutes}:{seconds:02d}"


TALK_ROWS = (
    TalkRow("34MB-1080p", "1920x1080", 43, "mp4", 34, 11, 32, 18, 11, 30),
    TalkRow("77MB-2048x1152", "2048x1152", 6 * 60 + 49, "mp4", 77, 26, 144, 78, 13, 30),
    TalkRow("100MB-720p", "1280x720", 59 * 60 + 56, "mp4", 100, 86, 1073, 592, 43, 30),
    TalkRow("350MB-1440p", "2560x1440", 7 * 60 + 45, "mp4", 350, 35, 432, 224, 17.5, 30),
    TalkRow("420MB-MKV-3840x1606", "3840x1606", 62, "mkv", 420, 112, 157, 101, 56, 24),
    TalkRow("1GB-MKV-720p", "1280x720", 57 * 60 + 57, "mkv", 1000, 185, 4320, 2367, 92, 24),
)
COST_TARGET_PER_MIN = 0.003  # issue 8: the 720p hour jobs
COST_TARGET_ROWS = ("100MB-720p", "1GB-MKV-720p")


def select(names: str | None) -> tuple[TalkRow, ...]:
    if not names:
        return TALK_ROWS
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    found = tuple(r for r in TALK_ROWS if r.name in wanted)
    if len(found) != len(wanted):
        raise ValueError(f"unknown talk rows: {sorted(set(wanted) - {r.name for r in found})}")
    return found


def scaled_seconds(row: TalkRow, scale: float) -> float:
    return round(max(MIN_SECONDS, row.seconds * scale), 2)


def grain(row: TalkRow) -> int:
    """Noise strength for the row's bits per pixel: 0 for flat content, up to 30 for detailed film."""
    return 0 if row.bits_per_pixel < 0.015 else min(30, round(100 * row.bits_per_pixel))


def source_args(row: TalkRow, seconds: float) -> list[str]:
    gop = GOP_S * row.fps
    rate = round(row.video_bps)
    vf = f"noise=alls={grain(row)}:allf=t" if grain(row) else "null"
    video = ["-f", "lavfi", "-i", f"testsrc2=size={row.size}:rate={row.fps}:duration={seconds}"]
    params = f"keyint={gop:g}:min-keyint={gop:g}:scenecut=0:open-gop=0"
    return [*video, *tone(seconds), "-vf", vf, "-c:v", "libx264", "-preset", "veryfast", "-b:v", str(rate),
            "-maxrate", str(round(rate * 1.5)), "-bufsize", str(rate * 2), "-pix_fmt", "yuv420p", "-x264-params",
            params, "-c:a", "aac", "-b:a", "128k", "-f", "matroska" if row.container == "mkv" else "mp4"]  # fmt: skip


def make_source(row: TalkRow, seconds: float, folder: Path) -> Path:
    """Generate (or reuse) the row's scaled source."""
    out = folder / f"{row.name}-{seconds:g}s.{row.container}"
    if out.exists() and out.stat().st_size > 0:
        return out
    partial = out.with_name(f".{out.name}.partial")
    run_ffmpeg([*source_args(row, seconds), str(partial)], timeout=3600)
    partial.replace(out)
    return out


def full_info(like: MediaInfo, seconds: float, size_bytes: int) -> MediaInfo:
    """`like` (a probed scaled source) stretched to `seconds`: a CFR frame index with its frame rate and a
    closed-GOP keyframe every GOP_S seconds, as the deployed prepare function would see the real file."""
    assert like.video and like.frames
    fps = like.frames.count / like.video_seconds()
    rate = Fraction(round(fps * 1000), 1000)
    tb = Fraction(1, 90000)
    step = int(Fraction(90000) / rate)
    count = int(seconds * float(rate))
    gop = max(1, round(GOP_S * float(rate)))
    keys = tuple(range(0, count, gop))
    index = FrameIndex(tuple(i * step for i in range(count)), step, keys, keys, True)
    video = replace(like.video, time_base=tb, frame_rate=rate, declared_frames=count)
    audio = tuple(replace(a, duration=seconds) for a in like.audio)
    return replace(like, size=size_bytes, duration=seconds, start_time=0.0, video=video, audio=audio, frames=index,
                   data_end=size_bytes, audio_extents=tuple((a.index, 0.0, seconds) for a in audio))  # fmt: skip


def index_bytes(container: str, frames: int, audio_packets: int) -> int:
    """The container index a reader fetches first: MP4 moov sample tables (~12 bytes per sample: size,
    time, chunk offset), Matroska cues (~a dozen bytes per keyframe, read lazily: counted as 64 KiB)."""
    if container == "mkv":
        return 64 << 10
    return 12 * (frames + audio_packets) + 4096


def audio_packets(seconds: float, audio: tuple[AudioInfo, ...]) -> int:
    return sum(math.ceil(seconds * (a.sample_rate or 48000) / 1024) for a in audio)
