"""Streaming output on the local stack: the Map's items are segments x rungs, every audio rendition is its
own item of the audio Map, the finish step copies the encoders' media segments on the server and writes the
manifests; the package is checked here with the tests' own parsers and ffmpeg reading it from disk."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import m3u8
import pytest
from mpegdash.parser import MPEGDASHParser

from splitstitch.binaries import binaries
from splitstitch_cloud import contract
from tests.cloud.conftest import FAST
from tests.cloud.support import Stack, served_stack, upload


@pytest.fixture
def streaming_stack(aws_env: None) -> Iterator[Stack]:
    with served_stack(FAST | {"OutputFormat": "cmaf"}, execute=True) as built:
        yield built


def download_package(stack: Stack, entry_key: str, into: Path) -> Path:
    folder = entry_key.rsplit("/", 1)[0] + "/"
    for key in stack.keys(folder):
        target = into / key[len(folder) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        stack.s3.download_file(stack.bucket, key, str(target))
    return into / entry_key.rsplit("/", 1)[1]


def frames_of(playlist: Path) -> int:
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "warning", "-protocol_whitelist", "file", "-i",
                           str(playlist), "-map", "0:v:0", "-fps_mode", "passthrough", "-f", "framemd5", "-"],
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    assert proc.stderr.strip() == "", proc.stderr
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith("#"))


def test_a_streaming_job_publishes_a_verified_package(streaming_stack: Stack, samples, tmp_path: Path) -> None:
    stack = streaming_stack
    job = upload(stack, samples("surround"), "uploads/talk.mp4", json.dumps({"ladder": "240,120"}))
    assert stack.wait(job)["status"] == "SUCCEEDED"
    status = stack.json(contract.status_key(job))
    assert status["state"] == "succeeded", status
    entry = status["output_key"]
    assert entry == contract.package_entry("uploads/talk.mp4", job, "cmaf")
    report = stack.json(status["report_key"])
    assert report["verification"]["ok"] and [r["name"] for r in report["output"]["rungs"]] == ["240p", "120p"]
    segments = len(report["plan"]["segments"])
    encodes = [ev for fn, ev in stack.invocations if fn == "EncodeSegmentFunction"]
    assert sorted((e["task"]["rung"], e["task"]["segment"]["index"]) for e in encodes) == sorted(
        (r, i) for r in ("240p", "120p") for i in range(segments)
    )  # one item per segment and rung
    audio = [ev["audio"]["name"] for fn, ev in stack.invocations if fn == "EncodeAudioFunction"]
    assert sorted(audio) == ["a0-5.1", "a0-stereo"]  # the 5.1 source: a stereo and a 5.1 rendition
    assert stack.keys(contract.work_prefix(job)) == []

    master = download_package(stack, entry, tmp_path / "package")
    parsed = m3u8.load(str(master))
    assert [p.stream_info.resolution[1] for p in parsed.playlists] == [240, 120]
    mpd = MPEGDASHParser.parse(str(master.with_name("manifest.mpd")))
    assert len(mpd.periods[0].adaptation_sets) == 3  # video, and the two audio renditions
    source_frames = report["source"]["video"]["frames"]
    for rung in ("240p", "120p"):
        playlist = master.parent / "video" / rung / "playlist.m3u8"
        media = m3u8.load(str(playlist))
        assert [round(s.duration, 6) for s in media.segments] == [s["duration_s"] for s in report["plan"]["segments"]]
        assert frames_of(playlist) == source_frames


def test_a_package_that_fails_verification_leaves_nothing_under_outputs(
    streaming_stack: Stack, samples, monkeypatch: pytest.MonkeyPatch
) -> None:
    from splitstitch import streaming
    from splitstitch.verify import Check

    real = streaming.finish_streaming

    def failing(*args, **kwargs):
        packaged = real(*args, **kwargs)
        failed = type(packaged.verification)((*packaged.verification.checks, Check("forced", False, "made to fail")))
        return type(packaged)(failed, *[getattr(packaged, f) for f in ("videos", "audios", "encoded", "files", "size",
                                                                          "entry")])  # fmt: skip

    monkeypatch.setattr(streaming, "finish_streaming", failing)
    job = upload(streaming_stack, samples("cfr"), "uploads/fails.mp4", json.dumps({"ladder": "120"}))
    assert streaming_stack.wait(job)["status"] == "FAILED"
    status = streaming_stack.json(contract.status_key(job))
    assert status["state"] == "failed" and "forced: made to fail" in status["reason"], status
    assert streaming_stack.keys("outputs/") == []
