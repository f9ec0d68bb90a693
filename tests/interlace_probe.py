"""The tests' own look at fields: idet over a whole file (combing left in the pictures) and the probed field
order, independent of the code under test (only the binary path is shared)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from splitstitch.binaries import binaries
from tests.probe import ffprobe

MULTI = re.compile(r"Multi frame detection:\s*TFF:\s*(\d+)\s*BFF:\s*(\d+)\s*Progressive:\s*(\d+)")


def combing(path: Path, turn: str = "") -> dict[str, int]:
    """idet's multi-frame counts over the whole file (the tests' own run); `turn`: a filter first (the pictures
    turned back to the source's rows)."""
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-v", "info", "-i", str(path),
                           "-map", "0:v:0", "-vf", f"{turn},idet" if turn else "idet", "-f", "null", "-"],
                          capture_output=True, text=True,
                          timeout=300, check=True)  # fmt: skip
    counts = [tuple(int(g) for g in m.groups()) for m in MULTI.finditer(proc.stderr)]
    tff, bff, progressive = (sum(c[i] for c in counts) for i in range(3))
    return {"tff": tff, "bff": bff, "progressive": progressive}


def looks_progressive(counts: dict[str, int]) -> bool:
    return counts["progressive"] >= 4 * (counts["tff"] + counts["bff"])


def field_order(path: Path) -> str:
    return ffprobe("-select_streams", "v:0", "-show_entries", "stream=field_order", str(path))["streams"][0].get(
        "field_order", "unknown"
    )
