"""Each encoder's share of the source: the container's header ranges and the one byte range its segment needs.

The prepare stage has the source as a local file; it walks the container's top-level boxes and, from the
packet scan (every video packet's position and size), gives each segment the bytes from its seek keyframe
through its last needed packet (decode order, interleaved audio included, since the range is contiguous).
An encoder fetches the header ranges and its own range and lays them at their offsets in a sparse local file
of the source's size (holes cost nothing on /tmp): ffmpeg then reads a local file whose index is there and
whose seeks work, and never the rest of the upload. Past its range the copy holds zeros: the encoder stops at
its last frame (`-frames:v`) and the few packets of zeros read ahead fail to decode harmlessly.

Handled: ISO BMFF (MP4/MOV, moov first or last: every top-level box except `mdat`, plus each `mdat` header).
Everything else (Matroska/WebM, MPEG-TS/PS, AVI, fragmented MP4...) gets no share (None), and its encoders read
the upload by a presigned URL as before. (Matroska was tried: with a copy whose other Clusters are holes or
Void elements, ffmpeg 8.1's seek still read outside the range, and the encode came out empty.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Reader = Callable[[int, int], bytes]  # (offset, size) -> bytes (fewer at the end of the file)
Range = tuple[int, int]  # [start, end) in bytes
TAIL_PACKETS = 2  # video packets past the last needed one: the decoder's and the demuxer's look-ahead
MAX_HEADER_SHARE = 0.05  # header ranges above this share of the file: no share (most of it is not data)
MAX_ELEMENTS = 200_000  # top-level boxes or Segment children walked before giving up (no share)


class Unhandled(ValueError):
    """The container's layout is not one this module splits into header and data."""


@dataclass(frozen=True)
class Layout:
    """A source's header ranges and where its data blocks (MP4 `mdat` payloads, Matroska Clusters) start."""

    size: int
    header: tuple[Range, ...]
    blocks: tuple[Range, ...]  # data blocks (`mdat` payloads) in file order


@dataclass(frozen=True)
class Share:
    """What one encoder reads: the header ranges and its own range (all [start, end), merged, in order)."""

    size: int
    ranges: tuple[Range, ...]

    @property
    def bytes(self) -> int:
        return sum(b - a for a, b in self.ranges)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "ranges": [list(r) for r in self.ranges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Share | None:
        if not d:
            return None
        return cls(int(d["size"]), tuple((int(a), int(b)) for a, b in d["ranges"]))


def merge(ranges: Sequence[Range], gap: int = 0) -> tuple[Range, ...]:
    """Sorted, overlapping (or within `gap` bytes of each other) ranges joined, empty ones dropped."""
    out: list[list[int]] = []
    for a, b in sorted(r for r in ranges if r[1] > r[0]):
        if out and a <= out[-1][1] + gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def mp4_layout(read: Reader, size: int) -> Layout:
    header: list[Range] = []
    blocks: list[Range] = []
    pos, count = 0, 0
    while pos < size:
        head = read(pos, 16)
        if len(head) < 8:
            raise Unhandled(f"a box header cut off at byte {pos}")
        box, kind, length = int.from_bytes(head[:4], "big"), head[4:8], 8
        if box == 1:
            box, length = int.from_bytes(head[8:16], "big"), 16
        elif box == 0:
            box = size - pos
        if box < length or pos + box > size:
            raise Unhandled(f"box {kind!r} at byte {pos} has a bad size {box}")
        if kind in (b"moof", b"mfra", b"sidx"):
            raise Unhandled("fragmented MP4")
        if kind == b"mdat":
            header.append((pos, pos + length))
            blocks.append((pos + length, pos + box))
        else:
            header.append((pos, pos + box))
        pos += box
        count += 1
        if count > MAX_ELEMENTS:
            raise Unhandled("too many top-level boxes")
    return Layout(size, merge(header), tuple(blocks))


def layout_of(format_name: str, read: Reader, size: int) -> Layout | None:
    """The layout of a container this module handles, else None (its encoders read the upload directly)."""
    family = format_name.split(",")[0]
    try:
        if family == "mov":
            layout = mp4_layout(read, size)
        else:
            return None
    except (Unhandled, IndexError):
        return None
    if sum(b - a for a, b in layout.header) > MAX_HEADER_SHARE * size + (1 << 20):
        return None
    return layout


def file_reader(path: Path) -> Reader:
    def read(offset: int, count: int) -> bytes:
        with path.open("rb") as fh:
            fh.seek(offset)
            return fh.read(count)

    return read


@dataclass(frozen=True)
class VideoPacket:
    pts: int
    pos: int
    size: int


def segment_range(layout: Layout, packets: Sequence[VideoPacket], seek_pts: int | None, start_pts: int,
                  end_pts: int | None) -> Range:  # fmt: skip
    """The bytes a segment's encoder needs besides the header: from its seek point (the seek keyframe, or the
    first packet) through the last video packet it decodes (decode order, so B-frames shown before `end_pts`
    count) and `TAIL_PACKETS` more. Matroska ranges are whole Clusters: a seek lands on a Cluster's start, and
    the demuxer reads a Cluster to its end."""
    first = 0 if seek_pts is None else next(i for i, p in enumerate(packets) if p.pts == seek_pts)
    needed = [i for i in range(first, len(packets)) if packets[i].pts >= start_pts
              and (end_pts is None or packets[i].pts < end_pts)]  # fmt: skip
    last = min(max(needed, default=first) + TAIL_PACKETS, len(packets) - 1)
    lo = 0 if seek_pts is None else packets[first].pos
    hi = min(max(p.pos + p.size for p in packets[first : last + 1]), layout.size)
    return lo, hi


def share_of(layout: Layout, own: Range) -> Share:
    return Share(layout.size, merge([*layout.header, own]))


def plan_shares(layout: Layout, packets: Sequence[VideoPacket],
                segments: Sequence[tuple[int | None, int, int | None]]) -> list[Share]:  # fmt: skip
    """Each segment's share, from its (seek_pts, start_pts, end_pts)."""
    return [share_of(layout, segment_range(layout, packets, *s)) for s in segments]


def lay_out(path: Path, size: int, pieces: Sequence[tuple[int, bytes]]) -> Path:
    """A sparse file of `size` bytes with each (offset, bytes) written in place; the rest are holes (zeros)."""
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset, data in pieces:
            fh.seek(offset)
            fh.write(data)
    return path


def plan_shares_of(format_name: str, read: Reader, size: int, packets: Sequence[VideoPacket],
                   segments: Sequence[tuple[int | None, int, int | None]]) -> list[Share] | None:  # fmt: skip
    """Each segment's share (by index), or None: a container not handled here, or packets without positions."""
    layout = layout_of(format_name, read, size)
    if layout is None or not packets:
        return None
    return plan_shares(layout, packets, segments)
