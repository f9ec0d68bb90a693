"""`assemble.group_parts`: output parts for the multipart upload, in order, none lost, none twice."""

from __future__ import annotations

import pytest

from splitstitch import assemble
from splitstitch.fmp4_patch import Patch

MIB = 1 << 20


def layout(sizes: list[int]) -> assemble.Layout:
    pieces = tuple(assemble.Piece("video", i, 0, size, "", Patch()) for i, size in enumerate(sizes))
    return assemble.Layout(b"head", pieces, 0, ())


@pytest.mark.parametrize(
    "sizes",
    [[40 * MIB, 1 * MIB], [40 * MIB, 40 * MIB, 1 * MIB], [10 * MIB] * 7 + [MIB], [MIB], [40 * MIB] * 3],
)
def test_every_piece_once_in_order_and_parts_big_enough(sizes: list[int]) -> None:
    groups = assemble.group_parts(layout(sizes))
    assert [p.index for g in groups for p in g] == list(range(len(sizes)))
    assert all(sum(p.size for p in g) >= assemble.MIN_PART_BYTES for g in groups[:-1])
    if len(groups) > 1:
        assert sum(p.size for p in groups[-1]) >= assemble.MIN_PART_BYTES
