"""Codec and container tables: encoder names, preset mapping, what each container may hold."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from splitstitch.errors import UsageError

Codec = Literal["h264", "h265", "vp9", "av1"]
CODECS: tuple[Codec, ...] = ("h264", "h265", "vp9", "av1")
X264_PRESETS = (
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
)

ENCODER = {"h264": "libx264", "h265": "libx265", "vp9": "libvpx-vp9", "av1": "libsvtav1"}
PROBE_CODEC = {"h264": "h264", "h265": "hevc", "vp9": "vp9", "av1": "av1"}  # what ffprobe calls each
DEFAULT_CRF = {"h264": 23, "h265": 28, "vp9": 32, "av1": 35}
# x264 preset names mapped onto libvpx `-cpu-used` (deadline good) and SVT-AV1 `-preset`, fastest first.
VP9_CPU_USED = dict(zip(X264_PRESETS, (5, 5, 4, 4, 3, 2, 1, 1, 0, 0), strict=True))
SVT_PRESET = dict(zip(X264_PRESETS, (10, 10, 9, 8, 7, 6, 5, 4, 3, 2), strict=True))

# extension -> (muxer, video codecs it takes, default audio codec, audio codecs that can be copied in)
CONTAINERS: dict[str, tuple[str, set[str], str, set[str]]] = {
    # MP3 is not copied into MP4: its encoder delay (LAME: 576 + 529 samples) is not a whole 1152-sample frame,
    # and a fragmented MP4 can skip it only by an edit list that starts mid-frame, which players do not all
    # honour (FFmpeg's demuxer presents that frame whole, 24 ms early, priming included; players that
    # start the audio at its first sample play it late). Encoded to AAC, the priming is one whole frame.
    ".mp4": ("mp4", {"h264", "h265", "av1", "vp9"}, "aac", {"aac"}),
    ".m4v": ("mp4", {"h264", "h265", "av1"}, "aac", {"aac"}),
    ".mov": ("mov", {"h264", "h265"}, "aac", {"aac"}),
    # AAC priming survives in MP4 (edit list) but not in Matroska, which keeps only Opus' codec delay:
    # Matroska outputs get Opus, and AAC is never copied into them.
    ".mkv": ("matroska", set(CODECS), "opus", {"opus", "vorbis", "flac"}),
    ".webm": ("webm", {"vp9", "av1"}, "opus", {"opus", "vorbis"}),
}
DEFAULT_EXTENSION = {"h264": ".mp4", "h265": ".mp4", "vp9": ".webm", "av1": ".mp4"}
AUDIO_ENCODER = {"aac": "aac", "opus": "libopus"}


@dataclass(frozen=True)
class OutputFormat:
    muxer: str
    extension: str
    audio_codec: str  # what audio is encoded to when it cannot be copied
    audio_copyable: frozenset[str]

    @property
    def fragmented(self) -> bool:
        """MP4-family outputs are assembled from the fragments as they are; others are remuxed."""
        return self.muxer in ("mp4", "mov")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "audio_copyable": sorted(self.audio_copyable)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OutputFormat:
        return cls(**{**d, "audio_copyable": frozenset(d["audio_copyable"])})


def output_format(codec: Codec, output: Path) -> OutputFormat:
    """The container follows OUT's extension; with none, the codec's usual container."""
    ext = output.suffix.lower() or DEFAULT_EXTENSION[codec]
    if ext not in CONTAINERS:
        raise UsageError(f"{output}: unknown output extension '{ext}' (use {', '.join(CONTAINERS)})")
    muxer, video_codecs, audio_codec, copyable = CONTAINERS[ext]
    if codec not in video_codecs:
        raise UsageError(f"{output}: a {ext} file cannot hold {codec}")
    return OutputFormat(muxer, ext, audio_codec, frozenset(copyable))


def codec_tag(codec: Codec, muxer: str) -> str | None:
    """`hvc1` makes HEVC in MP4/MOV play in Apple players."""
    return "hvc1" if codec == "h265" and muxer in ("mp4", "mov") else None
