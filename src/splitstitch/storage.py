"""Where a job's intermediate files live: one small interface, a local folder here, S3 in the cloud edge.

Names are relative to the job (`segments/00003.m4s`, `audio/result.json`); the stages never build paths or
keys themselves, so the same stage code runs on a work folder and on `s3://bucket/work/<job>/`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Protocol

from splitstitch.source import MediaSource


class Storage(Protocol):
    def put_file(self, name: str, path: Path) -> None: ...

    def put_bytes(self, name: str, data: bytes) -> None: ...

    def get_bytes(self, name: str, offset: int = 0, size: int | None = None) -> bytes: ...

    def exists(self, name: str) -> bool: ...

    def media(self, name: str) -> MediaSource:
        """A stored file as ffmpeg's input (a rebuilt copy of a source)."""
        ...


def put_json(store: Storage, name: str, data: Any) -> None:
    store.put_bytes(name, json.dumps(data, separators=(",", ":")).encode())


def get_json(store: Storage, name: str) -> Any:
    return json.loads(store.get_bytes(name))


class LocalStorage:
    """A folder; `put_file` moves the file in (the stages hand over files they no longer need)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, name: str) -> Path:
        path = (self.root / name).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"storage name escapes its folder: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def put_file(self, name: str, path: Path) -> None:
        shutil.move(path, self._path(name))

    def put_bytes(self, name: str, data: bytes) -> None:
        target = self._path(name)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def get_bytes(self, name: str, offset: int = 0, size: int | None = None) -> bytes:
        with self._path(name).open("rb") as f:
            f.seek(offset)
            return f.read() if size is None else f.read(size)

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    def media(self, name: str) -> MediaSource:
        return MediaSource.local(self._path(name))
