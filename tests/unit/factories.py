"""Small hand-made probe results for pure unit tests (no ffprobe, no media)."""

from __future__ import annotations

from fractions import Fraction

from splitstitch.media import AudioInfo, FrameIndex, MediaInfo, VideoInfo


def video(**overrides) -> VideoInfo:
    base = dict(index=0, codec="h264", width=320, height=240, pix_fmt="yuv420p", bit_depth=8,
                time_base=Fraction(1, 90000), frame_rate=Fraction(30), rotation=0)  # fmt: skip
    return VideoInfo(**{**base, **overrides})


def frames(count: int = 300, step: int = 3000, keyint: int = 60, safe: bool = True, start: int = 0) -> FrameIndex:
    keys = tuple(range(0, count, keyint))
    return FrameIndex(tuple(start + i * step for i in range(count)), step, keys, keys if safe else (0,), True)


def audio(index: int = 1, codec: str = "aac", channels: int = 2, start: float = 0.0) -> AudioInfo:
    return AudioInfo(index, codec, channels, "stereo", 48000, start, 10.0, Fraction(1, 48000))


def media(fmt: str = "mov,mp4,m4a,3gp,3g2,mj2", video_info: VideoInfo | None = None,
          frame_index: FrameIndex | None = None, audios: tuple[AudioInfo, ...] = (),
          extents: tuple[tuple[int, float, float], ...] = ()) -> MediaInfo:  # fmt: skip
    return MediaInfo(path="/in/src.mp4", size=1000, format_name=fmt, duration=10.0, start_time=0.0,
                     video=video_info or video(), audio=audios, frames=frame_index or frames(),
                     audio_extents=extents)  # fmt: skip
