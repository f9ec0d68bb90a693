"""How a job names its source on every read, so that what the encoders read is what was planned: the upload's
version (signed into each presigned URL), its ETag (sent as If-Match: S3 answers 412 to other bytes) and size, and
the demuxer its probe found (`-f`, `-format_whitelist`). A read that fails asks S3 whether the source changed,
so that the reason says so rather than what ffmpeg saw.
"""

from __future__ import annotations

from typing import Any

from splitstitch.errors import UsageError
from splitstitch.source import MediaSource
from splitstitch_cloud.storage import S3Store

NO_VERSION = ("the upload event carries no versionId: the uploads bucket must be versioned (template.yaml turns "
              "versioning on), so that every read of a job names the version it was planned from")  # fmt: skip


def source_ref(key: str, version: str | None, size: int, etag: str | None, demuxer: str) -> dict[str, Any]:
    """How every later read names the source: its version, size and ETag (If-Match), and its probed demuxer."""
    return {"key": key, "version": version, "size": size, "etag": etag, "format": demuxer}


def ref_source(store: S3Store, ref: dict[str, Any]) -> MediaSource:
    """The source a Map item names, pinned to its version, ETag and demuxer (an item without one is refused)."""
    if not ref.get("format"):
        raise UsageError(f"{ref['key']}: the item names no demuxer for its source (refused)")
    return store.source(ref["key"], ref.get("version"), ref["size"], ref.get("etag"), ref["format"])


def source_changed(store: S3Store, ref: dict[str, Any]) -> str | None:
    """Why the source a ref names is no longer what was planned (its version gone, its size or ETag other),
    or None. Asked after an ffmpeg failure, so that the reason says so rather than what ffmpeg saw."""
    try:
        head = store.head(ref["key"], ref.get("version"))
    except store.s3.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NoSuchVersion", "NotFound", "403"):
            return f"S3 answers {code} for the {'version' if ref.get('version') else 'object'} it was planned from"
        return None  # the question cannot be answered: the original error stands
    etag, size = head["ETag"].strip('"'), int(head["ContentLength"])
    if size != ref["size"] or (ref.get("etag") and etag != ref["etag"]):
        return f"planned as {ref['size']} bytes with ETag {ref.get('etag')}, S3 now holds {size} bytes with ETag {etag}"
    return None
