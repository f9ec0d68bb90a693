"""The pipeline against one ffmpeg encode of the same clip at the same settings."""

from __future__ import annotations

import subprocess
from pathlib import Path

from splitstitch.binaries import binaries
from splitstitch.cli import main
from splitstitch.samples import make_clip
from tests.probe import facts, psnr


def test_same_frames_and_psnr_within_a_tenth_of_a_db(tmp_path: Path) -> None:
    source = make_clip(tmp_path / "clip.mp4", 20.0, size="320x240")
    single = tmp_path / "single.mp4"
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(source), "-c:v", "libx264", "-preset",
                    "veryfast", "-crf", "23", "-c:a", "aac", str(single)], check=True, timeout=600)  # fmt: skip
    ours = tmp_path / "ours.mp4"
    assert (
        main(["transcode", str(source), "-o", str(ours), "--crf", "23", "--preset", "veryfast", "--quiet"]) == 0
    )  # fmt: skip
    assert facts(ours).frames == facts(single).frames == facts(source).frames
    assert abs(psnr(ours, source) - psnr(single, source)) <= 0.1
