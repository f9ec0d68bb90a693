"""Rewrite an encoder's fragments so that every sample's duration and composition offset is stored in its
trun, which is what the in-place patches of `fmp4_patch` need (they never change a size).

ISO/IEC 14496-12 lets an encoder store a sample's duration, size and flags per sample in the trun, once
for the traf in the tfhd, or once for the track in the init's trex; and a traf may hold several truns.
ffmpeg writes a constant duration once in the tfhd (a stream copy of a clip, any constant frame rate), so
the last sample's duration, which the plan may set, is not in the trun at all. Here each such moof is
rebuilt with one value per sample in every trun (the mdat is not touched): the tfhd keeps no defaults and
its data base is the moof (`default-base-is-moof`), and every trun says where its data starts.
"""

from __future__ import annotations

import struct

from splitstitch.fmp4 import (
    TFHD_DESCRIPTION,
    TRUN_CTS,
    TRUN_DATA_OFFSET,
    TRUN_DURATION,
    TRUN_FLAGS,
    TRUN_SIZE,
    Box,
    Mp4Error,
    TrackInfo,
    Traf,
    Trun,
    full_box,
    iter_boxes,
    make_box,
    read_traf,
    version_flags,
)

DEFAULT_BASE_IS_MOOF = 0x20000  # tfhd flag (8.8.7)
EXPLICIT = TRUN_DATA_OFFSET | TRUN_DURATION | TRUN_SIZE | TRUN_FLAGS | TRUN_CTS
# Boxes of a traf that point into the mdat by offset: moving the data would leave them wrong.
OFFSET_BOXES = {"saio"}


def needs_rewrite(data: bytes | bytearray, moof: Box) -> bool:
    """Some trun of the moof leaves a sample's duration or composition offset out."""
    for traf in iter_boxes(data, moof.body, moof.end):
        if traf.type != "traf":
            continue
        for trun in iter_boxes(data, traf.body, traf.end):
            if trun.type == "trun" and (~version_flags(data, trun)[1]) & (TRUN_DURATION | TRUN_CTS):
                return True
    return False


def explicit_samples(data: bytes, init_tracks: list[TrackInfo]) -> bytes:
    """`data` (moof + mdat pairs) with every moof that needs it rebuilt with per-sample fields; the other
    bytes are kept as they are (the same bytes back when nothing needs it)."""
    defaults = {t.track_id: t for t in init_tracks}
    out, changed = bytearray(), False
    for box in iter_boxes(data):
        if box.type == "moof" and needs_rewrite(data, box):
            out += _moof(data, box, defaults)
            changed = True
        else:
            out += data[box.start : box.end]
    return bytes(out) if changed else data


def _moof(data: bytes, moof: Box, defaults: dict[int, TrackInfo]) -> bytes:
    trafs = [read_traf(data, b, defaults) for b in iter_boxes(data, moof.body, moof.end) if b.type == "traf"]
    starts = _data_starts(moof, trafs)
    growth = len(_build(data, moof, trafs, starts, growth=0)) - moof.size  # the mdat after the moof moves so far
    return _build(data, moof, trafs, starts, growth)


def _data_starts(moof: Box, trafs: list[Traf]) -> list[list[int]]:
    """Where each trun's first sample lies in the buffer (8.8.7 and 8.8.8: a trun without a data offset
    continues the previous one; a traf's base is its moof, or where the previous traf's data ended)."""
    starts: list[list[int]] = []
    previous_end = moof.start
    for traf in trafs:
        if traf.base_offset is not None:
            raise Mp4Error(f"track {traf.track_id}: a tfhd with an absolute base data offset cannot be rewritten")
        base = moof.start if traf.tfhd_flags & DEFAULT_BASE_IS_MOOF or not starts else previous_end
        position, trun_starts = base, []
        for trun in traf.truns:
            if trun.data_offset is not None:
                position = base + trun.data_offset
            trun_starts.append(position)
            position += sum(trun.sizes)
        starts.append(trun_starts)
        previous_end = position
    for trun_starts in starts:
        if any(s < moof.end for s in trun_starts):
            raise Mp4Error(f"moof at offset {moof.start}: sample data before the moof's end cannot be moved")
    return starts


def _build(data: bytes, moof: Box, trafs: list[Traf], starts: list[list[int]], growth: int) -> bytes:
    parts, n = [], 0
    for box in iter_boxes(data, moof.body, moof.end):
        if box.type != "traf":
            parts.append(data[box.start : box.end])
            continue
        parts.append(_traf(data, box, trafs[n], [s - moof.start + growth for s in starts[n]]))
        n += 1
    return make_box("moof", b"".join(parts))


def _traf(data: bytes, box: Box, traf: Traf, offsets: list[int]) -> bytes:
    parts, truns = [], iter(zip(traf.truns, offsets, strict=True))
    for child in iter_boxes(data, box.body, box.end):
        if child.type == "tfhd":
            flags = DEFAULT_BASE_IS_MOOF | (TFHD_DESCRIPTION if traf.description is not None else 0)
            body = struct.pack(">I", traf.track_id)
            body += struct.pack(">I", traf.description) if traf.description is not None else b""
            parts.append(full_box("tfhd", 0, flags, body))
        elif child.type == "trun":
            parts.append(_trun(*next(truns)))
        elif child.type in OFFSET_BOXES:
            raise Mp4Error(f"track {traf.track_id}: a traf with {child.type} cannot be rewritten")
        else:
            parts.append(data[child.start : child.end])
    return make_box("traf", b"".join(parts))


def _trun(trun: Trun, offset: int) -> bytes:
    if not -(2**31) <= offset < 2**31:
        raise Mp4Error(f"data offset {offset} does not fit a trun")
    cts = ">i" if trun.version else ">I"
    body = bytearray(struct.pack(">Ii", len(trun.durations), offset))
    for duration, size, flags, composition in zip(trun.durations, trun.sizes, trun.sample_flags, trun.cts, strict=True):
        body += struct.pack(">III", duration, size, flags) + struct.pack(cts, composition)
    return full_box("trun", trun.version, EXPLICIT, bytes(body))
