"""The S3 side of a job: the only module of the project that calls the S3 API.

- `S3Store`: one bucket (JSON documents, ranged reads, listing, presigned GETs).
- `S3Storage`: the core's `Storage` interface over `work/<job>/`, what the stages read and write.
- `MultipartSink`: the core's `Sink` as one S3 multipart upload whose parts are built and sent by a pool
  of threads at once (a single PUT for an output of one part).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from splitstitch import fmp4
from splitstitch.encode import EncodedSegment
from splitstitch.errors import SegmentMismatchError
from splitstitch.source import MediaSource
from splitstitch_cloud import contract

log = logging.getLogger(__name__)

SINGLE_PUT_BYTES = 5 << 30  # S3's limit for one PUT (and for one CopyObject)
PRESIGN_SECONDS = 3600  # an encoder reads its range within minutes; the finish reads nothing by URL
PART_THREADS = 16  # parts built (GETs of their fragments) and uploaded at once by the finish stage
POOL = Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 5})
# botocore presigns with SigV2 in us-east-1 and us-west-2 unless told: SigV4 for every S3 request and URL
S3_CONFIG = POOL.merge(Config(signature_version="s3v4"))


_clients: dict[tuple[str, ...], Any] = {}
_clients_lock = threading.Lock()


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """boto3 client, made once per process and reused (as Lambda's warm invocations should: making one costs
    tens of milliseconds of CPU); `AWS_ENDPOINT_URL` (boto3 reads it itself) or `endpoint_url` point it elsewhere."""
    region = region or os.environ.get("AWS_REGION")
    key = (service, endpoint_url or "", region or "", os.environ.get("AWS_ENDPOINT_URL", ""),
           os.environ.get("AWS_ACCESS_KEY_ID", ""))  # fmt: skip
    with _clients_lock:
        if key not in _clients:
            config = S3_CONFIG if service == "s3" else POOL
            _clients[key] = boto3.client(service, endpoint_url=endpoint_url, region_name=region, config=config)
        return _clients[key]


@dataclass
class S3Store:
    bucket: str
    s3: Any

    @classmethod
    def from_env(cls, bucket: str | None = None) -> S3Store:
        return cls(bucket or os.environ["BUCKET"], client("s3"))

    def get_json(self, key: str) -> Any:
        return json.loads(self.get(key))

    def get_json_or_none(self, key: str) -> Any:
        try:
            return self.get_json(key)
        except self.s3.exceptions.NoSuchKey:
            return None

    def put_json(self, key: str, data: Any) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def get(self, key: str, offset: int = 0, size: int | None = None, version: str | None = None) -> bytes:
        extra: dict[str, str] = {"VersionId": version} if version else {}
        if offset or size is not None:
            extra["Range"] = f"bytes={offset}-{'' if size is None else offset + size - 1}"
        return self.s3.get_object(Bucket=self.bucket, Key=key, **extra)["Body"].read()

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def download(self, key: str, path: Path) -> Path:
        self.s3.download_file(self.bucket, key, str(path))
        return path

    def upload(self, path: Path, key: str, content_type: str = "application/octet-stream") -> int:
        self.s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        return path.stat().st_size

    def head(self, key: str, version: str | None = None) -> dict[str, Any]:
        return self.s3.head_object(Bucket=self.bucket, Key=key, **({"VersionId": version} if version else {}))

    def exists(self, key: str) -> bool:
        try:
            self.head(key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    def delete_prefix(self, prefix: str) -> int:
        keys = self.keys(prefix)
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
        return len(keys)

    def source(self, key: str, version: str | None, size: int) -> MediaSource:
        """A presigned GET of an upload, as ffmpeg's input (generated here, never taken from a user)."""
        params = {"Bucket": self.bucket, "Key": key} | ({"VersionId": version} if version else {})
        url = self.s3.generate_presigned_url("get_object", Params=params, ExpiresIn=PRESIGN_SECONDS)
        return MediaSource.remote(url, key, size)


@dataclass
class S3Storage:
    """The core's Storage over `work/<job>/`; counts its requests for the job's cost."""

    store: S3Store
    job: str
    puts: int = 0
    gets: int = 0

    def _key(self, name: str) -> str:
        return contract.work_key(self.job, name)

    def put_file(self, name: str, path: Path) -> None:
        """One PUT with Content-MD5 (S3 refuses bytes that arrive damaged, and the ETag is then their MD5,
        which copies keep) below 5 GB, the multipart upload of the transfer manager above."""
        if path.stat().st_size < SINGLE_PUT_BYTES:
            digest = hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()
            with path.open("rb") as body:
                self.store.s3.put_object(Bucket=self.store.bucket, Key=self._key(name), Body=body,
                                         ContentMD5=base64.b64encode(digest).decode())  # fmt: skip
        else:
            self.store.upload(path, self._key(name))
        path.unlink(missing_ok=True)
        self.puts += 1

    def put_bytes(self, name: str, data: bytes) -> None:
        self.store.put(self._key(name), data)
        self.puts += 1

    def get_bytes(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        self.gets += 1
        return self.store.get(self._key(name), offset, size)

    def exists(self, name: str) -> bool:
        self.gets += 1
        return self.store.exists(self._key(name))

    def media(self, name: str) -> MediaSource:
        self.gets += 1
        key = self._key(name)
        return self.store.source(key, None, int(self.store.head(key)["ContentLength"]))


@dataclass
class MultipartSink:
    """Parts built and uploaded by `threads` workers at once, then completed in order (aborted on error)."""

    store: S3Store
    key: str
    content_type: str
    threads: int = PART_THREADS
    requests: int = 0
    part_bytes: list[int] = field(default_factory=list)

    def write_parts(self, count: int, build: Callable[[int], bytes], commit: Callable[[], bool]) -> bool:
        """Nothing appears at `key` unless `commit()` (the verification) passes once every part is built."""
        s3, bucket = self.store.s3, self.store.bucket
        if count == 1:
            data = build(0)
            if not commit():
                return False
            self.store.put(self.key, data, self.content_type)
            self.requests, self.part_bytes = 1, [len(data)]
            return True
        upload = s3.create_multipart_upload(Bucket=bucket, Key=self.key, ContentType=self.content_type)["UploadId"]
        sizes = [0] * count

        def send(i: int) -> dict[str, Any]:
            data = build(i)
            sizes[i] = len(data)
            etag = s3.upload_part(Bucket=bucket, Key=self.key, UploadId=upload, PartNumber=i + 1, Body=data)["ETag"]
            return {"PartNumber": i + 1, "ETag": etag}

        try:
            with ThreadPoolExecutor(max_workers=min(self.threads, count)) as pool:
                parts = list(pool.map(send, range(count)))
            if not commit():
                s3.abort_multipart_upload(Bucket=bucket, Key=self.key, UploadId=upload)
                return False
            s3.complete_multipart_upload(Bucket=bucket, Key=self.key, UploadId=upload, MultipartUpload={"Parts": parts})
        except BaseException:
            s3.abort_multipart_upload(Bucket=bucket, Key=self.key, UploadId=upload)
            raise
        self.requests, self.part_bytes = count + 2, sizes
        return True


PACKAGE_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".mpd": "application/dash+xml", ".m4s": "video/iso.segment",
                 ".mp4": "video/mp4"}  # fmt: skip
HEAD_PROBE = 64 << 10  # a media segment's moof is a few KiB: this much usually holds it and the mdat header


@dataclass
class S3Writer:
    """A streaming package under `prefix` (outputs/<name>-<digest>/): small files PUT, media segments copied
    from work/<job>/ on the server (their ETag must be the MD5 their encoder recorded) and only their heads
    read back, `threads` at once."""

    store: S3Store
    job: str
    prefix: str
    threads: int = 32
    requests: int = 0

    def _type(self, name: str) -> str:
        return PACKAGE_TYPES.get(Path(name).suffix, "application/octet-stream")

    def write(self, name: str, data: bytes) -> None:
        self.store.put(self.prefix + name, data, self._type(name))
        self.requests += 1

    def read(self, name: str) -> bytes:
        return self.store.get(self.prefix + name)

    def publish(self, store: object, stored: str, name: str, result: EncodedSegment) -> bytes:
        s3, bucket, key = self.store.s3, self.store.bucket, self.prefix + name
        copied = s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": contract.work_key(self.job, stored)},
                                ContentType=self._type(name), MetadataDirective="REPLACE")  # fmt: skip
        etag = copied["CopyObjectResult"]["ETag"].strip('"')
        if etag != result.md5:
            raise SegmentMismatchError(f"{name}: the copy's ETag {etag} is not the MD5 its encoder recorded")
        head = self.store.get(key, 0, min(HEAD_PROBE, result.bytes))
        need = min(fmp4.first_box_size(head) + 16, result.bytes)
        if len(head) < need:
            head = self.store.get(key, 0, need)
        self.requests += 3
        return head
