"""What AWS would authorize, since moto does not: every S3 request a function makes, as the IAM (action,
resource) pairs AWS checks against that function's role, and the policies of template.yaml evaluated on them.

The local stack signs each function's requests with an access key that names it (`role_access_key`), presigned
URLs included, so a hook on the server sees whose role a request runs under. Only Allow statements are
modelled (the template has no Deny); `StringLike` on `s3:prefix` is the one condition the template uses.
"""

from __future__ import annotations

import fnmatch
import io
import re
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from splitstitch_cloud.local.invoker import ROLE_KEY_PREFIX

UNCONDITIONED = "(no condition)"


@dataclass(frozen=True)
class Need:
    """One permission a request needs: `prefix` is the ListBucket request's s3:prefix; UNCONDITIONED means a
    grant with a prefix condition does not cover it (a GET of a missing key answers 404 only with ListBucket
    on the bucket; with a prefix-conditioned grant or none, S3 answers 403)."""

    action: str
    resource: str
    prefix: str | None = None
    why: str = ""


def _key_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def needs(method: str, path: str, query: str, headers: dict[str, str], status: int, body: bytes = b"") -> list[Need]:
    """The permissions one path-style S3 request needs (empty for requests that are not S3's)."""
    parts = unquote(path).lstrip("/").split("/", 1)
    if not parts[0]:
        return []
    bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
    q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    what = f"{method} /{bucket}/{key}"
    if not key:
        if method == "GET" and "versions" in q:
            return [Need("s3:ListBucketVersions", f"arn:aws:s3:::{bucket}", q.get("prefix", ""), what)]
        if method == "GET":
            return [Need("s3:ListBucket", f"arn:aws:s3:::{bucket}", q.get("prefix", ""), what)]
        if method == "POST" and "delete" in q:
            keys = [el.text or "" for el in ET.fromstring(body).iter() if el.tag.endswith("Key")] if body else []
            return [Need("s3:DeleteObject", _key_arn(bucket, k), None, f"DeleteObjects {k}") for k in keys]
        return [Need(f"s3:?{method}", f"arn:aws:s3:::{bucket}", None, what)]
    arn = _key_arn(bucket, key)
    versioned = "versionId" in q
    if method in ("GET", "HEAD") and "uploadId" in q:
        return [Need("s3:ListMultipartUploadParts", arn, None, what)]
    if method in ("GET", "HEAD"):
        found = [Need("s3:GetObjectVersion" if versioned else "s3:GetObject", arn, None, what)]
        if status == 404:
            found.append(Need("s3:ListBucket", f"arn:aws:s3:::{bucket}", UNCONDITIONED, f"{what} answered 404"))
        return found
    if method in ("PUT", "POST"):
        found = [Need("s3:PutObject", arn, None, what)]
        source = headers.get("x-amz-copy-source")
        if source:
            src, _, version = unquote(source).lstrip("/").partition("?versionId=")
            sb, _, sk = src.partition("/")
            found.append(Need("s3:GetObjectVersion" if version else "s3:GetObject", _key_arn(sb, sk), None, what))
        return found
    if method == "DELETE":
        if "uploadId" in q:
            return [Need("s3:AbortMultipartUpload", arn, None, what)]
        return [Need("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject", arn, None, what)]
    return [Need(f"s3:?{method}", arn, None, what)]


def caller(environ: dict[str, Any]) -> str | None:
    """The logical id of the function whose role signed the request (header or presigned, SigV2 or SigV4)."""
    text = environ.get("HTTP_AUTHORIZATION", "") + " " + environ.get("QUERY_STRING", "")
    found = re.search(r"(?:Credential=|X-Amz-Credential=|AWSAccessKeyId=|AWS )([^/%&:\s,]+)", unquote(text))
    if found and found.group(1).startswith(ROLE_KEY_PREFIX):
        return found.group(1)[len(ROLE_KEY_PREFIX) :]
    return None


@dataclass
class Recorder:
    """Server hooks: `before` keeps DeleteObjects bodies (the keys are in the body), `after` records each
    function's S3 requests as the permissions they need."""

    bucket: str
    calls: dict[str, list[Need]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def before(self, environ: dict[str, Any]) -> None:
        if environ["REQUEST_METHOD"] == "POST" and "delete" in environ.get("QUERY_STRING", ""):
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"], environ["splitstitch.body"] = io.BytesIO(body), body
        return None

    def after(self, environ: dict[str, Any], status: str, _sent: int) -> None:
        who = caller(environ)
        if who is None or not environ.get("PATH_INFO", "").startswith(f"/{self.bucket}"):
            return
        headers = {k[5:].lower().replace("_", "-"): v for k, v in environ.items() if k.startswith("HTTP_")}
        found = needs(environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""), headers,
                      int(status.split()[0] or 0), environ.get("splitstitch.body", b""))  # fmt: skip
        with self.lock:
            self.calls.setdefault(who, []).extend(found)


@dataclass(frozen=True)
class Grant:
    """One (statement, action) of a function's policy."""

    statement: int
    action: str
    resources: tuple[str, ...]
    prefixes: tuple[str, ...] | None  # StringLike s3:prefix patterns; None: no condition

    def covers(self, need: Need) -> bool:
        if not fnmatch.fnmatchcase(need.action, self.action):
            return False
        if not any(fnmatch.fnmatchcase(need.resource, r) for r in self.resources):
            return False
        if self.prefixes is None:
            return True
        if need.prefix is None or need.prefix == UNCONDITIONED:
            return False
        return any(fnmatch.fnmatchcase(need.prefix, p) for p in self.prefixes)


def s3_grants(policies: list[Any]) -> list[Grant]:
    """The S3 Allow grants of a function's resolved `Policies` (inline statements; SAM's S3 policy templates
    would need expanding and are refused, so a new one cannot slip past this check)."""
    grants: list[Grant] = []
    n = 0
    for policy in policies:
        if not isinstance(policy, dict) or "Statement" not in policy:
            name = next(iter(policy)) if isinstance(policy, dict) else str(policy)
            if name.startswith("S3"):
                raise ValueError(f"policy template {name}: expand it in tests/cloud/iam.py")
            continue
        for st in policy["Statement"]:
            n += 1
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = tuple(st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]])
            like = st.get("Condition", {}).get("StringLike", {}).get("s3:prefix")
            prefixes = None if like is None else tuple(like if isinstance(like, list) else [like])
            grants += [Grant(n, a, resources, prefixes) for a in actions if a.startswith("s3:")]
    return grants
