"""Shares (share.py): the header ranges of an MP4 from its top-level boxes, each segment's byte range from the
packet positions, and the sparse copy an encoder reads. Literal boxes and packets; no processes."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch import share
from splitstitch.share import Layout, Share, VideoPacket


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def reader(data: bytes) -> share.Reader:
    return lambda offset, count: data[offset : offset + count]


def test_mp4_header_is_every_box_but_the_mdat_payload() -> None:
    ftyp, mdat, moov = box(b"ftyp", b"isom" * 4), box(b"mdat", bytes(1000)), box(b"moov", b"x" * 300)
    data = ftyp + mdat + moov  # moov last
    layout = share.mp4_layout(reader(data), len(data))
    assert layout.header == ((0, len(ftyp) + 8), (len(ftyp) + len(mdat), len(data)))
    assert layout.blocks == ((len(ftyp) + 8, len(ftyp) + len(mdat)),)
    fast = ftyp + moov + mdat  # faststart: the header is one range up to the mdat's payload
    assert share.mp4_layout(reader(fast), len(fast)).header == ((0, len(ftyp) + len(moov) + 8),)


def test_64_bit_mdat_size() -> None:
    ftyp = box(b"ftyp", b"isom")
    mdat = (1).to_bytes(4, "big") + b"mdat" + (16 + 500).to_bytes(8, "big") + bytes(500)
    data = ftyp + mdat + box(b"moov", b"y" * 40)
    layout = share.mp4_layout(reader(data), len(data))
    assert layout.blocks == ((len(ftyp) + 16, len(ftyp) + 16 + 500),)


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (box(b"ftyp", b"isom") + box(b"moof", b"") + box(b"mdat", b""), "fragmented"),
        (box(b"ftyp", b"isom") + (9999).to_bytes(4, "big") + b"mdat", "bad size"),
    ],
)
def test_layouts_not_handled(data: bytes, why: str) -> None:
    with pytest.raises(share.Unhandled, match=why):
        share.mp4_layout(reader(data), len(data))
    assert share.layout_of("mov,mp4,m4a,3gp,3g2,mj2", reader(data), len(data)) is None


def test_other_containers_get_no_share() -> None:
    data = box(b"ftyp", b"isom") + box(b"mdat", bytes(100)) + box(b"moov", b"z")
    assert share.layout_of("matroska,webm", reader(data), len(data)) is None
    assert share.layout_of("mpegts", reader(data), len(data)) is None
    assert share.layout_of("mov,mp4,m4a,3gp,3g2,mj2", reader(data), len(data)) is not None


# decode order I0 P3 B1 B2 | I4 P7 B5 B6 | I8 ...: 100 bytes each, from byte 1000
PTS = [0, 3, 1, 2, 4, 7, 5, 6, 8, 11, 9, 10]
PACKETS = [VideoPacket(p, 1000 + 100 * i, 100) for i, p in enumerate(PTS)]
LAYOUT = Layout(5000, ((0, 1000), (2200, 5000)), ((1000, 2200),))


def test_segment_range_from_its_keyframe_through_its_last_packet_and_the_tail() -> None:
    # frames 4-7: from I4 (decode index 4) through B6 (index 7), then TAIL_PACKETS more
    lo, hi = share.segment_range(LAYOUT, PACKETS, 4, 4, 8)
    assert lo == 1400 and hi == 1000 + 100 * (7 + share.TAIL_PACKETS + 1)
    assert share.segment_range(LAYOUT, PACKETS, None, 0, 4) == (0, 1000 + 100 * (3 + share.TAIL_PACKETS + 1))
    assert share.segment_range(LAYOUT, PACKETS, 8, 8, None) == (1800, 2200)  # the last: to the last packet


def test_share_merges_the_header_with_its_range() -> None:
    mine = share.share_of(LAYOUT, (1400, 1900))
    assert mine == Share(5000, ((0, 1000), (1400, 1900), (2200, 5000)))
    assert mine.bytes == 1000 + 500 + 2800
    assert Share.from_dict(mine.to_dict()) == mine and Share.from_dict(None) is None
    assert share.merge([(5, 9), (0, 5), (20, 20), (12, 15)]) == ((0, 9), (12, 15))


def test_lay_out_writes_pieces_in_place_and_leaves_holes(tmp_path: Path) -> None:
    path = share.lay_out(tmp_path / "copy.mp4", 10_000_000, [(0, b"head"), (9_999_996, b"tail"), (5000, b"mid")])
    data = path.read_bytes()
    assert len(data) == 10_000_000 and data[:4] == b"head" and data[-4:] == b"tail" and data[5000:5003] == b"mid"
    assert data[4:5000] == bytes(4996)
    assert path.stat().st_blocks * 512 < 1_000_000  # sparse: the holes take no space
