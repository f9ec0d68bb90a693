"""Encoders read their own range of the upload, not the file (issue 8, "Measure and show"): every GET of the
upload is logged with its Range and the bytes actually sent, per invocation, and each encoder's total is held
to its share of the source plus the index, the header reads and a GOP or two on each side."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from splitstitch import encode
from splitstitch_cloud import contract
from tests.cloud.media import fat_source
from tests.cloud.ranges import RangeLog, check_reads
from tests.cloud.support import Stack, context, handler, served_stack


@pytest.fixture(scope="module")
def fat(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fat_source(tmp_path_factory.mktemp("fat") / "fat.mp4")


@pytest.fixture(params=[True], ids=["executed"])
def logged_stack(request, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, RangeLog]]:
    """The stack with every read of an upload logged; executions run unless the test says `execute=False`."""
    with served_stack(
        {"Preset": "ultrafast", "MaxConcurrency": 4, "RetryIntervalSeconds": 1}, execute=request.param
    ) as stack:
        yield stack, RangeLog().install(stack, monkeypatch)


def upload(stack: Stack, path: Path, key: str) -> str:
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=path.read_bytes())
    stack.settle()
    return contract.job_name(key, stack.s3.head_object(Bucket=stack.bucket, Key=key)["ETag"].strip('"'))


def test_each_encoder_reads_only_its_share(logged_stack, fat: Path) -> None:
    stack, log = logged_stack
    job = upload(stack, fat, "uploads/fat.mp4")
    assert stack.wait(job, timeout=120)["status"] == "SUCCEEDED", stack.history(job)
    items = [ev for name, ev in stack.invocations if name == "EncodeSegmentFunction"]
    assert len(items) == 4 and {i["task"]["segment"]["index"] for i in items} == {0, 1, 2, 3}
    reads = check_reads(log, items, fat)
    size = fat.stat().st_size
    for i, (read, allowed) in sorted(reads.items()):
        print(f"segment {i}: read {read} bytes, allowed {allowed.total} ({allowed}), source {size}")
    assert all(allowed.share < size / 2 for _, allowed in reads.values())  # the allowance means something
    assert sum(read for read, _ in reads.values()) < 1.5 * size  # together about the file once, not four times
    assert all(r.range and r.range.startswith("bytes=") for r in log.reads)  # every read is a ranged GET


@pytest.mark.parametrize("logged_stack", [False], ids=["not-executed"], indirect=True)
def test_a_widened_seek_is_caught(logged_stack, fat: Path) -> None:
    """The same encoder made to decode from the file's start (no seek) reads far past its allowance: the
    check above would fail an encoder that read more than its share."""
    stack, log = logged_stack
    job = upload(stack, fat, "uploads/widened.mp4")  # prepared; the execution is not run here
    last = max(stack.json(contract.items_key(job)), key=lambda i: i["task"]["segment"]["index"])
    run = handler(stack, "EncodeSegmentFunction")
    log.note_invocation(stack.specs[stack.functions["EncodeSegmentFunction"]], last)
    run(last, context(stack, "EncodeSegmentFunction"))
    check_reads(log, [last], fat)  # as planned: within its allowance
    log.reads.clear()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(encode, "seek_seconds", lambda *args: None)  # decode from the start, trim to the segment
        run(last, context(stack, "EncodeSegmentFunction"))
    with pytest.raises(AssertionError, match="over its allowance"):
        check_reads(log, [last], fat)
