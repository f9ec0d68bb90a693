"""Fragmented MP4 (ISO BMFF) at the box level: parse, patch, build. Pure bytes in, bytes out; no processes.

Every encoder writes its segment as a fragmented MP4 (`ftyp moov` then `moof mdat`). Because the
fragments carry their own decode time (`tfdt`) and their data offsets are relative to their `moof`
(`default-base-is-moof`), an output is the byte concatenation of one init and the segments' fragments,
after three in-place patches that never change a size: the fragment's `tfdt` (its place on the output
timeline), its sequence number, and its composition offsets (so every segment presents its first frame
at its decode time plus one constant delay). That is what lets the cloud assemble an hour of video with
parallel part uploads and lets HLS/DASH use the encoded segments as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts", "dinf", "udta"}
# trun flags (ISO/IEC 14496-12 8.8.8)
TRUN_DATA_OFFSET, TRUN_FIRST_FLAGS = 0x1, 0x4
TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS = 0x100, 0x200, 0x400, 0x800
# tfhd flags (8.8.7)
TFHD_BASE_OFFSET, TFHD_DESCRIPTION, TFHD_DURATION, TFHD_SIZE, TFHD_FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
NON_SYNC = 0x10000  # sample_is_non_sync_sample bit of sample flags


class Mp4Error(ValueError):
    """Bytes that are not the fragmented MP4 this module expects; the message says what is wrong."""


@dataclass(frozen=True)
class Box:
    type: str
    start: int  # offset of the header in the buffer
    size: int
    header: int  # 8, or 16 with a 64-bit size

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def body(self) -> int:
        return self.start + self.header


def iter_boxes(data: bytes | bytearray, start: int = 0, end: int | None = None) -> Iterator[Box]:
    end = len(data) if end is None else end
    pos = start
    while pos < end:
        if end - pos < 8:
            raise Mp4Error(f"{end - pos} stray bytes at offset {pos}")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise Mp4Error(f"box {kind!r} at offset {pos} claims {size} bytes, {end - pos} left")
        yield Box(kind.decode("latin-1"), pos, size, header)
        pos += size


def children(data: bytes | bytearray, box: Box) -> list[Box]:
    return list(iter_boxes(data, box.body, box.end))


def child(data: bytes | bytearray, box: Box, kind: str) -> Box | None:
    return next((b for b in iter_boxes(data, box.body, box.end) if b.type == kind), None)


def find(data: bytes | bytearray, path: str, start: int = 0, end: int | None = None) -> list[Box]:
    """Boxes at a slash path such as `moov/trak/tkhd`, in file order."""
    head, _, rest = path.partition("/")
    found = []
    for box in iter_boxes(data, start, end):
        if box.type == head:
            found += find(data, rest, box.body, box.end) if rest else [box]
    return found


def make_box(kind: str, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode("latin-1")) + payload


def full_box(kind: str, version: int, flags: int, payload: bytes) -> bytes:
    return make_box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def version_flags(data: bytes | bytearray, box: Box) -> tuple[int, int]:
    word = struct.unpack_from(">I", data, box.body)[0]
    return word >> 24, word & 0xFFFFFF


# ---------------------------------------------------------------------------------------------- splitting


@dataclass(frozen=True)
class Split:
    init: bytes  # ftyp + moov
    fragments: bytes  # every moof + mdat, in order (mfra and anything after the last mdat dropped)


def split_file(data: bytes) -> Split:
    """An ffmpeg fragmented MP4 (`empty_moov`) into its init and its fragments."""
    init, fragments, seen_moof = bytearray(), bytearray(), False
    for box in iter_boxes(data):
        chunk = data[box.start : box.end]
        if box.type in ("ftyp", "moov") and not seen_moof:
            init += chunk
        elif box.type in ("moof", "mdat"):
            seen_moof = True
            fragments += chunk
        elif box.type in ("styp", "sidx", "mfra", "free", "skip", "uuid"):
            continue
        elif not seen_moof:
            continue  # e.g. udta before the first fragment
    if not find(init, "moov") or not fragments:
        raise Mp4Error("not a fragmented MP4 (no moov, or no moof/mdat)")
    return Split(bytes(init), bytes(fragments))


# ------------------------------------------------------------------------------------------- init facts


@dataclass(frozen=True)
class TrackInfo:
    track_id: int
    handler: str  # "vide", "soun"
    timescale: int
    edit_media_time: int  # media time of the first edit that shows media (0 when there is none)
    default_duration: int = 0  # trex defaults
    default_size: int = 0
    default_flags: int = 0
    edit_delay_s: float = 0.0  # empty edits before it: the track starts this late (seconds)
    edit_duration_s: float = 0.0  # how long that edit presents the media (0: to the end of the samples)


def tracks(init: bytes) -> list[TrackInfo]:
    trex = {}
    for box in find(init, "moov/mvex/trex"):
        track_id, _, duration, size, flags = struct.unpack_from(">IIIII", init, box.body + 4)
        trex[track_id] = (duration, size, flags)
    out = []
    for trak in find(init, "moov/trak"):
        tkhd = child(init, trak, "tkhd")
        mdhd = find(init, "mdia/mdhd", trak.body, trak.end)
        hdlr = find(init, "mdia/hdlr", trak.body, trak.end)
        if tkhd is None or not mdhd or not hdlr:
            raise Mp4Error("trak without tkhd, mdhd or hdlr")
        track_id = struct.unpack_from(">I", init, tkhd.body + (20 if version_flags(init, tkhd)[0] else 12))[0]
        timescale = struct.unpack_from(">I", init, mdhd[0].body + (20 if version_flags(init, mdhd[0])[0] else 12))[0]
        handler = init[hdlr[0].body + 8 : hdlr[0].body + 12].decode("latin-1")
        media_time, delay, shown = _edit(init, find(init, "edts/elst", trak.body, trak.end))
        out.append(TrackInfo(track_id, handler, timescale, media_time, *trex.get(track_id, (0, 0, 0)),
                             delay / movie_scale(init), shown / movie_scale(init)))  # fmt: skip
    return out


def movie_scale(init: bytes | bytearray) -> int:
    mvhd = find(init, "moov/mvhd")
    if not mvhd:
        return 1000
    return struct.unpack_from(">I", init, mvhd[0].body + (20 if version_flags(init, mvhd[0])[0] else 12))[0] or 1000


def _edit(init: bytes | bytearray, elst: list[Box]) -> tuple[int, int, int]:
    """(media time of the first edit that shows media, movie ticks of the empty edits before it, movie ticks
    that edit lasts)."""
    if not elst:
        return 0, 0, 0
    version, _ = version_flags(init, elst[0])
    count = struct.unpack_from(">I", init, elst[0].body + 4)[0]
    size, fmt = (20, ">Qq") if version else (12, ">Ii")
    delay = 0
    for n in range(count):
        duration, media_time = struct.unpack_from(fmt, init, elst[0].body + 8 + n * size)
        if media_time != -1:
            return media_time, delay, duration
        delay += duration
    return 0, delay, 0


# ----------------------------------------------------------------------------------------- fragment facts


@dataclass(frozen=True)
class Run:
    """One track's samples in one fragment (a traf), times in the track's timescale."""

    track_id: int
    decode_time: int  # tfdt
    durations: tuple[int, ...]
    sizes: tuple[int, ...]
    cts: tuple[int, ...]  # composition offsets (signed)
    sync: tuple[bool, ...]

    @property
    def span(self) -> int:
        return sum(self.durations)

    def presentation_times(self) -> list[int]:
        times, dts = [], self.decode_time
        for duration, offset in zip(self.durations, self.cts, strict=True):
            times.append(dts + offset)
            dts += duration
        return times


@dataclass(frozen=True)
class Fragment:
    sequence: int
    start: int  # offset of its moof within the buffer parsed
    size: int  # moof + mdat bytes
    runs: tuple[Run, ...]


def _traf_run(data: bytes | bytearray, traf: Box, defaults: dict[int, TrackInfo]) -> Run:
    tfhd = child(data, traf, "tfhd")
    if tfhd is None:
        raise Mp4Error("traf without tfhd")
    _, flags = version_flags(data, tfhd)
    track_id = struct.unpack_from(">I", data, tfhd.body + 4)[0]
    info = defaults.get(track_id)
    d_duration, d_size, d_flags = (info.default_duration, info.default_size, info.default_flags) if info else (0, 0, 0)
    pos = tfhd.body + 8
    for bit in (TFHD_BASE_OFFSET, TFHD_DESCRIPTION, TFHD_DURATION, TFHD_SIZE, TFHD_FLAGS):
        if flags & bit:
            width = 8 if bit == TFHD_BASE_OFFSET else 4
            value = struct.unpack_from(">Q" if width == 8 else ">I", data, pos)[0]
            d_duration = value if bit == TFHD_DURATION else d_duration
            d_size = value if bit == TFHD_SIZE else d_size
            d_flags = value if bit == TFHD_FLAGS else d_flags
            pos += width
    tfdt = child(data, traf, "tfdt")
    decode_time = 0
    if tfdt is not None:
        version, _ = version_flags(data, tfdt)
        decode_time = struct.unpack_from(">Q" if version else ">I", data, tfdt.body + 4)[0]
    durations, sizes, cts, sync = [], [], [], []
    for trun in iter_boxes(data, traf.body, traf.end):
        if trun.type != "trun":
            continue
        version, tflags = version_flags(data, trun)
        count = struct.unpack_from(">I", data, trun.body + 4)[0]
        pos = trun.body + 8 + (4 if tflags & TRUN_DATA_OFFSET else 0)
        first_flags = None
        if tflags & TRUN_FIRST_FLAGS:
            first_flags = struct.unpack_from(">I", data, pos)[0]
            pos += 4
        for i in range(count):
            duration, size, sample_flags, offset = d_duration, d_size, d_flags, 0
            if tflags & TRUN_DURATION:
                duration = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            if tflags & TRUN_SIZE:
                size = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            if tflags & TRUN_FLAGS:
                sample_flags = struct.unpack_from(">I", data, pos)[0]
                pos += 4
            if tflags & TRUN_CTS:
                offset = struct.unpack_from(">i" if version else ">I", data, pos)[0]
                pos += 4
            if i == 0 and first_flags is not None:
                sample_flags = first_flags
            durations.append(duration)
            sizes.append(size)
            cts.append(offset)
            sync.append(not sample_flags & NON_SYNC)
    return Run(track_id, decode_time, tuple(durations), tuple(sizes), tuple(cts), tuple(sync))


def fragments(data: bytes | bytearray, init_tracks: list[TrackInfo]) -> list[Fragment]:
    """Every moof (+ its mdat) of `data`, with each track's samples."""
    defaults = {t.track_id: t for t in init_tracks}
    out: list[Fragment] = []
    boxes = list(iter_boxes(data))
    for n, box in enumerate(boxes):
        if box.type != "moof":
            continue
        mfhd = child(data, box, "mfhd")
        sequence = struct.unpack_from(">I", data, mfhd.body + 4)[0] if mfhd else 0
        runs = tuple(
            _traf_run(data, traf, defaults) for traf in iter_boxes(data, box.body, box.end) if traf.type == "traf"
        )
        mdat = boxes[n + 1] if n + 1 < len(boxes) and boxes[n + 1].type == "mdat" else None
        if mdat is None:
            raise Mp4Error(f"moof at offset {box.start} is not followed by an mdat")
        out.append(Fragment(sequence, box.start, mdat.end - box.start, runs))
    return out


def head_runs(head: bytes | bytearray, size: int, init_tracks: list[TrackInfo]) -> tuple[Run, ...]:
    """The samples of a media segment of `size` bytes from its first bytes only: one moof (read whole) and the
    header of the mdat after it, which must run to the end of the segment (a server-side copy is checked
    this way without reading its media)."""
    moof = next(iter_boxes(head, 0, _first_box_end(head)), None)
    if moof is None or moof.type != "moof":
        raise Mp4Error("segment does not start with a moof")
    if len(head) < moof.end + 8:
        raise Mp4Error(f"need {moof.end + 8} bytes of the segment's head, got {len(head)}")
    mdat_size, kind = struct.unpack_from(">I4s", head, moof.end)
    if kind != b"mdat":
        raise Mp4Error("the moof is not followed by an mdat")
    if mdat_size == 1 and len(head) >= moof.end + 16:
        mdat_size = struct.unpack_from(">Q", head, moof.end + 8)[0]
    if moof.end + mdat_size != size:
        raise Mp4Error(f"moof and mdat cover {moof.end + mdat_size} bytes of a {size}-byte segment")
    defaults = {t.track_id: t for t in init_tracks}
    return tuple(
        _traf_run(head, traf, defaults) for traf in iter_boxes(head, moof.body, moof.end) if traf.type == "traf"
    )


def first_box_size(head: bytes | bytearray) -> int:
    """The size the first box's header declares (so a caller knows how much of a file to read)."""
    size = struct.unpack_from(">I", head, 0)[0]
    return struct.unpack_from(">Q", head, 8)[0] if size == 1 else size


def _first_box_end(head: bytes | bytearray) -> int:
    return min(len(head), first_box_size(head)) if len(head) >= 8 else len(head)
