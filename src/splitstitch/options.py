"""The settings options, declared once for every command that takes them (`transcode`, `cloud run`,
`cloud event`, `bench`): each option maps to one `Settings` field."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from splitstitch.codecs import CODECS, X264_PRESETS
from splitstitch.errors import UsageError
from splitstitch.settings import DEINTERLACE_MODES, STREAMING_FORMATS, VERIFY_MODES, Settings

STREAM_SUFFIXES = {".m3u8": "hls", ".mpd": "dash"}


def add_settings_arguments(p: argparse.ArgumentParser, *, streaming: bool = True) -> None:
    """Every option defaults to None, so only what was given overrides (the cloud's template defaults, say)."""
    p.add_argument("--codec", choices=CODECS, help="h264 (default), h265, vp9 or av1")
    p.add_argument("--crf", type=int, help="quality (default per codec: h264 23, h265 28, vp9 32, av1 35)")
    p.add_argument("--preset", choices=X264_PRESETS, help="x264 names (default medium), mapped for vp9/av1")
    p.add_argument(
        "--height", type=int, help="scale so the short side is this (720: 1280x720, portrait 720x1280); never upscales"
    )
    p.add_argument("--audio-bitrate", help="e.g. 128k; given, audio is always re-encoded")
    p.add_argument("--audio-tracks", help="'0' (default), '0,1', 'all' or 'none'")
    p.add_argument("--segment-seconds", type=float, help="segment length (default: planned for the fan-out)")
    p.add_argument("--verify", choices=VERIFY_MODES,
                   help="joins (default): each segment's first frames decoded, every byte parsed; full: every frame")  # fmt: skip
    p.add_argument("--deinterlace", choices=DEINTERLACE_MODES,
                   help="auto (default): deinterlace an interlaced source (its field order, checked by idet); on; off")  # fmt: skip
    p.add_argument("--tonemap", action="store_true", default=None,
                   help="an HDR (PQ/HLG) source into 8-bit h264: tone-map to BT.709 SDR (refused otherwise)")  # fmt: skip
    if streaming:
        p.add_argument("--format", choices=STREAMING_FORMATS,
                       help="streaming output into a folder: HLS, DASH, or CMAF (both manifests, one set of files)")  # fmt: skip
        p.add_argument("--ladder", help="streaming: 'auto' (default) or heights such as 1080,720,480")


FIELDS = {"codec": "codec", "crf": "crf", "preset": "preset", "height": "height", "audio_bitrate": "audio_bitrate",
          "audio_tracks": "audio_tracks", "segment_seconds": "segment_seconds", "verify": "verify",
          "format": "streaming", "ladder": "ladder", "deinterlace": "deinterlace", "tonemap": "tonemap"}  # fmt: skip


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The Settings fields the user gave (for upload metadata, or to merge over defaults)."""
    return {field: getattr(args, name) for name, field in FIELDS.items() if getattr(args, name, None) is not None}


def settings_from_args(args: argparse.Namespace, output: Path | None = None) -> Settings:
    """Settings for a local run; an OUT ending in .m3u8 or .mpd picks the streaming format."""
    given = given_settings(args)
    if output is not None and output.suffix.lower() in STREAM_SUFFIXES:
        implied = STREAM_SUFFIXES[output.suffix.lower()]
        if given.get("streaming") not in (None, implied, "cmaf"):
            raise UsageError(f"{output}: a {output.suffix} output is {implied}, not {given['streaming']}")
        given.setdefault("streaming", implied)
    return Settings.from_dict(given)
