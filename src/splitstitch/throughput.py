"""How long a segment takes to encode, before anything is encoded: a deliberately pessimistic estimate that
keeps every segment far inside a Lambda's 15 minutes, and that the planner uses to cap segment length.

The anchor is measured here (shared/FACTS.md): x264 `medium` at one thread on one vCPU encodes 720p
animation at about 31 frames/s and noisy synthetic 720p at about 15 frames/s; the estimate uses the noisy
figure. Other presets and codecs are scaled by the factors below (rough ratios of their published speed to
x264 medium at equal resolution; libx265/libvpx-vp9/SVT-AV1 at the mapped presets are several times
slower). The benchmark measures the real figures (`splitstitch bench`); this table only has to err slow.
"""

from __future__ import annotations

from splitstitch.codecs import Codec

ANCHOR_PIXELS_PER_S = 1280 * 720 * 15.0  # x264 medium, 1 thread, 1 vCPU, noisy 720p (pessimistic)
PRESET_SPEED = {
    "ultrafast": 8.0, "superfast": 5.0, "veryfast": 3.5, "faster": 2.2, "fast": 1.5, "medium": 1.0,
    "slow": 0.6, "slower": 0.3, "veryslow": 0.15, "placebo": 0.05,
}  # fmt: skip
CODEC_SPEED = {"h264": 1.0, "h265": 0.25, "vp9": 0.3, "av1": 0.3}
THREAD_EFFICIENCY = 0.7  # each vCPU beyond the first adds this much of one (checked by the benchmark)
STARTUP_SECONDS = 1.3  # per segment, before its frames: ffmpeg and x264 start-up, the seek's GOP decoded
#                        (the benchmark's encode fits at 1 vCPU: 1.27-1.36 s for 720p-1440p x264 medium)


def encode_seconds(width: int, height: int, frames: float, codec: Codec, preset: str, vcpus: float = 1.0) -> float:
    """Estimated wall seconds to encode `frames` frames of `width`x`height` (output size) on `vcpus`."""
    speed = ANCHOR_PIXELS_PER_S * PRESET_SPEED[preset] * CODEC_SPEED[codec]
    share = vcpus if vcpus <= 1.0 else 1.0 + THREAD_EFFICIENCY * (vcpus - 1.0)
    return width * height * frames / (speed * share)
