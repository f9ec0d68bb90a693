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
    # With last_duration: ticks by which the last sample decodes later. The sample before it lasts that much
    # longer and the last one's composition offset is that much smaller, so it presents when it did: a held
    # last frame then lasts its own duration, not the hold plus a decode step (see segment_end).
    last_decodes_later: int = 0


def segment_end(span: int, duration: int, last_duration: int, first_cts: int, last_cts: int) -> tuple[int | None, int]:
    """(last_duration, last_decodes_later) of the Patch that makes a segment's decode span `duration` exactly;
    (None, 0) when it already is. The last duration may come out <= 0: the segment decodes past its end.

    When the span must grow and the last sample presents later than the segment's constant delay (its
    composition offset above the first sample's: the encoder spaced decode times evenly across a frame the
    source holds, as a stream-copied cut ends), it decodes later by up to that excess, so a player or remuxer
    that takes its duration as its display time shows it for its own length, not for the hold as well."""
    if span == duration:
        return None, 0
    grow = duration - span
    later = min(grow, last_cts - first_cts) if grow > 0 and last_cts > first_cts else 0
    return last_duration + grow - later, later


def patch_fragments(data: bytes, patch: Patch) -> bytes:
    """Apply `patch` in place (same size). tfdt must be version 1 (64-bit), as ffmpeg writes it."""
    out = bytearray(data)
    sequence = patch.first_sequence
    last_truns: list[Box] = []
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
                last_truns = truns or last_truns  # the last sample is in the last traf's last trun
    if patch.last_duration is not None:
        if not last_truns:
            raise Mp4Error("no trun to set the last sample duration in")
        _set_last_duration(out, last_truns, patch.last_duration, patch.last_decodes_later)
    return bytes(out)


def _sample_fields(out: bytearray, truns: list[Box]) -> list[tuple[int, int | None, int]]:
    """(offset of its duration, offset of its composition offset or None, trun version) of every sample."""
    fields = []
    for trun in truns:
        version, flags = version_flags(out, trun)
        if not flags & TRUN_DURATION:
            raise Mp4Error("trun has no per-sample durations to change the last one (store it through fmp4_explicit)")
        count = struct.unpack_from(">I", out, trun.body + 4)[0]
        per_sample = sum(4 for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS) if flags & bit)
        cts_at = per_sample - 4 if flags & TRUN_CTS else None
        pos = trun.body + 8 + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_FLAGS else 0)
        for n in range(count):
            at = pos + per_sample * n
            fields.append((at, None if cts_at is None else at + cts_at, version))
    return fields


def _set_last_duration(out: bytearray, truns: list[Box], duration: int, later: int) -> None:
    fields = _sample_fields(out, truns)
    if not fields:
        raise Mp4Error("no sample to set the last duration of")
    struct.pack_into(">I", out, fields[-1][0], duration)
    if not later:
        return
    if len(fields) < 2 or fields[-1][1] is None:
        raise Mp4Error("the last sample cannot decode later: no sample before it in its traf, or no offsets")
    before = fields[-2][0]
    _, cts_at, version = fields[-1]
    struct.pack_into(">I", out, before, struct.unpack_from(">I", out, before)[0] + later)
    value = struct.unpack_from(">i" if version else ">I", out, cts_at)[0] - later
    if value < 0 and version == 0:
        raise Mp4Error(f"composition offset {value} < 0 needs trun version 1")
    struct.pack_into(">i" if version else ">I", out, cts_at, value)


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
