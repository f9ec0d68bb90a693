"""Manifest numbers from segment facts (package.py): pure, hand-made renditions."""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction

import pytest

from splitstitch import package
from splitstitch.package import MediaSegment, Rendition

TIMESCALE = 1000


def rendition(*segments: tuple[float, int]) -> Rendition:
    """(seconds, bytes) per segment."""
    made, start = [], 0
    for n, (seconds, size) in enumerate(segments):
        ticks = round(seconds * TIMESCALE)
        made.append(MediaSegment(f"{n:05d}.m4s", start, ticks, size))
        start += ticks
    return Rendition("video", "240p", "video/240p", "init.mp4", "avc1.64000d", TIMESCALE, tuple(made), 320, 240,
                     Fraction(30))  # fmt: skip


@pytest.mark.parametrize(
    ("segments", "target"),
    [
        # RFC 8216 4.3.3.1: each EXTINF rounded to the NEAREST integer is at most EXT-X-TARGETDURATION
        (((6.0, 1), (6.4, 1), (3.0, 1)), 6),
        (((6.006, 1), (6.006, 1), (2.2, 1)), 6),  # 29.97 fps segments of 180 frames: 6, not 7
        (((6.0, 1), (6.5, 1)), 7),  # a half rounds up: the reading that never breaks the rule
        (((6.0, 1), (8.2, 1)), 8),
        (((0.3, 1),), 1),  # never 0
    ],
)
def test_target_duration_is_rfc_8216s_rounding(segments, target: int) -> None:
    r = rendition(*segments)
    assert r.target_duration == target
    playlist = package.media_playlist(r)
    assert f"#EXT-X-TARGETDURATION:{target}\n" in playlist
    extinf = [float(line[8:].rstrip(",")) for line in playlist.splitlines() if line.startswith("#EXTINF:")]
    assert all(math.floor(d + 0.5) <= target for d in extinf)


@pytest.mark.parametrize(
    ("segments", "peak"),
    [
        # every segment at least half the target: the peak is the busiest segment
        (((2.0, 250_000), (2.0, 500_000), (1.0, 100_000)), 2_000_000),
        # a last segment under half the target (7.5 s segments -> target 8, half 4) is never a set on its own:
        # RFC 8216 4.3.4.2 takes it only together with the one before it (4 and 11 Mb/s over 10.5 s: 6 Mb/s)
        (((7.5, 3_750_000), (7.5, 3_750_000), (3.0, 4_125_000)), 6_000_000),
        # a playlist shorter than half its target has no qualifying set: the whole playlist's rate
        (((0.4, 50_000),), 1_000_000),
    ],
)
def test_hls_peak_is_rfc_8216s_peak_segment_bit_rate(segments, peak: int) -> None:
    assert rendition(*segments).peak_bps() == peak


def test_hls_bandwidth_is_the_peak_of_the_rung() -> None:
    r = rendition((7.5, 3_750_000), (7.5, 3_750_000), (3.0, 4_125_000))
    assert "BANDWIDTH=6000000," in package.master_playlist([r], [])


def test_hls_frame_rate_is_the_maximum_and_dash_the_average() -> None:
    vfr = replace(rendition((2.0, 1000)), frame_rate=Fraction(40), max_frame_rate=Fraction(60))
    assert ",FRAME-RATE=60.000\n" in package.master_playlist([vfr], [])
    assert 'frameRate="40/1"' in package.mpd([vfr], [])
    ntsc = replace(rendition((2.0, 1000)), frame_rate=Fraction(30000, 1001))
    assert ",FRAME-RATE=29.970\n" in package.master_playlist([ntsc], [])
