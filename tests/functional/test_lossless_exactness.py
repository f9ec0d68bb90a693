"""Exactness whatever the cuts (on clean keyframes or mid-GOP): a lossless encode (x264 CRF 0) must reproduce every source frame
bit for bit, in order, none dropped or doubled, at the segment joins too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch.cli import main


def frame_hashes(path: Path) -> list[str]:
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0",
                           "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-f", "framemd5", "-"],
                          capture_output=True, text=True, check=True, timeout=300)  # fmt: skip
    return [line.rsplit(",", 1)[1].strip() for line in proc.stdout.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("kind", ["cfr", "vfr", "open_gop", "mpeg2_ps", "packed_avi"])
def test_lossless_encode_reproduces_every_frame(kind: str, samples, tmp_path: Path) -> None:
    source = samples(kind)
    out = tmp_path / "lossless.mkv"
    assert main(["transcode", str(source), "-o", str(out), "--crf", "0", "--preset", "ultrafast",
                 "--segment-seconds", "1.3", "--quiet"]) == 0  # fmt: skip
    expected, got = frame_hashes(source), frame_hashes(out)
    assert len(got) == len(expected)
    mismatch = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    assert mismatch == [], f"frames {mismatch[:5]} differ"
