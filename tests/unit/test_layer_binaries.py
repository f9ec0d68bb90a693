"""The Lambda layer ships the ffmpeg and ffprobe that run locally, and only binaries Lambda can run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from splitstitch.binaries import FFMPEG_ENV, FFPROBE_ENV, binaries
from splitstitch_cloud import layer

ROOT = Path(__file__).resolve().parents[2]
X86_64 = b"\x7fELF\x02\x01\x01\x00" + bytes(8) + b"\x02\x00\x3e\x00" + bytes(44)


def make_variable(name: str) -> str:
    done = subprocess.run(["make", "-s", "-C", str(ROOT / "layers" / "ffmpeg"), "--eval", "print-%: ; @echo $($*)",
                           f"print-{name}", f"PYTHON={ROOT / '.venv' / 'bin' / 'python'}"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout.strip()


@pytest.mark.skipif(bool(os.environ.get(FFMPEG_ENV) or os.environ.get(FFPROBE_ENV)), reason="binaries overridden")
def test_the_layer_ships_the_binaries_that_run_locally() -> None:
    assert os.path.realpath(make_variable("FFMPEG")) == os.path.realpath(binaries().ffmpeg)
    assert os.path.realpath(make_variable("FFPROBE")) == os.path.realpath(binaries().ffprobe)


def test_the_local_ffmpeg_has_10_bit_encoders_and_the_tonemap_filters() -> None:
    from splitstitch.ffmpeg import ffmpeg_filters

    assert {"zscale", "tonemap", "sidedata"} <= ffmpeg_filters()
    assert layer.glibc_needed(Path(binaries().ffmpeg).read_bytes()) <= layer.LAMBDA_GLIBC  # type: ignore[operator]


def test_a_binary_needing_a_newer_glibc_than_lambdas_is_refused(tmp_path: Path, capsys) -> None:
    new = tmp_path / "ffmpeg"
    new.write_bytes(X86_64 + b"\x00GLIBC_2.17\x00GLIBC_2.38\x00GLIBC_2.4\x00")
    ok = tmp_path / "ffprobe"
    ok.write_bytes(X86_64 + b"\x00GLIBC_2.28\x00GLIBC_2.3.4\x00")
    static = tmp_path / "static"
    static.write_bytes(X86_64)
    assert layer.glibc_needed(new.read_bytes()) == (2, 38)
    assert layer.glibc_needed(static.read_bytes()) is None
    assert layer.main([str(ok), str(static)]) == 0
    assert layer.main([str(new), str(ok)]) == 1
    assert capsys.readouterr().err == (
        f"error: {new} needs glibc 2.38, newer than Lambda's 2.34: the Lambda layer needs Linux x86_64 binaries it "
        "can run\n"
    )
