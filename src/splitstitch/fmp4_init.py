"""Build the boxes an assembled output adds around the segments' fragments: one init (`ftyp moov`) that
holds the video track of the segments and the audio tracks of the audio job, each with the edit list that
places its first sample at time zero, and a segment index (`sidx`) so players can seek without reading
every fragment. Pure bytes; see `fmp4.py` for the parsing side.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from splitstitch.fmp4 import Box, Mp4Error, child, children, find, full_box, iter_boxes, make_box


@dataclass(frozen=True)
class TrackEdit:
    """Where a track's presentation starts: `media_time` ticks of its timescale are skipped (B-frame delay
    of the video, encoder priming of AAC), after an empty edit of `delay` movie ticks (audio that starts
    after the video). None writes no edit list. `duration` is how long the track presents its media, in
    movie ticks (None: as long as the movie): each track its own, so no header overstates a track."""

    media_time: int | None
    delay: int = 0
    duration: int | None = None


def _version(data: bytes, box: Box) -> int:
    return data[box.body]


def _set_track_id(data: bytes, tkhd: Box, track_id: int, duration: int = 0) -> bytes:
    """The `tkhd` with its track ID and its duration (the sum of its edits, in movie ticks)."""
    body = bytearray(data[tkhd.start : tkhd.end])
    version = _version(data, tkhd)
    struct.pack_into(">I", body, tkhd.header + (20 if version else 12), track_id)
    if version:
        struct.pack_into(">Q", body, tkhd.header + 28, duration)
    elif duration < 2**32:
        struct.pack_into(">I", body, tkhd.header + 20, duration)
    return bytes(body)


def _set_trex_id(data: bytes, trex: Box, track_id: int) -> bytes:
    body = bytearray(data[trex.start : trex.end])
    struct.pack_into(">I", body, trex.header + 4, track_id)
    return bytes(body)


def elst(media_time: int, duration: int, delay: int = 0) -> bytes:
    """An empty edit of `delay` movie ticks (if any), then `duration` (movie timescale; 0 = to the end)
    presented from `media_time` (track timescale)."""
    edits = [(delay, -1), (duration, media_time)] if delay else [(duration, media_time)]
    if media_time < 2**31 and max(d for d, _ in edits) < 2**32:
        return full_box("elst", 0, 0, struct.pack(">I", len(edits)) + b"".join(
            struct.pack(">IiHH", d, m, 1, 0) for d, m in edits))  # fmt: skip
    return full_box("elst", 1, 0, struct.pack(">I", len(edits)) + b"".join(
        struct.pack(">QqHH", d, m, 1, 0) for d, m in edits))  # fmt: skip


def _trak(data: bytes, trak: Box, track_id: int, edit: TrackEdit, duration: int) -> bytes:
    parts = []
    for box in children(data, trak):
        if box.type == "tkhd":
            shown = max(duration - edit.delay, 0) if edit.duration is None else edit.duration
            parts.append(_set_track_id(data, box, track_id, edit.delay + shown if edit.media_time is not None else 0))
            if edit.media_time is not None:
                parts.append(make_box("edts", elst(edit.media_time, shown, edit.delay)))
        elif box.type != "edts":
            parts.append(data[box.start : box.end])
    return make_box("trak", b"".join(parts))


def movie_timescale(init: bytes) -> int:
    (mvhd,) = find(init, "moov/mvhd")
    return struct.unpack_from(">I", init, mvhd.body + (20 if _version(init, mvhd) else 12))[0]


def _mvhd(init: bytes, next_track_id: int, duration: int = 0) -> bytes:
    (mvhd,) = find(init, "moov/mvhd")
    body = bytearray(init[mvhd.start : mvhd.end])
    struct.pack_into(">I", body, len(body) - 4, next_track_id)
    if _version(init, mvhd):
        struct.pack_into(">Q", body, mvhd.header + 24, duration)
    elif duration < 2**32:
        struct.pack_into(">I", body, mvhd.header + 16, duration)
    return bytes(body)


def _one_moov(init: bytes, what: str) -> Box:
    moovs = find(init, "moov")
    if len(moovs) != 1:
        raise Mp4Error(f"{what} init has {len(moovs)} moov boxes")
    return moovs[0]


def build_init(
    video_init: bytes,
    video_edit: TrackEdit,
    audio_init: bytes | None = None,
    audio_edits: tuple[TrackEdit, ...] = (),
    duration: int = 0,
) -> tuple[bytes, dict[int, int]]:
    """The output's `ftyp moov`: the video track keeps its ID (1), the audio tracks follow it.

    `duration` is the presentation length in the movie timescale (`mehd`, `mvhd` when the tracks have edits,
    and the length of every edit that does not give its own; 0 means unknown). Returns the init and the
    audio job's track-ID mapping for its fragments' `tfhd`.
    """
    _one_moov(video_init, "video")
    video_traks = find(video_init, "moov/trak")
    if len(video_traks) != 1:
        raise Mp4Error(f"video init has {len(video_traks)} tracks, expected 1")
    (video_trex,) = find(video_init, "moov/mvex/trex")
    ftyp = next((video_init[b.start : b.end] for b in iter_boxes(video_init) if b.type == "ftyp"), b"")
    traks = [_trak(video_init, video_traks[0], 1, video_edit, duration)]
    trexes = [_set_trex_id(video_init, video_trex, 1)]
    mapping: dict[int, int] = {}
    if audio_init is not None:
        _one_moov(audio_init, "audio")
        audio_traks = find(audio_init, "moov/trak")
        trex_by_id = {
            struct.unpack_from(">I", audio_init, t.body + 4)[0]: t for t in find(audio_init, "moov/mvex/trex")
        }
        if len(audio_edits) != len(audio_traks):
            raise Mp4Error(f"{len(audio_edits)} audio edits for {len(audio_traks)} audio tracks")
        for n, (trak, edit) in enumerate(zip(audio_traks, audio_edits, strict=True)):
            tkhd = child(audio_init, trak, "tkhd")
            assert tkhd is not None
            old = struct.unpack_from(">I", audio_init, tkhd.body + (20 if _version(audio_init, tkhd) else 12))[0]
            mapping[old] = 2 + n
            traks.append(_trak(audio_init, trak, 2 + n, edit, duration))
            trexes.append(_set_trex_id(audio_init, trex_by_id[old], 2 + n))
    mehd = full_box("mehd", 1, 0, struct.pack(">Q", duration))
    mvex = make_box("mvex", mehd + b"".join(trexes))
    edited = video_edit.media_time is not None  # an output with edits states its length in every header
    moov = make_box("moov", _mvhd(video_init, 2 + len(mapping), duration if edited else 0) + b"".join(traks) + mvex)
    return ftyp + moov, mapping


@dataclass(frozen=True)
class SidxReference:
    size: int  # bytes from this subsegment's first moof to the next one's
    duration: int  # in the index's timescale
    starts_with_sap: bool = True


def build_sidx(
    reference_id: int, timescale: int, earliest: int, refs: list[SidxReference], first_offset: int = 0
) -> bytes:
    """A version 1 `sidx`; `first_offset` bytes lie between its end and the first subsegment's `moof`."""
    if len(refs) >= 2**16:
        raise Mp4Error(f"{len(refs)} subsegments do not fit one sidx")
    body = struct.pack(">IIQQHH", reference_id, timescale, earliest, first_offset, 0, len(refs))
    for ref in refs:
        if ref.size >= 2**31:
            raise Mp4Error(f"subsegment of {ref.size} bytes is too large for a sidx reference")
        sap = (1 << 31) | (1 << 28) if ref.starts_with_sap else 0  # SAP type 1
        body += struct.pack(">III", ref.size, ref.duration, sap)
    return full_box("sidx", 1, 0, body)
