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
from dataclasses import dataclass, field

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


def _version_flags(data: bytes | bytearray, box: Box) -> tuple[int, int]:
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
    edit_media_time: int  # first entry of the edit list (0 when there is none)
    default_duration: int = 0  # trex defaults
    default_size: int = 0
    default_flags: int = 0


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
        track_id = struct.unpack_from(">I", init, tkhd.body + (20 if _version_flags(init, tkhd)[0] else 12))[0]
        timescale = struct.unpack_from(">I", init, mdhd[0].body + (20 if _version_flags(init, mdhd[0])[0] else 12))[0]
        handler = init[hdlr[0].body + 8 : hdlr[0].body + 12].decode("latin-1")
        elst = find(init, "edts/elst", trak.body, trak.end)
        media_time = 0
        if elst:
            version, _ = _version_flags(init, elst[0])
            if struct.unpack_from(">I", init, elst[0].body + 4)[0]:
                media_time = struct.unpack_from(
                    ">q" if version else ">i", init, elst[0].body + (16 if version else 12)
                )[0]
        out.append(TrackInfo(track_id, handler, timescale, media_time, *trex.get(track_id, (0, 0, 0))))
    return out


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
    _, flags = _version_flags(data, tfhd)
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
        version, _ = _version_flags(data, tfdt)
        decode_time = struct.unpack_from(">Q" if version else ">I", data, tfdt.body + 4)[0]
    durations, sizes, cts, sync = [], [], [], []
    for trun in iter_boxes(data, traf.body, traf.end):
        if trun.type != "trun":
            continue
        version, tflags = _version_flags(data, trun)
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


# --------------------------------------------------------------------------------------------- patching


@dataclass(frozen=True)
class Patch:
    """What changes in a segment's fragments when it is placed on the output timeline."""

    decode_time_shift: int = 0  # added to every tfdt
    shifts: dict[int, int] = field(default_factory=dict)  # per (old) track_ID, instead of decode_time_shift
    cts_shift: int = 0  # added to every composition offset
    first_sequence: int | None = None  # mfhd numbers become first_sequence, +1, ...
    track_ids: dict[int, int] = field(default_factory=dict)  # old -> new track_ID in tfhd
    trun_version: int | None = None  # 1 allows negative composition offsets
    last_duration: int | None = None  # the duration of the very last sample (ends the segment exactly)


def patch_fragments(data: bytes, patch: Patch) -> bytes:
    """Apply `patch` in place (same size). tfdt must be version 1 (64-bit), as ffmpeg writes it."""
    out = bytearray(data)
    sequence = patch.first_sequence
    last_trun: Box | None = None
    for moof in iter_boxes(out):
        if moof.type != "moof":
            continue
        for box in iter_boxes(out, moof.body, moof.end):
            if box.type == "mfhd" and sequence is not None:
                struct.pack_into(">I", out, box.body + 4, sequence)
                sequence += 1
            elif box.type == "traf":
                _patch_traf(out, box, patch)
                last_trun = next((b for b in iter_boxes(out, box.body, box.end) if b.type == "trun"), last_trun)
    if patch.last_duration is not None:
        if last_trun is None:
            raise Mp4Error("no trun to set the last sample duration in")
        _set_last_duration(out, last_trun, patch.last_duration)
    return bytes(out)


def _set_last_duration(out: bytearray, trun: Box, duration: int) -> None:
    _, flags = _version_flags(out, trun)
    count = struct.unpack_from(">I", out, trun.body + 4)[0]
    if not flags & TRUN_DURATION:
        raise Mp4Error("trun has no per-sample durations to change the last one")
    per_sample = sum(4 for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS) if flags & bit)
    pos = trun.body + 8 + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_FLAGS else 0)
    struct.pack_into(">I", out, pos + per_sample * (count - 1), duration)


def _patch_traf(out: bytearray, traf: Box, patch: Patch) -> None:
    shift = patch.decode_time_shift
    for box in iter_boxes(out, traf.body, traf.end):
        if box.type == "tfhd":
            old = struct.unpack_from(">I", out, box.body + 4)[0]
            shift = patch.shifts.get(old, patch.decode_time_shift)
            struct.pack_into(">I", out, box.body + 4, patch.track_ids.get(old, old))
        elif box.type == "tfdt" and shift:
            version, _ = _version_flags(out, box)
            fmt = ">Q" if version else ">I"
            value = struct.unpack_from(fmt, out, box.body + 4)[0] + shift
            if value < 0 or (not version and value >= 2**32):
                raise Mp4Error(f"tfdt {value} does not fit a version {version} tfdt")
            struct.pack_into(fmt, out, box.body + 4, value)
        elif box.type == "trun":
            _patch_trun(out, box, patch)


def _patch_trun(out: bytearray, trun: Box, patch: Patch) -> None:
    version, flags = _version_flags(out, trun)
    new_version = version if patch.trun_version is None else patch.trun_version
    if new_version != version:
        struct.pack_into(">I", out, trun.body, (new_version << 24) | flags)
    if not patch.cts_shift:
        return
    if not flags & TRUN_CTS:
        raise Mp4Error("trun has no composition offsets to shift")
    count = struct.unpack_from(">I", out, trun.body + 4)[0]
    pos = trun.body + 8 + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_FLAGS else 0)
    skip = sum(4 for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS) if flags & bit)
    for _ in range(count):
        pos += skip
        value = struct.unpack_from(">i" if version else ">I", out, pos)[0] + patch.cts_shift
        if value < 0 and new_version == 0:
            raise Mp4Error(f"composition offset {value} < 0 needs trun version 1")
        struct.pack_into(">i" if new_version else ">I", out, pos, value)
        pos += 4
