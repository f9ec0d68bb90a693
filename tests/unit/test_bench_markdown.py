"""The README's and docs/bench.md's bench tables are the bench JSON's, rendered (no figure typed by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch_bench.markdown import MARKED, update

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["README.md", "docs/bench.md"])
def test_marked_tables_match_their_json(name: str) -> None:
    text = (ROOT / name).read_text()
    assert MARKED.search(text), f"{name} has no marked bench table"
    assert update(text, ROOT) == text, f"{name} is stale: python -m splitstitch_bench.markdown --update {name}"


def test_update_rewrites_a_stale_table(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"fits": {"scan": {"a_s": 0.5, "b_s_per_unit": 2e-05, "points": 3, '
                                     '"efficiency": 1.0, "thread_cost_2": 1.0}}}')  # fmt: skip
    stale = "before\n<!-- bench fits r.json -->\n| old |\n<!-- /bench -->\nafter"
    fresh = update(stale, tmp_path)
    assert "| scan | 0.500 | 2e-05 | 3 | 1.00 | 1.00 |" in fresh and "| old |" not in fresh
    assert fresh.startswith("before\n") and fresh.endswith("<!-- /bench -->\nafter")
