"""Generated test media: small lavfi clips for every kind of input the pipeline must handle.

Used by the tests, `make demo` and the benchmark; nothing large is ever committed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples_interlaced import INTERLACED
from splitstitch.samples_packed import make_packed_bframes_avi

TEXTURE = "noise=alls=12:allf=t"  # grain so encoders have real work; bitrate capped below


def video_source(size: str, rate: str, seconds: float) -> list[str]:
    return ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]


def tone(seconds: float, frequency: int = 440, layout: str = "stereo", rate: int = 48000) -> list[str]:
    channels = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    exprs = "|".join(f"sin({2 + i}*PI*{frequency}*t)*0.3" for i in range(channels))
    return ["-f", "lavfi", "-i", f"aevalsrc={exprs}:s={rate}:c={layout}:d={seconds}:n=960"]


def x264(keyint: int, extra: str = "") -> list[str]:
    params = f"keyint={keyint}:min-keyint={keyint}:scenecut=0" + (f":{extra}" if extra else "")
    return ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-maxrate", "4M", "-bufsize", "8M",
            "-pix_fmt", "yuv420p", "-x264-params", params]  # fmt: skip


AAC = ["-c:a", "aac", "-b:a", "128k"]


def cfr_args(seconds: float, size: str = "320x240", rate: int = 30) -> list[str]:
    return [*video_source(size, str(rate), seconds), *tone(seconds), "-vf", TEXTURE, *x264(2 * rate), *AAC, "-f", "mp4"]


def vfr_args(seconds: float) -> list[str]:
    # 60 fps with an irregular pattern of dropped frames: steps of 1, 2 and 3 sixtieths.
    keep = "select='not(eq(mod(n\\,6)\\,1))*not(eq(mod(n\\,6)\\,3))*not(eq(mod(n\\,6)\\,4))'"
    return [*video_source("320x240", "60", seconds), *tone(seconds), "-vf", keep, "-fps_mode", "vfr",
            *x264(60), *AAC, "-video_track_timescale", "600", "-f", "mp4"]  # fmt: skip


def long_gop_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "30", seconds), *tone(seconds), *x264(300, "bframes=3"), *AAC, "-f", "mp4"]


def open_gop_args(seconds: float) -> list[str]:
    return [
        *video_source("320x240", "30", seconds),
        *tone(seconds),
        *x264(60, "open-gop=1:bframes=3"),
        *AAC,
        "-f",
        "mp4",
    ]


def no_audio_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "30", seconds), *x264(60), "-f", "mp4"]


def two_audio_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "30", seconds), *tone(seconds, 440), *tone(seconds, 660, "mono"),
            "-map", "0:v", "-map", "1:a", "-map", "2:a", *x264(60), *AAC, "-f", "mp4"]  # fmt: skip


def ten_bit_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "25", seconds), *tone(seconds), "-c:v", "libx265", "-preset", "ultrafast",
            "-pix_fmt", "yuv420p10le", "-x265-params", "keyint=50:min-keyint=50:open-gop=0:log-level=error",
            "-tag:v", "hvc1", *AAC, "-f", "mp4"]  # fmt: skip


def odd_dims_args(seconds: float) -> list[str]:
    return [*video_source("321x241", "30", seconds), *tone(seconds), "-c:v", "libx264", "-preset", "veryfast",
            "-pix_fmt", "yuv444p", "-g", "60", *AAC, "-f", "matroska"]  # fmt: skip


def mpeg2_ps_args(seconds: float) -> list[str]:
    return [*video_source("352x288", "25", seconds), *tone(seconds), "-c:v", "mpeg2video", "-q:v", "4", "-bf", "2",
            "-g", "12", "-c:a", "mp2", "-b:a", "192k", "-f", "vob"]  # fmt: skip


def hevc_opus_mkv_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "24", seconds), *tone(seconds), "-c:v", "libx265", "-preset", "ultrafast",
            "-x265-params", "keyint=48:min-keyint=48:open-gop=0:log-level=error", "-c:a", "libopus", "-b:a", "96k",
            "-f", "matroska"]  # fmt: skip


def surround_args(seconds: float) -> list[str]:
    return [*video_source("320x240", "30", seconds), *tone(seconds, 300, "5.1"), *x264(60), "-c:a", "aac",
            "-b:a", "384k", "-f", "mp4"]  # fmt: skip


def _rotated(seconds: float, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "plain.mp4")
        run_ffmpeg([*cfr_args(seconds), str(plain)])
        run_ffmpeg(["-display_rotation", "90", "-i", str(plain), "-c", "copy", "-f", "mp4", str(out)])


def _stream_copy_cut(seconds: float, out: Path) -> None:
    """The first `seconds` of a longer clip by stream copy (`-t S -c copy`), as users cut them: the B-frames
    decoded after the cut are dropped, so the last frame is held, and a constant frame duration is stored."""
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp, "whole.mp4")
        run_ffmpeg([*cfr_args(seconds + 1), str(whole)])
        run_ffmpeg(["-i", str(whole), "-t", f"{seconds}", "-c", "copy", "-f", "mp4", str(out)])


def chapters_metadata(seconds: float, count: int = 2) -> str:
    """An FFMETADATA file with a title and `count` equal chapters (what editors and download tools write)."""
    step = round(seconds * 1000 / count)
    return ";FFMETADATA1\ntitle=A film\n" + "".join(
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={n * step}\nEND={(n + 1) * step}\ntitle=Part {n + 1}\n"
        for n in range(count)
    )


def with_chapters(plain: Path, out: Path, seconds: float, muxer: str = "mp4") -> None:
    """`plain` stream-copied with chapters and a title (`-map_chapters`), in `muxer`."""
    meta = out.with_name(out.name + ".chapters.txt")
    meta.write_text(chapters_metadata(seconds))
    try:
        run_ffmpeg(["-i", str(plain), "-i", str(meta), "-map", "0", "-map_chapters", "1", "-map_metadata", "1",
                    "-c", "copy", "-f", muxer, str(out)])  # fmt: skip
    finally:
        meta.unlink()


def _chapters(seconds: float, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp, "plain.mp4")
        run_ffmpeg([*cfr_args(seconds), str(plain)])
        with_chapters(plain, out, seconds)


ARGS: dict[str, tuple[str, Callable[[float], list[str]]]] = {
    "cfr": (".mp4", cfr_args),
    "vfr": (".mp4", vfr_args),
    "long_gop": (".mp4", long_gop_args),
    "open_gop": (".mp4", open_gop_args),
    "no_audio": (".mp4", no_audio_args),
    "two_audio": (".mp4", two_audio_args),
    "ten_bit": (".mp4", ten_bit_args),
    "odd_dims": (".mkv", odd_dims_args),
    "mpeg2_ps": (".mpg", mpeg2_ps_args),
    "hevc_opus_mkv": (".mkv", hevc_opus_mkv_args),
    "surround": (".mp4", surround_args),
    **INTERLACED,
}
SPECIAL: dict[str, tuple[str, Callable[[float, Path], None]]] = {
    "rotation90": (".mp4", _rotated),
    "packed_avi": (".avi", lambda seconds, out: make_packed_bframes_avi(out, seconds=seconds)),
    "stream_copy_cut": (".mp4", _stream_copy_cut),
    "chapters": (".mp4", _chapters),
}
KINDS = tuple(ARGS) + tuple(SPECIAL)


def make_sample(kind: str, folder: Path, seconds: float = 4.0, name: str | None = None) -> Path:
    """Generate one clip of `kind` into `folder` and return its path."""
    if kind in SPECIAL:
        ext, make = SPECIAL[kind]
        out = folder / f"{name or kind}{ext}"
        make(seconds, out)
        return out
    ext, build = ARGS[kind]
    out = folder / f"{name or kind}{ext}"
    run_ffmpeg([*build(seconds), str(out)], timeout=600)
    return out


def make_clip(out: Path, seconds: float, size: str = "1280x720", rate: int = 30) -> Path:
    """A demo/bench clip: textured 720p30 H.264 + AAC, GOP 2 s."""
    run_ffmpeg([*cfr_args(seconds, size, rate), str(out)], timeout=1800)
    return out
