"""Patch a segment's fragments in place when it is placed on an output timeline: decode times, composition
offsets, sequence numbers, track IDs, the last sample's duration. Sizes never change, so data offsets stay
right and a patched segment can be written, copied or hashed as it is."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from splitstitch.fmp4 import (
    TRUN_CTS,
    TRUN_DATA_OFFSET,
    TRUN_DURATION,
    TRUN_FIRST_FLAGS,
    TRUN_FLAGS,
    TRUN_SIZE,
    Box,
    Mp4Error,
    iter_boxes,
    version_flags,
)


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
                truns = [b for b in iter_boxes(out, box.body, box.end) if b.type == "trun"]
                last_trun = truns[-1] if truns else last_trun  # the last sample is in the traf's last trun
    if patch.last_duration is not None:
        if last_trun is None:
            raise Mp4Error("no trun to set the last sample duration in")
        _set_last_duration(out, last_trun, patch.last_duration)
    return bytes(out)


def _set_last_duration(out: bytearray, trun: Box, duration: int) -> None:
    _, flags = version_flags(out, trun)
    count = struct.unpack_from(">I", out, trun.body + 4)[0]
    if not flags & TRUN_DURATION:
        raise Mp4Error("trun has no per-sample durations to change the last one (store it through fmp4_explicit)")
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
            version, _ = version_flags(out, box)
            fmt = ">Q" if version else ">I"
            value = struct.unpack_from(fmt, out, box.body + 4)[0] + shift
            if value < 0 or (not version and value >= 2**32):
                raise Mp4Error(f"tfdt {value} does not fit a version {version} tfdt")
            struct.pack_into(fmt, out, box.body + 4, value)
        elif box.type == "trun":
            _patch_trun(out, box, patch)


def _patch_trun(out: bytearray, trun: Box, patch: Patch) -> None:
    version, flags = version_flags(out, trun)
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
