"""Issue 16 item 2 in the core: after the first probe, every ffmpeg/ffprobe that reads the source is told the
demuxer found (`-f`) and admits no other (`-format_whitelist`), in a local transcode as in the cloud."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch import ffmpeg
from splitstitch.pipeline import transcode
from splitstitch.settings import Settings


@pytest.mark.parametrize("kind", ["cfr", "two_audio"])
def test_every_read_of_the_source_after_the_probe_is_pinned(samples, tmp_path: Path, monkeypatch, kind) -> None:
    calls: list[list[str]] = []
    run, run_progress = ffmpeg._run, ffmpeg._run_with_progress

    def recording_run(argv: list[str], timeout: float):
        calls.append(argv)
        return run(argv, timeout)

    def recording_progress(argv: list[str], timeout: float, on_progress):
        calls.append(argv)
        return run_progress(argv, timeout, on_progress)

    monkeypatch.setattr(ffmpeg, "_run", recording_run)
    monkeypatch.setattr(ffmpeg, "_run_with_progress", recording_progress)
    source = samples(kind)
    transcode(source, tmp_path / "out.mp4", Settings(preset="ultrafast"), workers=2)
    url = f"file:{source.resolve()}"
    reads = [argv for argv in calls if url in argv]
    assert len(reads) >= 4  # the probe, the scan, the encoders, the audio
    first, *later = reads
    assert "-show_streams" in first and "-format_whitelist" not in first  # what finds the demuxer
    for argv in later:
        at = argv.index("-format_whitelist")
        assert argv[at + 1] == "mov,mp4,m4a,3gp,3g2,mj2" and argv[argv.index("-f") + 1] == "mov", argv
        assert argv.index("-f") < argv.index(url) and at < argv.index(url), argv
