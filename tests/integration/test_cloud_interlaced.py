"""An interlaced upload in the cloud (moto, real ASL): prepare detects it from ranged reads, every encoder
Lambda deinterlaces its segment, and the report says so; the upload's settings metadata can turn it off."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from splitstitch_cloud import contract as layout
from tests.cloud.support import Stack
from tests.interlace_probe import combing, field_order, looks_progressive
from tests.stream_probe import frame_times


def upload(stack: Stack, path: Path, key: str, settings: dict | None = None) -> str:
    metadata = {layout.SETTINGS_METADATA: json.dumps(settings)} if settings else {}
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=path.read_bytes(), Metadata=metadata)
    etag = stack.s3.head_object(Bucket=stack.bucket, Key=key)["ETag"].strip('"')
    stack.settle()
    return layout.job_name(key, etag, json.dumps(settings) if settings else None)


@pytest.mark.slow
@pytest.mark.parametrize("setting", ["auto", "off"])
def test_interlaced_upload(setting: str, running_stack: Stack, samples, tmp_path: Path) -> None:
    source = samples("interlaced_dvd_tff")
    job = upload(running_stack, source, "uploads/dvd.mpg", {"deinterlace": setting} if setting == "off" else None)
    assert running_stack.wait(job)["status"] == "SUCCEEDED"
    output_key = layout.output_key("uploads/dvd.mpg", job, ".mp4")
    report = running_stack.json(layout.report_key(output_key))
    out = tmp_path / "dvd.mp4"
    running_stack.s3.download_file(running_stack.bucket, output_key, str(out))
    assert report["status"] == "succeeded" and len(report["plan"]["segments"]) >= 2
    assert frame_times(out) == frame_times(source)
    assert report["interlace"]["deinterlaced"] is (setting == "auto"), report["interlace"]["summary"]
    if setting == "auto":
        assert report["interlace"]["filter"] == "bwdif=mode=send_frame:parity=tff:deint=all"
        assert field_order(out) == "progressive" and looks_progressive(combing(out))
    else:
        assert "--deinterlace off" in report["interlace"]["summary"] and not looks_progressive(combing(out))
