"""The tests' own reading of a streaming package: playlists through the `m3u8` package, the MPD through
`mpegdash`, and every number (durations, decode times, sizes, codecs, frames) measured with ffprobe on the
files, never taken from the code under test."""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import m3u8
from mpegdash.parser import MPEGDASHParser

from tests.probe import ffprobe

H264_PROFILES = {"Constrained Baseline": 66, "Baseline": 66, "Main": 77, "Extended": 88, "High": 100,
                 "High 10": 110, "High 4:2:2": 122, "High 4:4:4 Predictive": 244}  # fmt: skip
AAC_OBJECT_TYPES = {"LC": 2, "HE-AAC": 5, "HE-AACv2": 29}


@dataclass(frozen=True)
class Piece:
    """One media segment as ffprobe reads it after its init segment."""

    path: Path
    size: int
    first_dts: Fraction  # seconds: the fragment's decode time (tfdt)
    first_pts: Fraction  # ffmpeg's mov demuxer adds a constant to every pts where composition offsets are negative
    duration: Fraction  # seconds: the sum of its samples' durations
    packets: int


def _time(value: str | int, time_base: Fraction) -> Fraction:
    return int(value) * time_base


def joined(init: Path, *segments: Path) -> Path:
    """init + segments in one temporary file (fragmented MP4 concatenates byte-wise)."""
    fd, name = tempfile.mkstemp(suffix=".mp4")
    with open(fd, "wb") as f:
        for part in (init, *segments):
            f.write(part.read_bytes())
    return Path(name)


def piece(init: Path, segment: Path) -> Piece:
    path = joined(init, segment)
    try:
        # the raw decode times (tfdt): an audio init's edit list (encoder priming) is not applied
        data = ffprobe("-ignore_editlist", "1", "-show_entries", "packet=pts,dts,duration:stream=time_base", str(path))
    finally:
        path.unlink()
    tb = Fraction(data["streams"][0]["time_base"])
    packets = data["packets"]
    return Piece(segment, segment.stat().st_size, _time(packets[0]["dts"], tb),
                 min(_time(p["pts"], tb) for p in packets), sum(_time(p["duration"], tb) for p in packets),
                 len(packets))  # fmt: skip


def frame_times(path: Path) -> list[Fraction]:
    """Presentation time of every decoded video frame, relative to the first, exact (ticks x time base)."""
    data = ffprobe("-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp:stream=time_base",
                   str(path))  # fmt: skip
    tb = Fraction(data["streams"][0]["time_base"])
    stamps = [int(f["best_effort_timestamp"]) * tb for f in data["frames"]]
    return [t - stamps[0] for t in stamps]


def rung_frame_times(init: Path, segments: list[Path]) -> list[Fraction]:
    path = joined(init, *segments)
    try:
        return frame_times(path)
    finally:
        path.unlink()


def stream_of(init: Path, segment: Path) -> dict:
    """ffprobe's stream of init + one segment (AAC's profile is only known once a packet is read)."""
    path = joined(init, segment)
    try:
        return ffprobe("-show_streams", "-show_data", str(path))["streams"][0]
    finally:
        path.unlink()


def codec_string(init: Path, segment: Path) -> str:
    """RFC 6381 from ffprobe's profile and level (H.264: constraint flags from the SPS itself; AAC: object
    type from the profile name)."""
    s = stream_of(init, segment)
    if s["codec_name"] == "h264":
        extradata = bytes.fromhex("".join(re.findall(r"^[0-9a-f]+: ((?:[0-9a-f]{2,4} )+)", s["extradata"], re.M))
                                  .replace(" ", ""))  # fmt: skip
        sps = extradata.index(b"\x67")  # the SPS NAL header; next: profile_idc, constraint flags, level_idc
        assert extradata[sps + 1] == H264_PROFILES[s["profile"]]
        return f"{s['codec_tag_string']}.{H264_PROFILES[s['profile']]:02x}{extradata[sps + 2]:02x}{int(s['level']):02x}"
    if s["codec_name"] == "aac":
        return f"mp4a.40.{AAC_OBJECT_TYPES[s['profile']]}"
    raise AssertionError(f"no codec string rule for {s['codec_name']}")


def bps(size: int, seconds: Fraction) -> int:
    return math.ceil(size * 8 / seconds)


def max_segment_bps(pieces: list[Piece]) -> int:
    return max(bps(p.size, p.duration) for p in pieces)


def average_bps(pieces: list[Piece]) -> int:
    return bps(sum(p.size for p in pieces), sum((p.duration for p in pieces), Fraction(0)))


def hls_peak_bps(pieces: list[Piece], target: int) -> int:
    """RFC 8216 4.3.4.2: the largest bit rate of any contiguous set of segments whose total duration is
    between 0.5 and 1.5 times the target duration."""
    best = 0
    for i in range(len(pieces)):
        for j in range(i + 1, len(pieces) + 1):
            run = pieces[i:j]
            seconds = sum((p.duration for p in run), Fraction(0))
            if Fraction(target, 2) <= seconds <= Fraction(3 * target, 2):
                best = max(best, bps(sum(p.size for p in run), seconds))
    return best


@dataclass(frozen=True)
class MediaPlaylist:
    path: Path
    playlist: m3u8.M3U8

    @property
    def folder(self) -> Path:
        return self.path.parent

    @property
    def init(self) -> Path:
        (section,) = {s.init_section.uri for s in self.playlist.segments}
        return self.folder / section

    @property
    def segments(self) -> list[Path]:
        return [self.folder / s.uri for s in self.playlist.segments]

    def pieces(self) -> list[Piece]:
        return [piece(self.init, s) for s in self.segments]


def media_playlist(path: Path) -> MediaPlaylist:
    playlist = m3u8.load(str(path))
    assert not playlist.is_variant and playlist.is_endlist and playlist.playlist_type == "vod", path
    return MediaPlaylist(path, playlist)


def hls_uris(master_path: Path) -> list[Path]:
    """Every file the master playlist and its media playlists refer to, as paths."""
    master = m3u8.load(str(master_path))
    assert master.is_variant
    found = []
    for uri in [p.uri for p in master.playlists] + [m.uri for m in master.media if m.uri]:
        path = master_path.parent / uri
        found.append(path)
        media = media_playlist(path)
        found += [media.init, *media.segments]
    return found


@dataclass(frozen=True)
class DashRepresentation:
    content_type: str
    representation: object
    timescale: int
    init: Path
    segments: list[Path]
    timeline: list[tuple[int, int]]  # (t, d) per segment, in the timescale


def dash_representations(mpd_path: Path) -> list[DashRepresentation]:
    mpd = MPEGDASHParser.parse(str(mpd_path))
    assert mpd.type == "static" and len(mpd.periods) == 1
    found = []
    for aset in mpd.periods[0].adaptation_sets:
        for rep in aset.representations:
            (template,) = rep.segment_templates
            timeline: list[tuple[int, int]] = []
            for s in template.segment_timelines[0].Ss:
                t = s.t if s.t is not None else timeline[-1][0] + timeline[-1][1]
                for k in range((s.r or 0) + 1):
                    timeline.append((t + k * s.d, s.d))
            number = template.start_number if template.start_number is not None else 1
            media = [re.sub(r"\$Number%0(\d+)d\$", lambda m, n=n: f"{n:0{m.group(1)}d}", template.media)
                     for n in range(number, number + len(timeline))]  # fmt: skip
            found.append(DashRepresentation(aset.content_type, rep, template.timescale,
                                            mpd_path.parent / template.initialization,
                                            [mpd_path.parent / m for m in media], timeline))  # fmt: skip
    return found
