"""Encoders read only their share (issue 16, item 6), counted at the storage layer: the local stack's server
counts the body bytes of every GET of the upload, whoever makes it (ffmpeg through a presigned URL, or a
ranged GET of the storage module), attributed to the invocation that made it. Over a job of 30+ one-second
segments the encoders together read at most 1.2x the source, prepare reads it once, and the job report's bytes
per stage are what the server sent."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest

from splitstitch import share
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch_cloud import contract
from tests.cloud.media import fat_source
from tests.cloud.ranges import HEADER_ENVIRON, TAG, RangeLog
from tests.cloud.support import Stack, served_stack, upload

pytestmark = pytest.mark.slow
SECONDS = 32  # one-second GOPs: 32 segments of 1 s under a MaxConcurrency of 40


@dataclass
class SourceReads:
    """Body bytes the server sent for GETs of one key, by requester (function:segment, "unknown" if untagged)."""

    path: str
    sent: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_request(self, environ: dict[str, Any], status: str, sent: int) -> None:
        if environ.get("REQUEST_METHOD") != "GET" or not unquote(environ.get("PATH_INFO", "")).endswith(self.path):
            return
        query = parse_qs(environ.get("QUERY_STRING", ""))
        who = query[TAG][0] if TAG in query else environ.get(HEADER_ENVIRON, "unknown")
        with self.lock:
            self.sent[who] += sent

    def stage(self, function: str) -> int:
        return sum(n for who, n in self.sent.items() if who.split(":")[0] == function)


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("share")
    end = fat_source(folder / "end.mp4", SECONDS)  # moov after the mdat
    fast = folder / "fast.mp4"
    run_ffmpeg(["-i", str(end), "-c", "copy", "-movflags", "+faststart", str(fast)], timeout=120)
    return {"end.mp4": end, "fast.mp4": fast}


@pytest.fixture
def counted(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, RangeLog]]:
    with served_stack({"Preset": "ultrafast", "MaxConcurrency": 40, "RetryIntervalSeconds": 1}) as stack:
        yield stack, RangeLog().install(stack, monkeypatch)


def run_job(stack: Stack, source: Path, key: str) -> tuple[SourceReads, dict[str, Any]]:
    reads = SourceReads("/" + key)
    stack.extra["observed"].hooks.append(reads.on_request)
    job = upload(stack, source, key)
    assert stack.wait(job, timeout=300)["status"] == "SUCCEEDED", stack.history(job)
    status = stack.json(contract.status_key(job))
    return reads, stack.json(status["report_key"])


@pytest.mark.parametrize("name", ["end.mp4", "fast.mp4"])
def test_encoders_read_only_their_share(counted, sources: dict[str, Path], name: str) -> None:
    stack, _ = counted
    source = sources[name]
    size = source.stat().st_size
    reads, report = run_job(stack, source, f"uploads/{name}")
    segments = len(report["plan"]["segments"]) if isinstance(report["plan"].get("segments"), list) else None
    encoders = [ev for n, ev in stack.invocations if n == "EncodeSegmentFunction"]
    assert len(encoders) >= 30, f"{len(encoders)} segments ({segments})"
    encode, prepare, audio = (
        reads.stage(f) for f in ("EncodeSegmentFunction", "PrepareFunction", "EncodeAudioFunction")
    )
    print(f"{name}: {size} bytes; prepare {prepare}, encoders {encode} ({encode / size:.3f}x), audio {audio}; "
          f"by requester {dict(reads.sent)}")  # fmt: skip
    assert encode <= 1.2 * size, f"the encoders read {encode / size:.2f}x the source"
    assert prepare == size, f"prepare read {prepare} bytes of a {size}-byte source"
    assert reads.sent.get("unknown", 0) == 0, dict(reads.sent)
    assert all("share" in ev for ev in encoders)  # each encoder was given its share
    counted_bytes = report["source_reads"]["bytes"]
    assert counted_bytes["encode"] == encode and counted_bytes["prepare"] == prepare
    assert counted_bytes["audio"] == audio and counted_bytes["finish"] == 0
    assert report["source_reads"]["source_bytes"] == size


def test_without_shares_the_bound_fails(counted, sources: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """What the encoders read before shares (every one through a presigned URL) breaks the bound: the check above
    can fail, and the report says those reads were not counted."""
    stack, _ = counted
    monkeypatch.setattr(share, "layout_of", lambda *args: None)  # no container handled: the presigned-URL path
    source = sources["end.mp4"]
    reads, report = run_job(stack, source, "uploads/url.mp4")
    encode = reads.stage("EncodeSegmentFunction")
    print(f"without shares: the encoders read {encode / source.stat().st_size:.2f}x the source")
    assert encode > 1.2 * source.stat().st_size
    assert report["source_reads"]["bytes"]["encode"] is None
