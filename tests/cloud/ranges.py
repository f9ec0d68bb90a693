"""Who read which bytes of an upload: every GET of a presigned URL on the local stack's server, with its Range
header and the body bytes actually sent, attributed to the invocation that made the URL; and how much an
encoder may read, computed from its Map item and the source's own packet positions (the tests' ffprobe).

Attribution: a hook in front of every invocation notes the invocation (function and segment) in the invoking
thread; presigned URLs made in that thread carry it as an extra query parameter (S3 and moto ignore unknown
ones); the server's request hook reads it back.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from splitstitch.source import INITIAL_REQUEST_BYTES, REQUEST_BYTES, MediaSource
from splitstitch_cloud.local.stack import Stack
from splitstitch_cloud.storage import S3Store
from tests.cloud.support import segment_index
from tests.probe import ffprobe

TAG = "x-splitstitch-requester"


@dataclass
class Read:
    requester: str
    path: str
    range: str | None
    sent: int


@dataclass
class RangeLog:
    reads: list[Read] = field(default_factory=list)
    local: threading.local = field(default_factory=threading.local)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_invocation(self, spec: Any, event: Any) -> None:
        """Invoker hook: remember who is running in this thread (never answers instead of the handler)."""
        self.local.requester = f"{spec.logical}:{segment_index(event)}"

    def on_request(self, environ: dict[str, Any], status: str, sent: int) -> None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("REQUEST_METHOD") == "GET" and TAG in query:
            with self.lock:
                self.reads.append(Read(query[TAG][0], environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE"), sent))

    def by_requester(self) -> dict[str, int]:
        total: dict[str, int] = defaultdict(int)
        for r in self.reads:
            total[r.requester] += r.sent
        return dict(total)

    def install(self, stack: Stack, monkeypatch: Any) -> RangeLog:
        original = S3Store.source
        log = self

        def source(store: S3Store, key: str, version: str | None, size: int) -> MediaSource:
            made = original(store, key, version, size)
            who = getattr(log.local, "requester", "client")
            return MediaSource.remote(f"{made.url}&{TAG}={who}", made.name, made.size)

        monkeypatch.setattr(S3Store, "source", source)

        def hook(spec: Any, event: Any) -> None:
            log.note_invocation(spec, event)

        stack.invoker.hooks.insert(0, hook)
        stack.extra["observed"].hooks.append(self.on_request)
        return self


@dataclass(frozen=True)
class Packet:
    stream: int
    pts: int
    pos: int
    size: int
    key: bool


def packets(path: Path) -> list[Packet]:
    data = ffprobe("-show_entries", "packet=stream_index,pts,pos,size,flags", str(path))
    return [Packet(int(p["stream_index"]), int(p.get("pts", -1)) if str(p.get("pts", "")).lstrip("-").isdigit() else -1,
                   int(p["pos"]), int(p["size"]), "K" in p.get("flags", "")) for p in data["packets"]]  # fmt: skip


def index_bytes(path: Path) -> int:
    """Size of the container's index: the MP4 `moov` box (top-level boxes walked by their headers)."""
    data, pos = path.read_bytes(), 0
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if kind == b"moov":
            return size
        pos += size if size else len(data)
    raise AssertionError(f"{path}: no moov box")


@dataclass(frozen=True)
class Allowance:
    share: int  # bytes from a GOP before the seek point to two GOPs after the segment's end
    index: int  # moov
    header: int  # the initial (header/probe) requests
    request: int  # one range request past the end: the read granularity

    @property
    def total(self) -> int:
        return self.share + self.index + self.header + self.request


def allowance(item: dict[str, Any], pkts: list[Packet], index: int, data_end: int) -> Allowance:
    """What the encoder of this Map item may read: its share of the source (from the keyframe before its seek
    point to the second keyframe after its end, every stream's bytes in between), the index, the header reads
    and one request of read-ahead."""
    segment, stream = item["task"]["segment"], item["task"]["video"]["index"]
    keys = sorted((p for p in pkts if p.stream == stream and p.key), key=lambda p: p.pos)
    seek_pts = segment["seek_pts"]
    if seek_pts is None:
        lo = 0
    else:
        at = next(i for i, k in enumerate(keys) if k.pts == seek_pts)
        lo = keys[max(at - 1, 0)].pos
    end_pts = segment["end_pts"]
    if end_pts is None:
        hi = data_end
    else:
        after = [i for i, k in enumerate(keys) if k.pts >= end_pts]
        hi = keys[after[0] + 2].pos if after and after[0] + 2 < len(keys) else data_end
    return Allowance(hi - lo, index, 2 * INITIAL_REQUEST_BYTES, REQUEST_BYTES)


def check_reads(log: RangeLog, items: list[dict[str, Any]], source: Path) -> dict[int, tuple[int, Allowance]]:
    """Every encoder read at most its allowance; returns (bytes read, allowance) per segment."""
    pkts = packets(source)
    index, data_end = index_bytes(source), max(p.pos + p.size for p in pkts)
    totals = log.by_requester()
    seen = {}
    for item in items:
        i = item["task"]["segment"]["index"]
        read = totals.get(f"EncodeSegmentFunction:{i}", 0)
        allowed = allowance(item, pkts, index, data_end)
        assert 0 < read <= allowed.total, (
            f"segment {i} read {read} bytes of the source, over its allowance of {allowed.total} "
            f"(share {allowed.share} + index {allowed.index} + header {allowed.header} + one request {allowed.request})"
        )
        seen[i] = (read, allowed)
    return seen
