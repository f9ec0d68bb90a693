"""Every file of the real corpus (fetched by ../shared/real-media/fetch.sh), transcoded in the file mode and
in the streaming mode, each output decoded and compared with the source as decoded (tests/real/checks.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.real.checks import check_file, check_streaming, table
from tests.real.conftest import REAL_MEDIA_ENV, ROWS
from tests.real.decoded import decode

FOLDER = Path(os.environ.get(REAL_MEDIA_ENV, "."))
FILES = sorted(p for p in FOLDER.iterdir() if p.is_file() and not p.name.endswith(".part")) if FOLDER.is_dir() else []
MODES = {"file": check_file, "cmaf": check_streaming}


@pytest.mark.slow
@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("source", FILES, ids=[p.name for p in FILES])
def test_real_file_comes_out_exact(source: Path, mode: str, tmp_path: Path) -> None:
    src = decode(source)
    assert src.video is not None, f"{source.name}: the source decodes to no video"
    rows = MODES[mode](source, src, tmp_path)
    ROWS.extend(rows)
    print("\n" + table(rows))
    assert all(r.ok for r in rows), "; ".join(r.problems for r in rows if not r.ok)
