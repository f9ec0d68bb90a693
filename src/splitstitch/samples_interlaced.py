"""Generated interlaced media: fields woven into frames at half the field rate, top or bottom first, coded as
DVD/SVCD MPEG-2 or broadcast H.264 would code them; and the two lies a field-order flag can tell (combed
pictures flagged progressive, progressive pictures flagged interlaced)."""

from __future__ import annotations

from collections.abc import Callable

MP2 = ["-c:a", "mp2", "-b:a", "192k"]
AAC = ["-c:a", "aac", "-b:a", "128k"]


def tone(seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]


def pictures(seconds: float, size: str) -> list[str]:
    """50 moving pictures a second: woven two by two into the fields of 25 frames."""
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate=50:duration={seconds}"]


def woven(first: str, flag: str | None = None) -> list[str]:
    """The filter weaving `pictures` into frames (`first`: tff or bff), flagged `flag` (default: as woven)."""
    return ["-vf", f"tinterlace=mode=interleave_{'top' if first == 'tff' else 'bottom'},setfield={flag or first}"]


def mpeg2(first: str) -> list[str]:
    """MPEG-2 with interlaced motion estimation and DCT; the field order comes from the frames (`setfield`:
    ffmpeg 9 has no `-top` encoding option any more)."""
    del first
    return ["-c:v", "mpeg2video", "-flags", "+ilme+ildct", "-q:v", "4", "-bf", "2", "-g", "12"]


def x264_interlaced(first: str) -> list[str]:
    return ["-c:v", "libx264", "-preset", "veryfast", "-flags", "+ildct+ilme",
            "-x264-params", f"{first}=1:keyint=25:min-keyint=25:scenecut=0"]  # fmt: skip


def dvd_tff_args(seconds: float) -> list[str]:
    return [*pictures(seconds, "352x288"), *tone(seconds), *woven("tff"), *mpeg2("tff"), *MP2, "-f", "vob"]


def mpeg2_ts_bff_args(seconds: float) -> list[str]:
    return [*pictures(seconds, "352x288"), *tone(seconds), *woven("bff"), *mpeg2("bff"), *MP2, "-f", "mpegts"]


def h264_ts_tff_args(seconds: float) -> list[str]:
    return [*pictures(seconds, "320x240"), *tone(seconds), *woven("tff"), *x264_interlaced("tff"), *AAC, "-f", "mpegts"]


def h264_bff_args(seconds: float) -> list[str]:
    return [*pictures(seconds, "320x240"), *woven("bff"), *x264_interlaced("bff"), "-f", "mp4"]


def combed_flagged_progressive_args(seconds: float) -> list[str]:
    """Top-field-first pictures coded as progressive frames: the stream says progressive."""
    return [*pictures(seconds, "320x240"), *woven("tff", "prog"), "-c:v", "libx264", "-preset", "veryfast",
            "-x264-params", "keyint=25:min-keyint=25:scenecut=0", "-f", "mp4"]  # fmt: skip


def progressive_flagged_interlaced_args(seconds: float) -> list[str]:
    """Progressive pictures (25 a second, fields from one instant) coded as interlaced, top field first."""
    return ["-f", "lavfi", "-i", f"testsrc=size=320x240:rate=25:duration={seconds}", "-vf", "setfield=tff",
            *x264_interlaced("tff"), "-f", "mp4"]  # fmt: skip


INTERLACED: dict[str, tuple[str, Callable[[float], list[str]]]] = {
    "interlaced_dvd_tff": (".mpg", dvd_tff_args),
    "interlaced_mpeg2_ts_bff": (".ts", mpeg2_ts_bff_args),
    "interlaced_h264_ts_tff": (".ts", h264_ts_tff_args),
    "interlaced_h264_bff": (".mp4", h264_bff_args),
    "combed_flagged_progressive": (".mp4", combed_flagged_progressive_args),
    "progressive_flagged_interlaced": (".mp4", progressive_flagged_interlaced_args),
}
