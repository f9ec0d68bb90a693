"""The bucket's contract, shared by the functions and by clients (`splitstitch cloud`): key layout, object
metadata names, content types. Pure: names only, no S3 calls, no core imports.

uploads/<name>            what users upload; the only prefix the S3 notification listens to (keys ending in "/"
                          are folder markers, ignored)
work/<job>/...            job.json, items.json (Distributed Map items), segments/, audio/, usage/ (what each
                          invocation used), errors/<index>.json (why an item failed) - lifecycle-expired
outputs/<stem>-<id>.<ext> verified outputs, unique per job (<id> is the job's digest: two uploads never share an
                          output), and outputs/<stem>-<id>.report.json
jobs/<job>.json           job status (starting / running / succeeded / failed), stage, attempt, reason
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any

UPLOADS, WORK, OUTPUTS, JOBS = "uploads/", "work/", "outputs/", "jobs/"
NAME_LIMIT = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]
JOB_LIMIT = NAME_LIMIT - 4  # room for an attempt suffix ("-2" ... "-999")
DIGEST = 16


def job_name(key: str, etag_or_version: str, settings: str | None = None) -> str:
    """A deterministic job name: a duplicated S3 event for the same object gives the same job. The upload's
    settings (its metadata) are part of it: the same file uploaded again with other settings is another job."""
    identity = f"{key}\0{etag_or_version}" + (f"\0{settings}" if settings else "")
    digest = hashlib.sha256(identity.encode()).hexdigest()[:DIGEST]
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", PurePosixPath(key).stem).strip("-_") or "job"
    return f"{stem[: JOB_LIMIT - len(digest) - 1]}-{digest}"


def job_of_head(key: str, head: dict[str, Any]) -> str:
    """The job of the object whose HeadObject answer is `head`."""
    etag_or_version = head.get("VersionId") or head["ETag"].strip('"')
    return job_name(key, etag_or_version, head.get("Metadata", {}).get(SETTINGS_METADATA))


def execution_name(job: str, attempt: int) -> str:
    """A job's first attempt runs as the execution named like the job; a retry after a failure as <job>-<n>
    (Step Functions keeps a finished execution's name for 90 days)."""
    return job if attempt <= 1 else f"{job}-{attempt}"


def is_folder_marker(key: str) -> bool:
    """The console's "Create folder" puts an empty object named like the folder."""
    return key.endswith("/")


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


def output_key(source_key: str, job: str, extension: str) -> str:
    """uploads/a/movie.mov of job movie-<digest> -> outputs/a/movie-<digest>.mp4: the output container's
    extension, and the job's digest so that no job's output is another's (movie.mov and movie.mkv, or two
    versions of one key, each get their own)."""
    relative = PurePosixPath(source_key[len(UPLOADS) :] if source_key.startswith(UPLOADS) else source_key)
    digest = job.rsplit("-", 1)[-1]
    return f"{OUTPUTS}{relative.with_name(f'{relative.stem}-{digest}{extension}')}"


def package_entry(source_key: str, job: str, streaming: str) -> str:
    """A streaming job's entry (master playlist, or MPD for DASH) in its own folder:
    uploads/a/movie.mov -> outputs/a/movie-<digest>/master.m3u8."""
    folder = output_key(source_key, job, "")
    return f"{folder}/{'manifest.mpd' if streaming == 'dash' else 'master.m3u8'}"


def item_of_result(name: str) -> str | None:
    """The item a stored result belongs to, from its name under work/<job>/ (the core's layout, kept equal by
    a test): segments/00003.json -> 00003, segments/720p/00003.json -> 720p-00003, audio/main/result.json ->
    audio, audio/a0-stereo/result.json -> audio-a0-stereo; None for other files."""
    parts = name.split("/")
    if parts[0] == "segments" and parts[-1].endswith(".json") and parts[-1][:-5].isdigit():
        return "-".join([*parts[1:-1], parts[-1][:-5]])
    if parts[0] == "audio" and len(parts) == 3 and parts[2] == "result.json":
        return "audio" if parts[1] == "main" else f"audio-{parts[1]}"
    return None


def error_name(item: str) -> str:
    """work/<job>/errors/<item>.json: why an item ("00003", "audio") failed, in one line."""
    return f"errors/{item}.json"


def usage_name(item: str, request_id: str) -> str:
    """work/<job>/usage/<item>-<request>.json: what one invocation used (every attempt, failed ones too)."""
    return f"usage/{item}-{request_id}.json"


def report_key(out_key: str) -> str:
    return f"{PurePosixPath(out_key).with_suffix('')}.report.json"
