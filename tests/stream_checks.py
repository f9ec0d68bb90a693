"""Assertions over a streaming package, each from the tests' own measurements (tests/stream_probe.py):
the numbers in the manifests must equal what the files hold, and the files must hold the source."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from fractions import Fraction
from pathlib import Path

import m3u8

from tests.probe import audio_seconds, ffprobe
from tests.stream_probe import (
    DashRepresentation,
    MediaPlaylist,
    Piece,
    average_bps,
    codec_string,
    dash_representations,
    frame_times,
    hls_peak_bps,
    hls_uris,
    joined,
    max_segment_bps,
    media_playlist,
    piece,
    rung_frame_times,
    stream_of,
)


def video_playlists(master: Path) -> dict[str, MediaPlaylist]:
    """Each variant's media playlist, by its folder name (the rung)."""
    parsed = m3u8.load(str(master))
    return {Path(p.uri).parent.name: media_playlist(master.parent / p.uri) for p in parsed.playlists}


def audio_playlists(master: Path) -> dict[str, MediaPlaylist]:
    parsed = m3u8.load(str(master))
    return {Path(m.uri).parent.name: media_playlist(master.parent / m.uri) for m in parsed.media if m.type == "AUDIO"}


def assert_every_uri_exists(master: Path | None, mpd: Path | None) -> None:
    uris: list[Path] = []
    if master is not None:
        uris += hls_uris(master)
    if mpd is not None:
        for rep in dash_representations(mpd):
            uris += [rep.init, *rep.segments]
    assert uris
    missing = [u for u in uris if not u.is_file()]
    assert not missing, missing


def assert_hls_durations_equal_the_plan(master: Path, report: dict) -> None:
    planned = [s["duration_s"] for s in report["plan"]["segments"]]
    for rung, media in video_playlists(master).items():
        extinf = [s.duration for s in media.playlist.segments]
        assert extinf == planned, (rung, extinf, planned)
        measured = [round(float(p.duration), 6) for p in media.pieces()]
        assert extinf == measured, (rung, extinf, measured)
        assert media.playlist.version == 7
        # RFC 8216 4.3.3.1: each EXTINF rounded to the nearest integer is at most the target (and the target
        # is the least that is: Apple's authoring spec asks for the target the segments are cut for)
        rounded = [math.floor(Fraction(d) + Fraction(1, 2)) for d in extinf]
        assert max(rounded) == media.playlist.target_duration, (rung, extinf, media.playlist.target_duration)
    for name, media in audio_playlists(master).items():
        measured = [round(float(p.duration), 6) for p in media.pieces()]
        assert [s.duration for s in media.playlist.segments] == measured, name


def assert_dash_timeline_equals_the_files(mpd: Path, report: dict) -> None:
    planned = [(Fraction(s["start_s"]).limit_denominator(10**6), Fraction(s["duration_s"]).limit_denominator(10**6))
               for s in report["plan"]["segments"]]  # fmt: skip
    for rep in dash_representations(mpd):
        pieces = [piece(rep.init, s) for s in rep.segments]
        timeline = [(Fraction(t, rep.timescale), Fraction(d, rep.timescale)) for t, d in rep.timeline]
        assert timeline == [(p.first_dts, p.duration) for p in pieces], rep.representation.id
        if rep.content_type == "video":
            assert [(round(float(t), 6), round(float(d), 6)) for t, d in timeline] == [
                (float(t), float(d)) for t, d in planned]  # fmt: skip


def assert_master_attributes_are_measured(master: Path) -> None:
    """BANDWIDTH, AVERAGE-BANDWIDTH, CODECS, RESOLUTION and FRAME-RATE of every variant, each measured here."""
    parsed = m3u8.load(str(master))
    audios = list(audio_playlists(master).values())
    audio_pieces = [a.pieces() for a in audios]
    audio_peak = max((hls_peak_bps(p, a.playlist.target_duration) for a, p in zip(audios, audio_pieces, strict=True)),
                     default=0)  # fmt: skip
    audio_average = max((average_bps(p) for p in audio_pieces), default=0)
    audio_codecs = sorted({codec_string(a.init, a.segments[0]) for a in audios})
    for variant in parsed.playlists:
        media = media_playlist(master.parent / variant.uri)
        pieces = media.pieces()
        info, video = variant.stream_info, stream_of(media.init, media.segments[0])
        assert info.bandwidth == hls_peak_bps(pieces, media.playlist.target_duration) + audio_peak, variant.uri
        assert info.average_bandwidth == average_bps(pieces) + audio_average, variant.uri
        assert info.codecs == ",".join([codec_string(media.init, media.segments[0]), *audio_codecs])
        h, v = (int(n) for n in video.get("sample_aspect_ratio", "1:1").split(":"))
        sar = Fraction(h, v) if h and v else Fraction(1)  # ffprobe's 0:1 is "unknown": square
        assert info.resolution == (round(video["width"] * sar), video["height"])  # the display size
        times = rung_frame_times(media.init, media.segments)
        fastest = 1 / min(b - a for a, b in itertools.pairwise(times))
        assert info.frame_rate == round(float(fastest), 3), (info.frame_rate, fastest)  # HLS: the maximum
        assert info.audio == ("audio" if audios else None)
    media = [m for m in parsed.media if m.type == "AUDIO"]
    for m, a in zip(media, audios, strict=True):
        assert m.channels == str(stream_of(a.init, a.segments[0])["channels"])
        assert m.autoselect == "YES" or m.default != "YES"  # RFC 8216 4.3.4.1
    assert [m.default for m in media].count("YES") == (1 if media else 0)  # one default in the one group


def never_stalls(pieces: list[Piece], bandwidth: int, min_buffer: Fraction) -> bool:
    """ISO/IEC 23009-1 @bandwidth: delivered at `bandwidth` from any segment start, with playout starting
    `min_buffer` after the first bit, every later segment has arrived whole when it is due to play."""
    for first in range(len(pieces)):
        arrived, due = Fraction(0), min_buffer
        for p in pieces[first:]:
            arrived += Fraction(p.size * 8, bandwidth)
            if arrived > due:
                return False
            due += p.duration
    return True


def iso_seconds(duration: str) -> Fraction:
    match = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", duration)
    assert match, duration
    return Fraction(match.group(1))


def assert_mpd_attributes_are_measured(mpd: Path) -> None:
    root = ET.parse(mpd).getroot()
    min_buffer = iso_seconds(root.attrib["minBufferTime"])
    longest = Fraction(0)
    for rep in dash_representations(mpd):
        r = rep.representation
        pieces = [piece(rep.init, s) for s in rep.segments]
        stream = stream_of(rep.init, rep.segments[0])
        assert never_stalls(pieces, r.bandwidth, min_buffer), r.id  # the rule for @bandwidth
        assert not never_stalls(pieces, r.bandwidth - 1, min_buffer), r.id  # and no more than it needs
        assert r.bandwidth <= max_segment_bps(pieces) or min_buffer < max(p.duration for p in pieces)
        longest = max(longest, *(p.duration for p in pieces))
        assert r.codecs == codec_string(rep.init, rep.segments[0])
        if rep.content_type == "video":
            assert (r.width, r.height) == (stream["width"], stream["height"])
            sar = stream.get("sample_aspect_ratio", "1:1")
            assert r.sar == ("1:1" if sar == "0:1" else sar), (r.sar, sar)
            times = rung_frame_times(rep.init, rep.segments)
            seconds = sum((p.duration for p in pieces), Fraction(0))
            assert abs(Fraction(r.frame_rate) - len(times) / seconds) < Fraction(1, 1000)  # DASH: the average
        else:
            assert r.audio_sampling_rate == stream["sample_rate"]
            (config,) = r.audio_channel_configurations
            assert config.value == str(stream["channels"])  # 23003-3 configurations 2 and 6 are 2 and 6 channels
    assert longest <= iso_seconds(root.attrib["maxSegmentDuration"]) < longest + Fraction(1, 1000)


def video_pieces(master: Path | None, mpd: Path | None) -> dict[str, list[Piece]]:
    if master is not None:
        return {rung: media.pieces() for rung, media in video_playlists(master).items()}
    assert mpd is not None
    reps: list[DashRepresentation] = [r for r in dash_representations(mpd) if r.content_type == "video"]
    return {r.representation.id: [piece(r.init, s) for s in r.segments] for r in reps}


def assert_segments_align_across_rungs(master: Path | None, mpd: Path | None, report: dict) -> None:
    """The same decode time, first presentation time and duration for segment i of every rung, continuous,
    on the plan's cut points."""
    rungs = video_pieces(master, mpd)
    assert len(rungs) == len(report["output"]["rungs"])
    starts = [round(s["start_s"], 6) for s in report["plan"]["segments"]]
    for name, pieces in rungs.items():
        assert [round(float(p.first_dts), 6) for p in pieces] == starts, name
        assert len({p.first_pts - p.first_dts for p in pieces}) == 1, name  # each segment starts the same way
        for a, b in itertools.pairwise(pieces):
            assert a.first_dts + a.duration == b.first_dts, name
    first = next(iter(rungs.values()))
    for name, pieces in rungs.items():
        assert [(p.first_dts, p.duration, p.packets) for p in pieces] == [
            (p.first_dts, p.duration, p.packets) for p in first], name  # fmt: skip


def assert_every_rung_decodes_every_source_frame(master: Path | None, mpd: Path | None, source: Path) -> None:
    expected = frame_times(source)
    if master is not None:
        rungs = {name: (m.init, m.segments) for name, m in video_playlists(master).items()}
    else:
        assert mpd is not None
        rungs = {
            r.representation.id: (r.init, r.segments) for r in dash_representations(mpd) if r.content_type == "video"
        }
    assert rungs
    for name, (init, segments) in rungs.items():
        got = rung_frame_times(init, segments)
        assert len(got) == len(expected), (name, len(got), len(expected))
        assert got == expected, name


def audio_renditions(master: Path | None, mpd: Path | None) -> dict[str, tuple[Path, list[Path]]]:
    if master is not None:
        return {name: (m.init, m.segments) for name, m in audio_playlists(master).items()}
    assert mpd is not None
    return {r.representation.id: (r.init, r.segments) for r in dash_representations(mpd) if r.content_type == "audio"}


def assert_audio_renditions(master: Path | None, mpd: Path | None, source: Path) -> dict[str, dict]:
    """Every rendition AAC-LC, each as long as the source's audio (within 20 ms); returns ffprobe's stream
    and the measured bit rate per rendition."""
    renditions = audio_renditions(master, mpd)
    src_seconds = audio_seconds(source, 0) if renditions else 0.0
    found = {}
    for name, (init, segments) in renditions.items():
        path = joined(init, *segments)
        try:
            stream = ffprobe("-show_streams", str(path))["streams"][0]
            seconds = audio_seconds(path, 0)
        finally:
            path.unlink()
        assert (stream["codec_name"], stream["profile"]) == ("aac", "LC"), name
        assert abs(seconds - src_seconds) <= 0.020, (name, seconds, src_seconds)
        size = init.stat().st_size + sum(s.stat().st_size for s in segments)
        found[name] = stream | {"kbps": size * 8 / seconds / 1000}
    return found


def manifests(folder: Path, fmt: str, entry: str | None = None) -> tuple[Path | None, Path | None]:
    """The master playlist and the MPD a package of `fmt` has (None where it has none)."""
    master = entry if entry and entry.endswith(".m3u8") else "master.m3u8"
    mpd = entry if entry and entry.endswith(".mpd") else "manifest.mpd"
    return (folder / master if fmt in ("hls", "cmaf") else None, folder / mpd if fmt in ("dash", "cmaf") else None)


def assert_package(folder: Path, fmt: str, report: dict, source: Path, entry: str | None = None) -> None:
    """Everything above for one package (HLS parts for hls/cmaf, DASH parts for dash/cmaf)."""
    master, mpd = manifests(folder, fmt, entry)
    assert report["verification"]["ok"] is True
    assert_every_uri_exists(master, mpd)
    if master is not None:
        assert_hls_durations_equal_the_plan(master, report)
        assert_master_attributes_are_measured(master)
    if mpd is not None:
        assert_dash_timeline_equals_the_files(mpd, report)
        assert_mpd_attributes_are_measured(mpd)
    assert_segments_align_across_rungs(master, mpd, report)
    assert_every_rung_decodes_every_source_frame(master, mpd, source)
    assert_audio_renditions(master, mpd, source)
