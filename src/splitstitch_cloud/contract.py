"""The bucket's contract, shared by the functions and by clients (`splitstitch cloud`): key layout, object
metadata names, content types. Pure: names only, no S3 calls, no core imports.

uploads/<name>            what users upload; the only prefix the S3 notification listens to
work/<job>/...            job.json, items.json (Distributed Map items), segments/, audio/ (lifecycle-expired)
outputs/<stem>.<ext>      verified outputs, and outputs/<stem>.report.json
jobs/<job>.json           job status (running / succeeded / failed)
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

UPLOADS, WORK, OUTPUTS, JOBS = "uploads/", "work/", "outputs/", "jobs/"
NAME_LIMIT = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]


def job_name(key: str, etag_or_version: str) -> str:
    """A deterministic execution name: a duplicated S3 event for the same object gives the same job."""
    digest = hashlib.sha256(f"{key}\0{etag_or_version}".encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePosixPath(key).stem).strip("-_") or "job"
    return f"{stem[: NAME_LIMIT - len(digest) - 1]}-{digest}"


def work_prefix(job: str) -> str:
    return f"{WORK}{job}/"


SETTINGS_METADATA = "splitstitch-settings"  # x-amz-meta-splitstitch-settings: JSON of Settings fields
CONTENT_TYPES = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime", ".mkv": "video/x-matroska",
                 ".webm": "video/webm"}  # fmt: skip


def job_key(job: str) -> str:
    return work_key(job, "job.json")


def items_key(job: str) -> str:
    return work_key(job, "items.json")


def work_key(job: str, file_name: str) -> str:
    return f"{work_prefix(job)}{file_name}"


def status_key(job: str) -> str:
    return f"{JOBS}{job}.json"


def output_key(source_key: str, extension: str) -> str:
    """uploads/a/movie.mov -> outputs/a/movie.mp4 (the output container's extension)."""
    relative = PurePosixPath(source_key[len(UPLOADS) :] if source_key.startswith(UPLOADS) else source_key)
    return f"{OUTPUTS}{relative.with_suffix(extension)}"


def report_key(out_key: str) -> str:
    return f"{PurePosixPath(out_key).with_suffix('')}.report.json"
