"""Presigned URLs are SigV4, never logged, never in an error; TLS is never silently unverified."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from splitstitch import source as source_module
from splitstitch.errors import ToolError, UsageError, redact_urls
from splitstitch.ffmpeg import run_ffprobe
from splitstitch.source import CA_FILE_ENV, MediaSource

SIGNED = "https://b.s3.amazonaws.com/uploads/a.mp4?X-Amz-Credential=AKIDEXAMPLE%2F20261204&X-Amz-Signature=SECRET123"


def test_redact_urls_removes_every_query() -> None:
    text = f"[https @ 0x1] {SIGNED}: Invalid data; http://127.0.0.1:9/x?Signature=SECRET123&AWSAccessKeyId=K"
    redacted = redact_urls(text)
    assert "SECRET123" not in redacted and "AKIDEXAMPLE" not in redacted and "AWSAccessKeyId" not in redacted
    assert "https://b.s3.amazonaws.com/uploads/a.mp4?<query redacted>" in redacted


def test_tool_errors_and_debug_logs_carry_no_signature(caplog: pytest.LogCaptureFixture) -> None:
    url = "http://127.0.0.1:9/uploads/a.mp4?X-Amz-Credential=AKIDEXAMPLE&X-Amz-Signature=SECRET123"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ToolError) as caught:
        run_ffprobe(["-protocol_whitelist", "http,tcp", "-i", url], timeout=30)
    error = caught.value
    seen = " ".join([caplog.text, str(error), error.stderr_tail, *error.argv])
    assert "127.0.0.1:9/uploads/a.mp4" in seen  # the URL is named, without its query
    assert "SECRET123" not in seen and "AKIDEXAMPLE" not in seen


def test_presigned_urls_are_sigv4(monkeypatch: pytest.MonkeyPatch) -> None:
    from splitstitch_cloud.storage import S3Store, client

    for key, value in {"AWS_ACCESS_KEY_ID": "AKIDSIGV4TEST", "AWS_SECRET_ACCESS_KEY": "s"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for region in ("us-east-1", "us-west-2", "eu-west-1"):  # botocore's SigV2 default held in the first two
        url = S3Store("media-bucket", client("s3", region=region)).source("uploads/a.mp4", None, 1).url
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url, url
        assert "AWSAccessKeyId=" not in url


def test_https_without_a_ca_bundle_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    remote = MediaSource.remote("https://b.s3.amazonaws.com/k?X-Amz-Signature=s", "uploads/k.mp4", 10)
    monkeypatch.delenv(CA_FILE_ENV, raising=False)
    monkeypatch.setattr(source_module, "CA_BUNDLES", (str(tmp_path / "none.crt"),))
    with pytest.raises(UsageError, match="TLS cannot be verified"):
        remote.input_options()
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv(CA_FILE_ENV, str(bundle))
    assert remote.input_options()["tls_verify"] == 1 and remote.input_options()["ca_file"] == str(bundle)
