"""Lay out an output from its parts and prove what was written: pure, no processes, no storage calls.

An MP4 output is `init sidx (video fragments of segment i, then the audio fragments that start inside it)*`.
The layout says, piece by piece, which stored bytes go where and how they are patched (fmp4_patch.Patch); the
executors fetch and write the pieces (a local file, or parallel multipart parts in S3). Whoever writes a
part first runs `build_part`, which checks every fragment's hash against what its encoder recorded and
parses every byte it emits, so the verification sees the output exactly as written, not as planned.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

from splitstitch import fmp4, fmp4_patch
from splitstitch.errors import SegmentMismatchError
from splitstitch.fmp4_init import SidxReference, TrackEdit, build_init, build_sidx, movie_timescale
from splitstitch.media import AudioInfo, FrameIndex, MediaInfo, VideoInfo

MIN_PART_BYTES = 5 << 20  # S3 multipart: every part but the last must be at least 5 MiB
PART_BYTES = 32 << 20  # what a part aims at: large enough for throughput, small enough for memory


@dataclass(frozen=True)
class Piece:
    """Stored bytes placed in the output: a segment's fragments, or one audio fragment."""

    kind: Literal["video", "audio"]
    index: int  # segment index, or audio fragment number
    offset: int  # within the stored object (audio: within the audio job's fragments)
    size: int
    sha256: str
    patch: fmp4_patch.Patch


@dataclass(frozen=True)
class AudioFragment:
    offset: int
    size: int
    sha256: str
    start: float  # seconds on the audio job's own timeline (after its edit list)
    duration: int = 0  # of the first track's samples, in its timescale
    earliest: int = 0  # the first sample's composition time, in its timescale (before the edit list)


@dataclass(frozen=True)
class Layout:
    head: bytes  # init (+ sidx)
    pieces: tuple[Piece, ...]
    video_edit: int  # E: the constant composition delay every segment was shifted to
    audio_edits: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.head) + sum(p.size for p in self.pieces)


@dataclass(frozen=True)
class VideoPart:
    """What the layout needs to know of one encoded segment."""

    index: int
    start: int  # first frame's time on the output timeline, in the video timescale
    duration: int  # up to the next segment's start (the last: to the end of its last frame)
    first_cts: int
    span: int
    last_duration: int
    size: int
    sha256: str
    init_sha256: str


def layout(
    video_init: bytes,
    parts: list[VideoPart],
    audio_init: bytes | None = None,
    audio_fragments: list[AudioFragment] | None = None,
    audio_delay: float = 0.0,
    index: bool = True,
    audio_lengths: tuple[float, ...] = (),
) -> Layout:
    """The output's head and pieces. Raises SegmentMismatchError where segments cannot be joined exactly.

    Each track's edit lasts as long as that track presents: the video to the end of its last frame, each
    audio track `audio_lengths` (seconds the source presents; without them, to the end of its samples,
    the encoder's padding included). The movie lasts as long as its longest track."""
    if len({p.init_sha256 for p in parts}) != 1:
        raise SegmentMismatchError(f"segments were encoded with {len({p.init_sha256 for p in parts})} different inits")
    video = fmp4.tracks(video_init)[0]
    for a, b in itertools.pairwise(parts):
        if a.start + a.duration != b.start:
            raise SegmentMismatchError(f"segment {a.index:05d} does not end where segment {b.index:05d} starts")
    edit = max(p.first_cts for p in parts)
    movie = movie_timescale(video_init)
    video_ticks = round((parts[-1].start + parts[-1].duration) / video.timescale * movie)
    audio_tracks = fmp4.tracks(audio_init) if audio_init else []
    audio_edits = tuple(t.edit_media_time for t in audio_tracks)
    late = [t.track_id for t in audio_tracks if t.edit_delay_s]
    if late:  # the audio job must start at 0: the layout alone places the audio against the video
        raise SegmentMismatchError(f"audio track {late[0]} starts with an empty edit (a delay of its own)")
    delay = round(audio_delay * movie)  # audio after the video: an empty edit first
    shown: list[int | None] = [None] * len(audio_tracks)
    if audio_fragments and audio_tracks:
        ends = (f.start + f.duration / audio_tracks[0].timescale for f in audio_fragments)
        written = max(ends)
        lengths = audio_lengths if len(audio_lengths) == len(audio_tracks) else (written,) * len(audio_tracks)
        shown = [round(min(length, written) * movie) for length in lengths]  # never more than was written
    duration = max([video_ticks, *(delay + s for s in shown if s is not None)])
    init, mapping = build_init(video_init, TrackEdit(edit, 0, video_ticks), audio_init,
                               tuple(TrackEdit(e, delay, s) for e, s in zip(audio_edits, shown, strict=True)),
                               duration)  # fmt: skip
    pieces: list[Piece] = []
    sequence, pending = 1, list(enumerate(audio_fragments or []))
    for n, part in enumerate(parts):
        patch = fmp4_patch.Patch(decode_time_shift=part.start, cts_shift=edit - part.first_cts, first_sequence=sequence,
                           last_duration=_last_duration(part))  # fmt: skip
        pieces.append(Piece("video", part.index, 0, part.size, part.sha256, patch))
        sequence += 1  # one moof per segment (frag_custom); checked when the part is built
        end_s = math.inf if n == len(parts) - 1 else (part.start + part.duration) / video.timescale
        while pending and audio_delay + pending[0][1].start < end_s:
            number, frag = pending.pop(0)
            audio_patch = fmp4_patch.Patch(first_sequence=sequence, track_ids=mapping)
            pieces.append(Piece("audio", number, frag.offset, frag.size, frag.sha256, audio_patch))
            sequence += 1
    head = init
    if index:  # one sidx per track (video, then the first audio track), each over the same subsegments
        sizes = _subsegment_sizes(pieces)
        video_refs = [SidxReference(size, part.duration) for size, part in zip(sizes, parts, strict=True)]
        boxes = [(1, video.timescale, edit, video_refs)]
        if audio_fragments and audio_tracks:
            # what the edit list hides (encoder priming) is not presented: the index starts after it
            hidden = max(audio_tracks[0].edit_media_time - audio_fragments[0].earliest, 0)
            refs = _audio_refs(pieces, audio_fragments)
            refs[0] = SidxReference(refs[0].size, max(refs[0].duration - hidden, 1))
            boxes.append((2, audio_tracks[0].timescale, audio_fragments[0].earliest + hidden, refs))
        built = [build_sidx(*box) for box in boxes]
        for n in range(len(built)):  # the first offset of each sidx skips the sidx boxes after it
            rest = sum(len(b) for b in built[n + 1 :])
            built[n] = build_sidx(*boxes[n], first_offset=rest)
        head += b"".join(built)
    return Layout(head, tuple(pieces), edit, audio_edits)


def _audio_refs(pieces: list[Piece], fragments: list[AudioFragment]) -> list[SidxReference]:
    """The audio track's subsegments: the video's, where those without audio join the one before (or, at
    the start, the first with audio)."""
    refs: list[list[int]] = []  # [size, duration]
    carry = 0
    for piece in pieces:
        if piece.kind == "video":
            refs.append([carry + piece.size, 0])
            carry = 0
        else:
            refs[-1][0] += piece.size
            refs[-1][1] += fragments[piece.index].duration
    merged: list[list[int]] = []
    for size, duration in refs:
        if duration or not merged:
            merged.append([size, duration])
        else:
            merged[-1][0] += size
    if len(merged) > 1 and not merged[0][1]:
        merged[1][0] += merged.pop(0)[0]
    return [SidxReference(size, duration) for size, duration in merged]


def _last_duration(part: VideoPart) -> int | None:
    """The last sample's duration that makes the segment's decode span its planned duration exactly, so the
    next segment's decode times continue it (VFR encoders guess the last frame's duration)."""
    if part.span == part.duration:
        return None
    last = part.last_duration + part.duration - part.span
    if last <= 0:
        raise SegmentMismatchError(f"segment {part.index:05d} decodes {part.span - part.duration} ticks past its end")
    return last


def _subsegment_sizes(pieces: list[Piece]) -> list[int]:
    sizes: list[int] = []
    for piece in pieces:
        if piece.kind == "video":
            sizes.append(piece.size)
        else:
            sizes[-1] += piece.size
    return sizes


def group_parts(lay: Layout, target: int = PART_BYTES) -> list[list[Piece]]:
    """Pieces in consecutive groups of about `target` bytes (the head travels with the first group); every
    group but the last is at least MIN_PART_BYTES, as S3 multipart uploads require."""
    groups: list[list[Piece]] = [[]]
    size = len(lay.head)
    for piece in lay.pieces:
        if size >= target:
            groups.append([])
            size = 0
        groups[-1].append(piece)
        size += piece.size
    if len(groups) > 1 and size < MIN_PART_BYTES:
        tail = groups.pop()  # popped first: `groups[-2] += groups.pop()` stores into the wrong index
        groups[-1] += tail
    return groups


@dataclass
class OutputTimeline:
    """Every sample of the output as parsed from the bytes written, per track."""

    tracks: list[fmp4.TrackInfo]
    runs: dict[int, list[fmp4.Run]] = field(default_factory=dict)
    fragments: int = 0

    def add(self, data: bytes) -> None:
        for fragment in fmp4.fragments(data, self.tracks):
            self.fragments += 1
            for run in fragment.runs:
                self.runs.setdefault(run.track_id, []).append(run)


def build_part(pieces: list[Piece], fetch: Callable[[Piece], bytes], timeline: OutputTimeline | None = None) -> bytes:
    """The bytes of one group of pieces: fetched, hash-checked, patched and (given a timeline) parsed."""
    out = bytearray()
    for piece in pieces:
        raw = fetch(piece)
        if len(raw) != piece.size or hashlib.sha256(raw).hexdigest() != piece.sha256:
            raise SegmentMismatchError(f"{piece.kind} piece {piece.index}: stored bytes differ from what was checked")
        if piece.kind == "video" and sum(1 for b in fmp4.iter_boxes(raw) if b.type == "moof") != 1:
            raise SegmentMismatchError(f"segment {piece.index:05d}: expected one fragment")
        out += fmp4_patch.patch_fragments(raw, piece.patch)
    data = bytes(out)
    if timeline is not None:
        timeline.add(data)
    return data


SAMPLE_ENTRY_CODECS = {"avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "vp09": "vp9", "av01": "av1",
                       "mp4a": "aac", "Opus": "opus", "fLaC": "flac", "ac-3": "ac3", "ec-3": "eac3", ".mp3": "mp3"}  # fmt: skip


def sample_entry(init: bytes, track_id: int) -> tuple[str, int, int]:
    """(codec, width or channels, height or sample rate) of a track, from its first sample entry."""
    for trak, info in zip(fmp4.find(init, "moov/trak"), fmp4.tracks(init), strict=True):
        if info.track_id != track_id:
            continue
        (stsd,) = fmp4.find(init, "mdia/minf/stbl/stsd", trak.body, trak.end)
        entry = next(fmp4.iter_boxes(init, stsd.body + 8, stsd.end))
        codec = SAMPLE_ENTRY_CODECS.get(entry.type, entry.type)
        if info.handler == "vide":
            width, height = struct.unpack_from(">HH", init, entry.body + 24)
            return codec, width, height
        channels = struct.unpack_from(">H", init, entry.body + 16)[0]
        rate = struct.unpack_from(">I", init, entry.body + 24)[0] >> 16
        return codec, channels, rate
    raise fmp4.Mp4Error(f"no track {track_id} in the init")


def track_extent(runs: list[fmp4.Run], track: fmp4.TrackInfo) -> tuple[float, float] | None:
    """Where a track's presentation starts and ends, in seconds: its edit list starts it at media_time
    (samples before it, encoder priming, are not shown) after any empty edits (a delay)."""
    spans = [(pts, pts + d) for r in runs for pts, d in zip(r.presentation_times(), r.durations, strict=True)]
    if not spans:
        return None
    delay, skip, scale = track.edit_delay_s, track.edit_media_time, track.timescale
    start, end = (
        delay + max(min(a for a, _ in spans) - skip, 0) / scale,
        delay + (max(b for _, b in spans) - skip) / scale,
    )
    if track.edit_duration_s:  # the edit ends the presentation (AAC's padding is decoded, never presented)
        end = min(end, delay + track.edit_duration_s)
    return start, end


def output_info(name: str, size: int, init: bytes, timeline: OutputTimeline, pix_fmt: str, bit_depth: int) -> MediaInfo:
    """The output as its bytes say it is: what `verify.compare` checks against the source."""
    tracks = {t.track_id: t for t in fmp4.tracks(init)}
    video = next(t for t in tracks.values() if t.handler == "vide")
    samples = sorted(
        (pts - video.edit_media_time, duration, sync)
        for run in timeline.runs.get(video.track_id, [])
        for pts, duration, sync in zip(run.presentation_times(), run.durations, run.sync, strict=True)
    )
    codec, width, height = sample_entry(init, video.track_id)
    keys = tuple(i for i, (_, _, sync) in enumerate(samples) if sync)
    frames = FrameIndex(tuple(t for t, _, _ in samples), samples[-1][1] if samples else 0, keys, keys, True)
    tb = Fraction(1, video.timescale)
    video_info = VideoInfo(0, codec, width, height, pix_fmt, bit_depth, tb, None, 0, len(samples))
    audio, extents = [], []
    for n, track in enumerate(t for t in tracks.values() if t.handler == "soun"):
        a_codec, channels, rate = sample_entry(init, track.track_id)
        extent = track_extent(timeline.runs.get(track.track_id, []), track)
        start, end = extent or (0.0, 0.0)
        audio.append(AudioInfo(1 + n, a_codec, channels, None, rate, start, end - start, Fraction(1, track.timescale)))
        if extent:
            extents.append((1 + n, start, end))
    return MediaInfo(name, size, "mp4", None, 0.0, video_info, tuple(audio), frames, size, tuple(extents))
