"""`make test-real` only: collected when SPLITSTITCH_REAL_MEDIA names the fetched corpus (never in `make test`).
Every output's row goes into one table, printed at the end of the run."""

from __future__ import annotations

import os

import pytest

from tests.real.checks import Row, table

REAL_MEDIA_ENV = "SPLITSTITCH_REAL_MEDIA"
collect_ignore_glob = [] if os.environ.get(REAL_MEDIA_ENV) else ["test_*.py"]
ROWS: list[Row] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ROWS:
        terminalreporter.section("real media: each output as decoded, against its source as decoded")
        terminalreporter.write_line(table(sorted(ROWS, key=lambda r: (r.file, r.mode))))
