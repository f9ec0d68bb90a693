"""Output parts: every group but the last at least MIN_PART_BYTES, every piece once, in order."""

from __future__ import annotations

import pytest

from splitstitch import assemble


def layout(sizes: list[int]) -> assemble.Layout:
    pieces = tuple(assemble.Piece("video", i, 0, size, "", None) for i, size in enumerate(sizes))  # type: ignore[arg-type]
    return assemble.Layout(b"h" * 100, pieces, 0, ())


MB = 1 << 20


@pytest.mark.parametrize(
    "sizes",
    [[40 * MB, 1 * MB], [40 * MB, 40 * MB, 1 * MB], [40 * MB, 40 * MB, 40 * MB, 2 * MB], [3 * MB], [40 * MB, 10 * MB]],
)
def test_small_tail_joins_the_group_before_it(sizes: list[int]) -> None:
    groups = assemble.group_parts(layout(sizes), target=32 * MB)
    assert [p.index for g in groups for p in g] == list(range(len(sizes)))
    assert all(sum(p.size for p in g) >= assemble.MIN_PART_BYTES for g in groups[:-1])
