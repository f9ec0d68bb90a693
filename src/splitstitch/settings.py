"""What the user asked for, as one frozen value passed to every stage (and through the cloud manifest)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from splitstitch.codecs import CODECS, DEFAULT_CRF, X264_PRESETS, Codec
from splitstitch.errors import UsageError

VERIFY_MODES = ("joins", "full")
STREAMING_FORMATS = ("hls", "dash", "cmaf")
DEINTERLACE_MODES = ("auto", "on", "off")  # auto: when the source is interlaced (see interlace.py)


@dataclass(frozen=True)
class Settings:
    codec: Codec = "h264"
    crf: int | None = None  # None: the codec's default
    preset: str = "medium"
    height: int | None = None
    audio_bitrate: str | None = None  # None: 128k for stereo, 64k per channel above that; copy when it fits
    audio_tracks: str = "0"  # "0", "0,1", "all" or "none"
    segment_seconds: float | None = None  # None: planned for the fan-out (see plan.target_seconds)
    encoder_threads: int = 1
    verify: str = "joins"  # "joins": each segment's first frames decoded; "full": every frame decoded
    maxrate_kbps: int | None = None  # a bitrate cap (capped CRF, VBV buffer twice as large); rungs set it
    streaming: str | None = None  # None: one file; "hls", "dash" or "cmaf" (both): a ladder in a folder
    ladder: str = "auto"  # streaming only: "auto" or heights such as "1080,720,480"
    deinterlace: str = "auto"  # "auto": an interlaced source is deinterlaced; "on": always; "off": never
    tonemap: bool = False  # HDR (PQ/HLG) into an 8-bit output: tone-map to SDR instead of refusing

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise UsageError(f"unknown codec {self.codec!r} (choose {', '.join(CODECS)})")
        if self.preset not in X264_PRESETS:
            raise UsageError(f"unknown preset {self.preset!r} (choose {', '.join(X264_PRESETS)})")
        if self.crf is not None and not 0 <= self.crf <= 63:
            raise UsageError(f"crf {self.crf} is out of range 0-63")
        if self.height is not None and not 16 <= self.height <= 8192:
            raise UsageError(f"height {self.height} is out of range 16-8192")
        if self.verify not in VERIFY_MODES:
            raise UsageError(f"unknown verification {self.verify!r} (choose {', '.join(VERIFY_MODES)})")
        if self.streaming not in (None, *STREAMING_FORMATS):
            raise UsageError(f"unknown streaming format {self.streaming!r} (choose {', '.join(STREAMING_FORMATS)})")
        if self.deinterlace not in DEINTERLACE_MODES:
            raise UsageError(f"unknown deinterlace mode {self.deinterlace!r} (choose {', '.join(DEINTERLACE_MODES)})")
        if self.maxrate_kbps is not None and self.maxrate_kbps <= 0:
            raise UsageError("the bitrate cap must be positive")
        if self.segment_seconds is not None and self.segment_seconds <= 0:
            raise UsageError("segment length must be positive")

    @property
    def effective_crf(self) -> int:
        return self.crf if self.crf is not None else DEFAULT_CRF[self.codec]

    def audio_track_numbers(self, available: int) -> list[int]:
        spec = self.audio_tracks.strip().lower()
        if spec == "none" or available == 0:
            return []
        if spec == "all":
            return list(range(available))
        try:
            wanted = [int(part) for part in spec.split(",") if part.strip()]
        except ValueError:
            raise UsageError(f"--audio-tracks {self.audio_tracks!r}: use 'all', 'none' or numbers like 0,1") from None
        missing = [n for n in wanted if not 0 <= n < available]
        if missing:
            raise UsageError(f"audio track {missing[0]} does not exist (the source has {available})")
        return wanted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Settings:
        """Known fields only; a wrong value is a UsageError (from __post_init__)."""
        try:
            return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})
        except TypeError as exc:
            raise UsageError(f"bad settings: {exc}") from None
