"""The S3 side of a job: a small typed wrapper over one bucket (the only place that calls the S3 API)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3


def client(service: str, endpoint_url: str | None = None, region: str | None = None) -> Any:
    """boto3 client; `AWS_ENDPOINT_URL` (boto3 reads it itself) or `endpoint_url` point it at moto."""
    return boto3.client(service, endpoint_url=endpoint_url, region_name=region or os.environ.get("AWS_REGION"))


@dataclass
class S3Store:
    bucket: str
    s3: Any

    @classmethod
    def from_env(cls, bucket: str | None = None) -> S3Store:
        return cls(bucket or os.environ["BUCKET"], client("s3"))

    def get_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_json(self, key: str, data: Any) -> None:
        body = json.dumps(data, separators=(",", ":")).encode()
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")

    def download(self, key: str, path: Path) -> Path:
        self.s3.download_file(self.bucket, key, str(path))
        return path

    def upload(self, path: Path, key: str, content_type: str = "application/octet-stream") -> int:
        self.s3.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})
        return path.stat().st_size

    def head(self, key: str) -> dict[str, Any]:
        return self.s3.head_object(Bucket=self.bucket, Key=key)

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
