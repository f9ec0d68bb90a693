"""Fit an encoded segment's decode times to its planned duration: pure functions, bytes in, bytes out.

Segments join on the decode timeline: each one's samples must last, in decode time, exactly as long as the
plan gives the segment (from its first frame to the next segment's), or the next segment's decode times would
not continue it. An encoder that reorders frames (B-frames) derives decode times from presentation times:
x264 starts a segment's decode timeline as far before its first frame as its first `delay` frames last, and
ends it as far after the last frame's decode as its last `delay` frames last. At a steady rate the two are
equal; when a frame is held longer than its neighbours (an Android phone's first frame, a capture's dropped
frames, a screencast's pauses) they are not, and the span misses the plan by up to the held time, more than
the last frame's duration can absorb.

The refit: a span short of the plan lengthens the last sample; a span past it shortens the last sample if
that is enough, else the longest decode steps, none below one tick (the fewest samples move, by the least).
Each sample's composition offset grows by what its decode time moved earlier, so every frame presents when
it did; decode times only move earlier, so no offset becomes negative. The rewritten `trun`s carry
per-sample durations and offsets (encoders store equal durations as defaults), so boxes may grow: the
`moof`'s data offsets move with them.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator, Sequence

from splitstitch.fmp4 import (
    TFHD_BASE_OFFSET,
    TRUN_CTS,
    TRUN_DATA_OFFSET,
    TRUN_DURATION,
    TRUN_FIRST_FLAGS,
    TRUN_FLAGS,
    TRUN_SIZE,
    Box,
    Mp4Error,
    Run,
    iter_boxes,
    make_box,
    version_flags,
)


class UnfittableError(ValueError):
    """A segment's frames cannot be given the planned duration (fewer ticks than frames)."""


def fit_durations(durations: Sequence[int], target: int) -> tuple[int, ...]:
    """Decode durations summing to `target`, each at least one tick, moved as little as possible."""
    out = list(durations)
    excess = sum(out) - target
    if not out or excess == 0:
        return tuple(out)
    if excess < 0 or out[-1] - excess >= 1:
        out[-1] -= excess
        return tuple(out)
    if target < len(out):
        raise UnfittableError(f"{len(out)} frames cannot last {target} ticks")
    # Water-filling: the lowest level such that capping every step there still leaves `target` ticks; capping
    # one tick lower would leave too few, so the rest comes off some of the steps at that level.
    low, high = 1, max(out)
    while low < high:
        level = (low + high) // 2
        if sum(min(d, level) for d in out) >= target:
            high = level
        else:
            low = level + 1
    capped = [min(d, low) for d in out]
    extra = sum(capped) - target
    for k in reversed(range(len(capped))):
        if extra == 0:
            break
        if capped[k] == low:
            capped[k] -= 1
            extra -= 1
    return tuple(capped)


def explicit(data: bytes) -> bool:
    """Every `trun` of the fragments carries per-sample durations and composition offsets (an encoder that
    does not reorder writes no offsets, and equal durations as a default), so any of them can be patched."""
    wanted = TRUN_DURATION | TRUN_CTS
    return all(
        version_flags(data, trun)[1] & wanted == wanted
        for moof in iter_boxes(data)
        if moof.type == "moof"
        for traf in iter_boxes(data, moof.body, moof.end)
        if traf.type == "traf"
        for trun in iter_boxes(data, traf.body, traf.end)
        if trun.type == "trun"
    )


def refit_offsets(run: Run, durations: Sequence[int]) -> tuple[int, ...]:
    """Composition offsets that keep every sample's presentation time under the new decode `durations`."""
    old = itertools.accumulate(run.durations, initial=0)
    new = itertools.accumulate(durations, initial=0)
    return tuple(c + a - b for c, a, b in zip(run.cts, old, new, strict=False))


def rewrite_samples(data: bytes, durations: Sequence[int], offsets: Sequence[int]) -> bytes:
    """Fragments (`moof mdat`...) with every `trun` carrying these per-sample durations and composition
    offsets, in sample order across the fragments. Sizes, flags and the media data are kept."""
    if len(durations) != len(offsets):
        raise Mp4Error("as many durations as composition offsets are needed")
    samples = iter(zip(durations, offsets, strict=True))
    out = bytearray()
    for box in iter_boxes(data):
        chunk = data[box.start : box.end]
        out += _rewrite_moof(data, box, samples) if box.type == "moof" else chunk
    if next(samples, None) is not None:
        raise Mp4Error("the fragments hold fewer samples than durations were given")
    return bytes(out)


def _rewrite_moof(data: bytes, moof: Box, samples: Iterator[tuple[int, int]]) -> bytes:
    children: list[bytes | list[bytes]] = []  # a traf as its rewritten children, anything else as it is
    for box in iter_boxes(data, moof.body, moof.end):
        if box.type != "traf":
            children.append(data[box.start : box.end])
            continue
        parts = []
        for b in iter_boxes(data, box.body, box.end):
            if b.type == "tfhd" and version_flags(data, b)[1] & TFHD_BASE_OFFSET:
                raise Mp4Error("tfhd sets an absolute base data offset: its fragment cannot grow")
            parts.append(_rewrite_trun(data, b, samples) if b.type == "trun" else data[b.start : b.end])
        children.append(parts)
    size = 8 + sum(len(c) if isinstance(c, bytes) else 8 + sum(map(len, c)) for c in children)
    growth = size - moof.size  # the media data moves this far from the moof's start
    body = b"".join(
        c if isinstance(c, bytes) else make_box("traf", b"".join(_shift_data_offset(p, growth) for p in c))
        for c in children
    )
    return make_box("moof", body)


def _rewrite_trun(data: bytes, trun: Box, samples: Iterator[tuple[int, int]]) -> bytes:
    version, flags = version_flags(data, trun)
    count = struct.unpack_from(">I", data, trun.body + 4)[0]
    pos = trun.body + 8
    head = data[pos : pos + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_FLAGS else 0)]
    pos += len(head)
    fields = [bit for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS) if flags & bit]
    rows = []
    for _ in range(count):
        values = dict(zip(fields, struct.unpack_from(f">{len(fields)}I", data, pos), strict=True))
        pos += 4 * len(fields)
        duration, offset = next(samples, (None, None))
        if duration is None or offset is None:
            raise Mp4Error("the fragments hold more samples than durations were given")
        values[TRUN_DURATION], values[TRUN_CTS] = duration, offset
        rows.append(values)
    new_flags = flags | TRUN_DURATION | TRUN_CTS
    new_version = 1 if version or any(r[TRUN_CTS] < 0 for r in rows) else 0
    order = [bit for bit in (TRUN_DURATION, TRUN_SIZE, TRUN_FLAGS, TRUN_CTS) if new_flags & bit]
    body = bytearray(struct.pack(">II", (new_version << 24) | new_flags, count) + head)
    for r in rows:
        for bit in order:
            body += struct.pack(">i" if bit == TRUN_CTS and new_version else ">I", r[bit])
    return make_box("trun", bytes(body))


def _shift_data_offset(box: bytes, growth: int) -> bytes:
    """A rewritten trun's data offset (relative to its moof) moves by what the moof grew."""
    if box[4:8] != b"trun" or not struct.unpack_from(">I", box, 8)[0] & TRUN_DATA_OFFSET:
        return box
    out = bytearray(box)
    struct.pack_into(">i", out, 16, struct.unpack_from(">i", out, 16)[0] + growth)
    return bytes(out)
