"""Streaming manifests from what was written: HLS (master + media playlists) and a DASH MPD that point at the
same CMAF files. Pure text from facts; durations come from the segments themselves (which match the plan),
bandwidths from their sizes, codec strings from the init segments' sample entries.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from fractions import Fraction
from xml.sax.saxutils import quoteattr

from splitstitch import fmp4

HLS_VERSION = 7  # fragmented MP4 segments (EXT-X-MAP) need version 6 or later; 7 for SERVICE renditions' rules


def hls_target_duration(seconds: Fraction) -> int:
    """RFC 8216 4.3.3.1: every EXTINF duration, rounded to the nearest integer, is at most the target duration
    (a half rounds up here: the reading that never breaks the rule). At least 1."""
    return max(1, math.floor(seconds + Fraction(1, 2)))


@dataclass(frozen=True)
class MediaSegment:
    uri: str  # relative to the rendition's folder
    start: int  # decode time of its first sample, in the rendition's timescale
    duration: int  # in the rendition's timescale
    size: int  # bytes


@dataclass(frozen=True)
class Rendition:
    kind: str  # "video" or "audio"
    name: str  # "720p", "stereo"
    folder: str  # relative to the output folder, e.g. "video/720p"
    init: str  # init segment file name inside the folder
    codecs: str
    timescale: int
    segments: tuple[MediaSegment, ...]
    width: int = 0
    height: int = 0
    frame_rate: Fraction | None = None  # the average (DASH @frameRate)
    channels: int = 0
    sample_rate: int = 0
    max_frame_rate: Fraction | None = None  # from the shortest frame step (HLS FRAME-RATE is the maximum)
    sar: Fraction = Fraction(1)  # sample (pixel) aspect ratio of the coded picture (the init's `pasp`)
    language: str = ""  # RFC 5646 (audio; see languages.py)

    @property
    def display_size(self) -> tuple[int, int]:
        """The picture as shown: an anamorphic picture's width stretched by its sample aspect ratio."""
        return round(self.width * self.sar), self.height

    @property
    def seconds(self) -> float:
        return sum(s.duration for s in self.segments) / self.timescale

    @property
    def target_duration(self) -> int:
        """HLS EXT-X-TARGETDURATION: the longest segment rounded to the nearest integer (RFC 8216 4.3.3.1)."""
        return max((hls_target_duration(Fraction(s.duration, self.timescale)) for s in self.segments), default=1)

    def peak_bps(self) -> int:
        """HLS BANDWIDTH's peak segment bit rate (RFC 8216 4.3.4.2): the largest bit rate of any contiguous
        set of segments lasting between 0.5 and 1.5 target durations (a short last segment counts only with
        the one before it); the whole playlist's rate when no set qualifies."""
        low, high = self.target_duration * self.timescale, 3 * self.target_duration * self.timescale  # x2 ticks
        best = 0
        for i in range(len(self.segments)):
            size = ticks = 0
            for s in self.segments[i:]:
                size, ticks = size + s.size, ticks + s.duration
                if 2 * ticks > high:
                    break
                if 2 * ticks >= low:
                    best = max(best, math.ceil(size * 8 * self.timescale / ticks))
        return best or self.average_bps()

    def longest_segment(self) -> Fraction:
        return max((Fraction(s.duration, self.timescale) for s in self.segments), default=Fraction(0))

    def dash_bandwidth(self, min_buffer: Fraction) -> int:
        """DASH @bandwidth for `min_buffer` seconds of @minBufferTime; see `dash_bandwidth`."""
        return dash_bandwidth([(s.duration, s.size) for s in self.segments], self.timescale, min_buffer)

    def average_bps(self) -> int:
        return math.ceil(sum(s.size for s in self.segments) * 8 / self.seconds) if self.seconds else 0


def dash_bandwidth(segments: list[tuple[int, int]], timescale: int, min_buffer: Fraction) -> int:
    """The least bit rate b that meets ISO/IEC 23009-1's rule for @bandwidth and @minBufferTime: delivered at
    b from the start of any segment i (each starts with a SAP), with playout beginning `min_buffer` seconds
    after the first bit, every segment j >= i has arrived whole by the time it is due to play:

        8 * (bytes of segments i..j) <= b * (start_j - start_i + min_buffer)

    `segments` are (duration in ticks, bytes) in order. A leaky-bucket check of every pair in O(n) per
    candidate rate (for each j, the tightest i is the one minimising 8*P_i - b*T_i), in a binary search over
    integer rates: exact, in integers and fractions, never under the rule."""
    if not segments:
        return 0
    scale = min_buffer.denominator  # every quantity times this, so the buffer's ticks are an integer
    buffer = min_buffer.numerator * timescale  # min_buffer * timescale * scale
    bits = [0]  # 8 * timescale * scale * bytes before segment k
    starts = [0]  # ticks * scale at which segment k starts
    for duration, size in segments:
        bits.append(bits[-1] + 8 * timescale * scale * size)
        starts.append(starts[-1] + duration * scale)

    def enough(rate: int) -> bool:
        tightest = None  # min over i <= j of bits_i - rate * start_i
        for j in range(len(segments)):
            here = bits[j] - rate * starts[j]
            tightest = here if tightest is None or here < tightest else tightest
            if bits[j + 1] - rate * starts[j] - rate * buffer > tightest:
                return False
        return True

    low, high = 0, -(-bits[-1] // buffer)  # high always suffices: b * min_buffer alone covers every byte
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def sample_aspect(init: bytes) -> Fraction:
    """The sample aspect ratio from the first track's `pasp` box (1:1 when there is none)."""
    (stsd,) = fmp4.find(init, "moov/trak/mdia/minf/stbl/stsd")
    entry = next(fmp4.iter_boxes(init, stsd.body + 8, stsd.end))
    for box in fmp4.iter_boxes(init, entry.body + 78, entry.end):
        if box.type == "pasp" and box.end - box.body >= 8:
            h, v = struct.unpack_from(">II", init, box.body)
            return Fraction(h, v) if h and v else Fraction(1)
    return Fraction(1)


def codec_string(init: bytes) -> str:
    """RFC 6381 `codecs` of the first track of an init segment."""
    (stsd,) = fmp4.find(init, "moov/trak/mdia/minf/stbl/stsd")
    entry = next(fmp4.iter_boxes(init, stsd.body + 8, stsd.end))
    visual = entry.type in ("avc1", "avc3", "hvc1", "hev1", "vp09", "av01")
    config = next((b for b in fmp4.iter_boxes(init, entry.body + (78 if visual else 28), entry.end)), None)
    if config is None:
        return entry.type
    body = init[config.body : config.end]
    if config.type == "avcC":
        return f"{entry.type}.{body[1]:02x}{body[2]:02x}{body[3]:02x}"
    if config.type == "hvcC":
        space, tier, profile = body[1] >> 6, (body[1] >> 5) & 1, body[1] & 0x1F
        compat = int(f"{struct.unpack_from('>I', body, 2)[0]:032b}"[::-1], 2)
        constraints = body[6:12].rstrip(b"\0")
        tail = "".join(f".{b:x}" for b in constraints) or ".0"
        return f"{entry.type}.{'ABC'[space - 1] if space else ''}{profile}.{compat:x}.{'LH'[tier]}{body[12]}{tail}"
    if config.type == "vpcC":
        return f"vp09.{body[4]:02d}.{body[5]:02d}.{body[6] >> 4:02d}"
    if config.type == "av1C":
        profile, level, tier = body[1] >> 5, body[1] & 0x1F, body[2] >> 7
        depth = 12 if body[2] & 0x20 else (10 if body[2] & 0x40 else 8)
        return f"av01.{profile}.{level:02d}{'MH'[tier]}.{depth:02d}"
    if config.type == "esds":
        return f"mp4a.40.{_aac_object_type(body)}"
    if config.type == "dOps":
        return "opus"
    return entry.type


def _aac_object_type(esds: bytes) -> int:
    """The audio object type from an esds' DecoderSpecificInfo (tag 5); 2 (AAC-LC) when it cannot be found."""
    pos = esds.find(b"\x05", 4)
    while pos != -1:
        length_pos = pos + 1
        while length_pos < len(esds) and esds[length_pos] & 0x80:
            length_pos += 1
        if length_pos + 1 < len(esds):
            return esds[length_pos + 1] >> 3 or 2
        pos = esds.find(b"\x05", pos + 1)
    return 2


def media_playlist(r: Rendition) -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", f"#EXT-X-TARGETDURATION:{r.target_duration}", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", "#EXT-X-INDEPENDENT-SEGMENTS", f'#EXT-X-MAP:URI="{r.init}"']  # fmt: skip
    for s in r.segments:
        lines += [f"#EXTINF:{s.duration / r.timescale:.6f},", s.uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST"]) + "\n"


def audio_selection(audios: list[Rendition]) -> list[tuple[bool, bool]]:
    """(DEFAULT, AUTOSELECT) per audio rendition of one group, by RFC 8216 4.3.4.1 and 4.3.4.1.1: at most one
    DEFAULT=YES in a group (the first rendition, the first track's stereo); DEFAULT=YES implies AUTOSELECT=YES;
    every AUTOSELECT=YES member must be told apart from the others by LANGUAGE or CHANNELS, so a second
    rendition with the same language and channels is not auto-selected."""
    seen: set[tuple[str, int]] = set()
    chosen = []
    for n, a in enumerate(audios):
        key = (a.language, a.channels)
        chosen.append((n == 0, key not in seen))
        seen.add(key)
    return chosen


def master_playlist(videos: list[Rendition], audios: list[Rendition], playlist: str = "playlist.m3u8") -> str:
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for a, (default, auto) in zip(audios, audio_selection(audios), strict=True):
        language = f',LANGUAGE="{a.language}"' if a.language else ""
        lines.append(f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio",NAME="{a.name}"{language},'
                     f'DEFAULT={"YES" if default else "NO"},AUTOSELECT={"YES" if auto else "NO"},'
                     f'CHANNELS="{a.channels}",URI="{a.folder}/{playlist}"')  # fmt: skip
    audio_peak = max((a.peak_bps() for a in audios), default=0)
    audio_average = max((a.average_bps() for a in audios), default=0)
    audio_codecs = sorted({a.codecs for a in audios})
    for v in sorted(videos, key=lambda r: -r.height):
        codecs = ",".join([v.codecs, *audio_codecs])
        fastest = v.max_frame_rate or v.frame_rate
        rate = f",FRAME-RATE={float(fastest):.3f}" if fastest else ""
        group = ',AUDIO="audio"' if audios else ""
        lines += [f"#EXT-X-STREAM-INF:BANDWIDTH={v.peak_bps() + audio_peak},"
                  f"AVERAGE-BANDWIDTH={v.average_bps() + audio_average},CODECS=\"{codecs}\","
                  f"RESOLUTION={v.display_size[0]}x{v.display_size[1]}{rate}{group}", f"{v.folder}/{playlist}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _timeline(r: Rendition) -> str:
    """SegmentTimeline with runs of equal durations folded into `r`."""
    entries: list[list[int]] = []
    for s in r.segments:
        if entries and entries[-1][1] == s.duration and entries[-1][0] + (entries[-1][2] + 1) * s.duration == s.start:
            entries[-1][2] += 1
        else:
            entries.append([s.start, s.duration, 0])
    return "".join(f'<S t="{t}" d="{d}"' + (f' r="{n}"' if n else "") + "/>" for t, d, n in entries)


def _representation(r: Rendition, min_buffer: Fraction) -> str:
    first = r.segments[0].uri
    digits = len(first.split(".")[0])
    attrs = f'id={quoteattr(r.name)} bandwidth="{r.dash_bandwidth(min_buffer)}" codecs={quoteattr(r.codecs)}'
    if r.kind == "video":
        rate = f' frameRate="{r.frame_rate.numerator}/{r.frame_rate.denominator}"' if r.frame_rate else ""
        attrs += f' width="{r.width}" height="{r.height}" sar="{r.sar.numerator}:{r.sar.denominator}"{rate}'
    else:
        attrs += f' audioSamplingRate="{r.sample_rate}"'
    channels = ("<AudioChannelConfiguration schemeIdUri=\"urn:mpeg:dash:23003:3:audio_channel_configuration:2011\" "
                f'value="{r.channels}"/>') if r.kind == "audio" else ""  # fmt: skip
    return (f"<Representation {attrs}>{channels}<SegmentTemplate timescale=\"{r.timescale}\" "
            f'initialization="{r.folder}/{r.init}" media="{r.folder}/$Number%0{digits}d$.m4s" startNumber="0">'
            f"<SegmentTimeline>{_timeline(r)}</SegmentTimeline></SegmentTemplate></Representation>")  # fmt: skip


def whole_ms(seconds: Fraction) -> Fraction:
    """Rounded up to the millisecond (an xs:duration written with 3 decimals that is never short)."""
    return Fraction(math.ceil(seconds * 1000), 1000)


def mpd(videos: list[Rendition], audios: list[Rendition]) -> str:
    """A static (on-demand) MPD over the same files as the HLS playlists. @maxSegmentDuration is the longest
    segment of any representation; @minBufferTime is the same (a player fetches whole segments, so it
    holds one before it plays), and each @bandwidth is the least that meets the rule for it (see
    `dash_bandwidth`)."""
    seconds = max(r.seconds for r in [*videos, *audios])
    longest = whole_ms(max(r.longest_segment() for r in [*videos, *audios]))
    sets = []
    if videos:
        body = "".join(_representation(v, longest) for v in sorted(videos, key=lambda r: -r.height))
        sets.append(f'<AdaptationSet id="0" contentType="video" mimeType="video/mp4" segmentAlignment="true" '
                    f'startWithSAP="1">{body}</AdaptationSet>')  # fmt: skip
    for n, a in enumerate(audios):
        lang = f" lang={quoteattr(a.language)}" if a.language else ""
        sets.append(f'<AdaptationSet id="{n + 1}" contentType="audio" mimeType="audio/mp4"{lang} segmentAlignment="true" '
                    f'startWithSAP="1">{_representation(a, longest)}</AdaptationSet>')  # fmt: skip
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" '
            f'type="static" mediaPresentationDuration="PT{seconds:.3f}S" minBufferTime="PT{float(longest):.3f}S" '
            f'maxSegmentDuration="PT{float(longest):.3f}S">'
            f'<Period id="0" start="PT0S">{"".join(sets)}</Period></MPD>\n')  # fmt: skip
