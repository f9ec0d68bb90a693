"""Bad input: exit 2, one `error: <file>: <what>` line, no traceback, nothing at OUT, source untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitstitch.binaries import binaries


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splitstitch.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)  # fmt: skip


def ffmpeg(*args: str) -> None:
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def make_bad(kind: str, folder: Path, samples) -> Path:
    if kind == "missing":
        return folder / "nope.mp4"
    path = folder / {"still_image": "still.jpg", "audio_only": "song.m4a", "hls": "list.m3u8",
                     "ffconcat": "list.ffconcat", "hls_as_mp4": "video.mp4"}.get(kind, f"{kind}.mp4")  # fmt: skip
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("just some notes, not a video\n" * 20)
    elif kind == "random":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "truncated":
        data = samples("cfr").read_bytes()
        faststart = folder / "fs.mp4"
        ffmpeg("-i", str(samples("cfr")), "-c", "copy", "-movflags", "+faststart", str(faststart))
        data = faststart.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "still_image":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(path))
    elif kind == "audio_only":
        ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(path))
    elif kind in ("hls", "hls_as_mp4"):
        path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{samples('cfr')}\n#EXT-X-ENDLIST\n")
    elif kind == "ffconcat":
        path.write_text(f"ffconcat version 1.0\nfile '{samples('cfr')}'\n")
    return path


BAD = ["missing", "empty", "text", "random", "truncated", "still_image", "audio_only", "hls", "ffconcat", "hls_as_mp4"]


@pytest.mark.parametrize("kind", BAD)
def test_bad_input_is_refused_cleanly(kind: str, samples, tmp_path: Path) -> None:
    source = make_bad(kind, tmp_path, samples)
    before = source.read_bytes() if source.exists() else None
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    proc = cli("transcode", str(source), "-o", str(out), "--quiet")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {source}: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.parent.iterdir()) == []
    assert (source.read_bytes() if source.exists() else None) == before


@pytest.mark.parametrize(
    ("option", "value"), [("--max-height", "200"), ("--max-width", "300"), ("--max-duration", "2")]
)
def test_limits_are_configurable_and_enforced(option: str, value: str, samples, tmp_path: Path) -> None:
    out = tmp_path / "o.mp4"
    proc = cli("transcode", str(samples("cfr")), "-o", str(out), option, value, "--quiet")
    assert proc.returncode == 2 and "over the limit" in proc.stderr
    assert not out.exists()


def test_playlist_content_never_reaches_any_output(samples, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    marker = "TOP-SECRET-7f3a9c"
    secret.write_text(marker * 100)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("list.m3u8", "video.mp4"):
        playlist = tmp_path / name
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{secret}\n#EXT-X-ENDLIST\n")
        out = tmp_path / f"out-{name}.mp4"
        proc = cli("transcode", str(playlist), "-o", str(out), "--work-dir", str(work), "--report",
                   str(tmp_path / "r.json"), "--quiet")  # fmt: skip
        assert proc.returncode == 2
        assert marker not in proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != secret]
    assert all(marker.encode() not in p.read_bytes() for p in written)


@pytest.mark.parametrize("name", ["with space.mp4", 'it\'s "quoted".mp4', "$(touch pwned).mp4", "vidéo-日本.mp4"])
def test_awkward_file_names(name: str, samples, tmp_path: Path) -> None:
    source = tmp_path / name
    source.write_bytes(samples("cfr").read_bytes())
    out = tmp_path / f"out {name}"
    proc = cli("transcode", str(source), "-o", str(out), "--preset", "ultrafast", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    assert not (tmp_path / "pwned").exists()


def test_ctrl_c_removes_temporary_files(samples, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "o.mp4"
    work.mkdir()
    source = samples("long_gop")
    proc = subprocess.Popen([sys.executable, "-m", "splitstitch.cli", "transcode", str(source), "-o", str(out),
                             "--work-dir", str(work), "--preset", "veryslow", "--segment-seconds", "1", "--quiet"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(work.glob("*/encoded_*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert list(work.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("work",)] == []
