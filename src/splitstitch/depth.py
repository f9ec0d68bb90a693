"""Bit depth and HDR: what the output keeps of the source's, decided once per job (pure).

h265, vp9 (profile 2) and av1 keep 10 bits when the source has more than 8 (12-bit sources are reduced to 10:
SVT-AV1 stops at 10, and players at Main 10). h264 is 8-bit on purpose: High 10 plays almost nowhere. A
depth the output cannot keep is said, never lost silently: "reduced from 10-bit to 8-bit" in the log, in the
report and in its verification. Colour fields and HDR10 side data (mastering display, content light) are
carried by ffmpeg itself from the decoded frames into the encoder and the MP4 `colr`/`mdcv`/`clli` boxes.

HDR (PQ or HLG transfer) in an 8-bit output would need tone mapping: it is refused unless the user asks for
it (`--tonemap`), and then done with zscale + tonemap to BT.709 SDR.
"""

from __future__ import annotations

from dataclasses import dataclass

from splitstitch.errors import UsageError
from splitstitch.media import VideoInfo
from splitstitch.settings import Settings

HDR_TRANSFERS = {"smpte2084": "PQ", "arib-std-b67": "HLG"}
HIGH_DEPTH_CODECS = {"h265", "vp9", "av1"}
MAX_DEPTH = 10  # what the output may keep: Main 10, VP9 profile 2, AV1 Main 10-bit
PIX_FMT = {8: "yuv420p", 10: "yuv420p10le"}
TONEMAP_FILTERS = ("zscale", "tonemap", "sidedata")  # what TONEMAP_CHAIN needs of the ffmpeg build
# Linear light, tone-mapped (Hable) to BT.709 SDR, 8-bit limited range; the HDR10 side data is dropped with it.
TONEMAP_CHAIN = (
    "zscale=transfer=linear:npl=100", "format=gbrpf32le", "zscale=primaries=bt709",
    "tonemap=tonemap=hable:desat=0", "zscale=transfer=bt709:matrix=bt709:range=tv", "format=yuv420p",
    "sidedata=mode=delete:type=MASTERING_DISPLAY_METADATA", "sidedata=mode=delete:type=CONTENT_LIGHT_LEVEL",
)  # fmt: skip


@dataclass(frozen=True)
class Depth:
    """The source's bits per sample and the output's, and whether HDR is tone-mapped to SDR on the way."""

    source_bits: int
    output_bits: int
    tonemap: bool = False
    reason: str = ""  # why the depth is reduced

    @property
    def pix_fmt(self) -> str:
        return PIX_FMT[self.output_bits]

    @property
    def reduced(self) -> bool:
        return self.output_bits < self.source_bits

    def note(self) -> str | None:
        """The one line the log and the report give when the output has fewer bits than the source."""
        if not self.reduced:
            return None
        tonemapped = "; HDR tone-mapped to BT.709 SDR (--tonemap)" if self.tonemap else ""
        return f"video reduced from {self.source_bits}-bit to {self.output_bits}-bit: {self.reason}{tonemapped}"


def hdr_of(video: VideoInfo) -> str | None:
    """ "PQ" or "HLG" when the source's transfer is an HDR one, else None."""
    return HDR_TRANSFERS.get(video.color_transfer or "")


def plan_depth(settings: Settings, video: VideoInfo) -> Depth:
    """The output's depth for `settings.codec`; raises UsageError for HDR that would need tone mapping to
    8-bit unless `settings.tonemap`."""
    source = max(video.bit_depth, 8)
    if source <= 8:
        output, reason = 8, ""
    elif settings.codec in HIGH_DEPTH_CODECS:
        output, reason = min(source, MAX_DEPTH), f"{settings.codec} output is at most {MAX_DEPTH}-bit here"
    else:
        output, reason = 8, f"{settings.codec} is encoded 8-bit for players"
    hdr = hdr_of(video)
    if hdr and output == 8 and source > 8:
        if not settings.tonemap:
            raise UsageError(
                f"{video.bit_depth}-bit HDR ({hdr}) source: {settings.codec} output is 8-bit, which needs tone "
                "mapping; pass --tonemap to tone-map it to SDR, or keep HDR with --codec h265, vp9 or av1"
            )
        return Depth(source, output, True, reason)
    return Depth(source, output, False, reason)


def depth_filters(depth: Depth) -> list[str]:
    """Filters after the geometry: the tone-map chain when asked for (the encoder's pix_fmt does the rest)."""
    return list(TONEMAP_CHAIN) if depth.tonemap else []
