"""An adaptive bitrate ladder: which heights to encode and the bitrate cap of each (capped CRF: the quality
of CRF, with `maxrate`/`bufsize` so that no segment exceeds what a player's bandwidth estimate allows).

The caps follow the usual H.264 ladders for 30 fps (Apple's HLS authoring guidance is in the same range);
HEVC, VP9 and AV1 reach the same quality at about 60% of the rate. A rung's height is the short side of the
displayed picture (rotation applied), as "1080p" names it: a portrait 1080x1920 phone video's 1080p rung is
1080x1920 and its 720p rung 720x1280. Rungs never upscale: a rung above the source's short side is dropped
with a log line, and a ladder that leaves no rung is an error.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from splitstitch.codecs import Codec
from splitstitch.errors import UsageError

log = logging.getLogger(__name__)

H264_MAXRATE_KBPS = {2160: 16000, 1440: 10000, 1080: 6000, 720: 3500, 540: 2500, 480: 1500, 360: 800, 240: 400}
AUTO_HEIGHTS = (2160, 1440, 1080, 720, 480, 360)
EFFICIENT = {"h264": 1.0, "h265": 0.6, "vp9": 0.6, "av1": 0.6}


@dataclass(frozen=True)
class Rung:
    name: str  # "720p": also its folder name
    height: int  # the short side of the displayed picture (the width of a portrait rung)
    maxrate_kbps: int

    @property
    def bufsize_kbps(self) -> int:
        return 2 * self.maxrate_kbps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Rung:
        return cls(**d)


def maxrate_for(height: int, codec: Codec) -> int:
    """The cap of the nearest ladder height at or above `height` (scaled down by pixel count below 240)."""
    above = [h for h in sorted(H264_MAXRATE_KBPS) if h >= height]
    base = H264_MAXRATE_KBPS[above[0]] if above else H264_MAXRATE_KBPS[max(H264_MAXRATE_KBPS)]
    if height < min(H264_MAXRATE_KBPS):
        base = max(100, round(base * (height / min(H264_MAXRATE_KBPS)) ** 2))
    return round(base * EFFICIENT[codec])


def plan_ladder(spec: str, display_size: tuple[int, int], codec: Codec) -> tuple[Rung, ...]:
    """`auto` (the usual heights up to the source's, or the source's own when it is smaller than all of
    them) or a comma list such as `1080,720,480`. Rungs above the source are dropped with a log line.
    `display_size` is the source's width and height as displayed (rotation applied); rungs are named by its
    short side (the width of a portrait source)."""
    source_short = min(display_size)
    text = spec.strip().lower()
    if text == "auto":
        heights = [h for h in AUTO_HEIGHTS if h <= source_short] or [source_short]
    else:
        try:
            heights = sorted({int(part.strip().removesuffix("p")) for part in text.split(",") if part.strip()},
                             reverse=True)  # fmt: skip
        except ValueError:
            raise UsageError(f"--ladder {spec!r}: use 'auto' or heights like 1080,720,480") from None
        if not heights or min(heights) < 16:
            raise UsageError(f"--ladder {spec!r}: heights must be 16 or more")
    kept = []
    for height in heights:
        if height > source_short:
            log.warning("ladder: %dp dropped, the source is %dp (rungs never upscale)", height, source_short)
            continue
        even = height - height % 2
        kept.append(Rung(f"{even}p", even, maxrate_for(even, codec)))
    if not kept:
        raise UsageError(f"--ladder {spec!r}: every rung is above the source's {source_short}p, none is left")
    return tuple(kept)
