"""The spec rules themselves, checked on manifests made from hand-made renditions (package.py): RFC 8216 and
Apple's HLS authoring spec for the playlists, ISO/IEC 23009-1 and DASH-IF IOP for the MPD. Each rule is
written here as the spec states it, independently of how package.py computes the values."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest

from splitstitch import package
from splitstitch.languages import ISO_639_2_TO_1, rfc5646
from splitstitch.package import MediaSegment, Rendition

NS = {"d": "urn:mpeg:dash:schema:mpd:2011"}
TIMESCALE = 90000


def video(*segments: tuple[float, int], width: int = 640, height: int = 360, sar: Fraction = Fraction(1)) -> Rendition:
    """(seconds, bytes) per segment."""
    made, start = [], 0
    for n, (seconds, size) in enumerate(segments):
        ticks = round(seconds * TIMESCALE)
        made.append(MediaSegment(f"{n:05d}.m4s", start, ticks, size))
        start += ticks
    return Rendition("video", f"{height}p", f"video/{height}p", "init.mp4", "avc1.64001e", TIMESCALE, tuple(made),
                     width, height, Fraction(30), sar=sar)  # fmt: skip


def audio(name: str, language: str = "", channels: int = 2) -> Rendition:
    segments = (MediaSegment("00000.m4s", 0, 6 * 48000, 96_000), MediaSegment("00001.m4s", 6 * 48000, 48000, 16_000))
    return Rendition("audio", name, f"audio/{name}", "init.mp4", "mp4a.40.2", 48000, segments, channels=channels,
                     sample_rate=48000, language=language)  # fmt: skip


def seconds_of(duration: str) -> Fraction:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", duration)
    assert match, duration
    return Fraction(match.group(1))


def never_stalls(segments: list[tuple[Fraction, int]], bandwidth: int, min_buffer: Fraction) -> bool:
    """ISO/IEC 23009-1 5.3.5.2 (@bandwidth) as a playout: start delivery at any segment (each starts with a SAP)
    at `bandwidth` bits per second; playout starts min_buffer after the first bit; each later segment must
    have arrived whole when its playout is due."""
    for first in range(len(segments)):
        arrived, due = Fraction(0), min_buffer
        for seconds, size in segments[first:]:
            arrived += Fraction(size * 8, bandwidth)
            if arrived > due:
                return False
            due += seconds
    return True


def mpd_facts(text: str) -> tuple[ET.Element, Fraction, list[tuple[ET.Element, list[tuple[Fraction, int]]]]]:
    root = ET.fromstring(text)
    reps = []
    for rep in root.iterfind(".//d:Representation", NS):
        template = rep.find("d:SegmentTemplate", NS)
        assert template is not None
        scale = int(template.attrib["timescale"])
        durations = []
        for s in template.iterfind("d:SegmentTimeline/d:S", NS):
            durations += [Fraction(int(s.attrib["d"]), scale)] * (int(s.attrib.get("r", "0")) + 1)
        reps.append((rep, durations))
    return root, seconds_of(root.attrib["minBufferTime"]), reps


BUSY = [
    [(6.0, 750_000)] * 5,  # constant: 1 Mb/s
    [(6.0, 300_000), (6.0, 3_000_000), (6.0, 300_000), (2.2, 900_000)],  # one busy segment, a short last one
    [(6.0, 300_000), (6.0, 2_000_000), (6.0, 2_000_000), (6.0, 2_000_000), (6.0, 100_000)],  # a busy run
    [(4.004, 700_000), (6.006, 2_400_000), (5.5055, 100_000), (6.006, 1_900_000), (0.5, 400_000)],
]


@pytest.mark.parametrize("segments", BUSY)
def test_dash_bandwidth_meets_the_min_buffer_time_rule_and_is_the_least_that_does(segments) -> None:
    r = video(*segments)
    _, min_buffer, ((rep, durations),) = mpd_facts(package.mpd([r], []))
    sizes = [s.size for s in r.segments]
    bandwidth = int(rep.attrib["bandwidth"])
    assert never_stalls(list(zip(durations, sizes, strict=True)), bandwidth, min_buffer)
    assert not never_stalls(list(zip(durations, sizes, strict=True)), bandwidth - 1, min_buffer)


@pytest.mark.parametrize("min_buffer", [Fraction(2), Fraction(6), Fraction(6006, 1000), Fraction(1, 3)])
@pytest.mark.parametrize("segments", BUSY)
def test_dash_bandwidth_for_any_min_buffer_time(segments, min_buffer: Fraction) -> None:
    r = video(*segments)
    pairs = [(Fraction(s.duration, TIMESCALE), s.size) for s in r.segments]
    bandwidth = package.dash_bandwidth([(s.duration, s.size) for s in r.segments], TIMESCALE, min_buffer)
    assert never_stalls(pairs, bandwidth, min_buffer)
    assert not never_stalls(pairs, bandwidth - 1, min_buffer)


def test_max_segment_duration_covers_every_segment_of_every_representation() -> None:
    v = video((6.006, 1000), (6.4, 1000), (2.0, 1000))
    root, _, reps = mpd_facts(package.mpd([v], [audio("a0-stereo")]))
    longest = max(d for _, durations in reps for d in durations)
    declared = seconds_of(root.attrib["maxSegmentDuration"])
    assert longest <= declared < longest + Fraction(1, 1000)


@pytest.mark.parametrize(
    ("sar", "expected"), [(Fraction(1), "1:1"), (Fraction(16, 15), "16:15"), (Fraction(4, 3), "4:3")]
)
def test_every_video_representation_has_its_sar(sar: Fraction, expected: str) -> None:
    _, _, ((rep, _),) = mpd_facts(package.mpd([video((6.0, 1000), width=720, height=576, sar=sar)], []))
    assert rep.attrib["sar"] == expected
    assert (rep.attrib["width"], rep.attrib["height"]) == ("720", "576")  # on the grid of @sar: the coded size


@pytest.mark.parametrize(
    ("width", "height", "sar", "resolution"),
    [(640, 360, Fraction(1), "640x360"), (720, 576, Fraction(16, 15), "768x576"), (1440, 1080, Fraction(4, 3), "1920x1080"),
     (720, 480, Fraction(8, 9), "640x480")],
)  # fmt: skip
def test_hls_resolution_is_the_display_size(width: int, height: int, sar: Fraction, resolution: str) -> None:
    master = package.master_playlist([video((6.0, 1000), width=width, height=height, sar=sar)], [])
    assert f",RESOLUTION={resolution}," in master


def media_tags(master: str) -> list[dict[str, str]]:
    tags = []
    for line in master.splitlines():
        if line.startswith("#EXT-X-MEDIA:"):
            tags.append(dict(re.findall(r'([A-Z-]+)=("[^"]*"|[^,]*)', line[len("#EXT-X-MEDIA:") :])))
    return [{k: v.strip('"') for k, v in t.items()} for t in tags]


AUDIO_SETS = [
    [audio("a0-stereo", "en")],
    [audio("a0-stereo", "en"), audio("a0-5.1", "en", 6)],
    [audio("a0-stereo", "en"), audio("a1-stereo", "fr"), audio("a1-5.1", "fr", 6)],
    [audio("a0-stereo", "und"), audio("a1-stereo", "und")],  # the same language and channels twice
    [audio("a0-stereo", "de"), audio("a1-stereo", "de"), audio("a2-stereo", "it")],
]


@pytest.mark.parametrize("audios", AUDIO_SETS)
def test_hls_default_and_autoselect_follow_rfc_8216(audios: list[Rendition]) -> None:
    tags = media_tags(package.master_playlist([video((6.0, 1000))], audios))
    groups: dict[str, list[dict[str, str]]] = {}
    for t in tags:
        groups.setdefault(t["GROUP-ID"], []).append(t)
    for members in groups.values():
        assert sum(t.get("DEFAULT") == "YES" for t in members) <= 1  # 4.3.4.1.1: at most one default per group
        assert any(t.get("DEFAULT") == "YES" for t in members)  # a player with no preference gets one
        for t in members:
            if t.get("DEFAULT") == "YES":
                assert t.get("AUTOSELECT", "NO") == "YES"  # 4.3.4.1: AUTOSELECT MUST be YES if DEFAULT is YES
        assert len({t["NAME"] for t in members}) == len(members)  # NAME unique within the group
        auto = [(t.get("LANGUAGE"), t.get("CHANNELS"), t.get("CHARACTERISTICS")) for t in members
                if t.get("AUTOSELECT") == "YES"]  # fmt: skip
        assert len(set(auto)) == len(auto)  # 4.3.4.1.1: auto-selectable members can be told apart


TAG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


@pytest.mark.parametrize(
    ("source", "tag"),
    [("eng", "en"), ("fre", "fr"), ("fra", "fr"), ("ger", "de"), ("chi", "zh"), ("haw", "haw"), ("yue", "yue"),
     ("und", "und"), (None, "und"), ("", "und"), ("English", "und"), ("en-US", "en-US"), ("zxx", "zxx")],
)  # fmt: skip
def test_language_is_an_rfc_5646_tag(source: str | None, tag: str) -> None:
    assert rfc5646(source) == tag
    assert TAG.match(tag)
    primary = tag.split("-")[0]
    assert not (len(primary) == 3 and primary in ISO_639_2_TO_1)  # RFC 5646 2.2.1: the shortest ISO 639 code
    master = package.master_playlist([video((6.0, 1000))], [audio("a0-stereo", tag)])
    assert media_tags(master)[0]["LANGUAGE"] == tag
    root = ET.fromstring(package.mpd([video((6.0, 1000))], [audio("a0-stereo", tag)]))
    sets = [s for s in root.iterfind(".//d:AdaptationSet", NS) if s.attrib["contentType"] == "audio"]
    assert [s.attrib["lang"] for s in sets] == [tag]


def test_hls_target_duration_and_apple_segment_length() -> None:
    """RFC 8216 4.3.3.1 on a 29.97 fps, 6 s target: EXTINF of 6.006 rounds to 6, so the target stays 6
    (Apple's authoring spec: a target duration of 6)."""
    r = video((6.006, 1000), (6.006, 1000), (2.2, 1000))
    playlist = package.media_playlist(r)
    target = int(re.search(r"#EXT-X-TARGETDURATION:(\d+)", playlist).group(1))  # type: ignore[union-attr]
    extinf = [Fraction(x) for x in re.findall(r"#EXTINF:([\d.]+),", playlist)]
    assert target == 6
    assert all(int(d + Fraction(1, 2)) <= target for d in extinf)
