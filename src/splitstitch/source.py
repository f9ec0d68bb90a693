"""Where ffmpeg and ffprobe read a source from: a local file, or an HTTP(S) URL that the system itself
generated (a presigned S3 GET), never a URL a user typed.

A local file opens as `file:<absolute path>` with `-protocol_whitelist file`. A remote source admits only
its own scheme's protocols (`https,tls,tcp`; `http,tcp` for a local endpoint such as the moto server of the
tests), verifies TLS against the system CA bundle where one exists, and reads in bounded HTTP ranges
(`-request_size`), so an encoder fetches its part of the file, not everything after it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from splitstitch.errors import UsageError

CA_FILE_ENV = "SPLITSTITCH_CA_FILE"
CA_BUNDLES = ("/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt")  # Lambda, Debian
REQUEST_BYTES = 4 << 20  # one HTTP range request: over-reads at most this past what the demuxer needs
INITIAL_REQUEST_BYTES = 64 << 10  # requests while the header is parsed (ftyp, moov...): small, not 4 MiB each
PROTOCOLS = {"file": "file", "https": "https,tls,tcp", "http": "http,tcp"}


def ca_file() -> str:
    """The CA bundle TLS is verified against: `SPLITSTITCH_CA_FILE`, else the system's. Never none: without one,
    ffmpeg's TLS (mbedTLS) would verify nothing, so a missing bundle is an error, not a silent downgrade. (A
    named bundle that is missing fails loudly in ffmpeg itself: `-tls_verify 1` cannot load it.)"""
    chosen = os.environ.get(CA_FILE_ENV)
    if chosen:
        return chosen
    found = next((p for p in CA_BUNDLES if Path(p).is_file()), None)
    if found is None:
        raise UsageError(f"no CA bundle at {' or '.join(CA_BUNDLES)}: set {CA_FILE_ENV}; TLS cannot be verified")
    return found


@dataclass(frozen=True)
class MediaSource:
    url: str  # "file:/abs/path" or the http(s) URL
    name: str  # what messages and reports call it (the user's path, or the S3 key)
    size: int

    @classmethod
    def local(cls, path: str | os.PathLike[str]) -> MediaSource:
        path = Path(path)
        return cls("file:" + os.path.abspath(path), str(path), path.stat().st_size)

    @classmethod
    def remote(cls, url: str, name: str, size: int) -> MediaSource:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: {url[:40]}")
        return cls(url, name, size)

    @property
    def scheme(self) -> str:
        return urlsplit(self.url).scheme if not self.url.startswith("file:") else "file"

    @property
    def is_remote(self) -> bool:
        return self.scheme != "file"

    @property
    def path(self) -> Path:
        """The local file (only for local sources)."""
        if self.is_remote:
            raise ValueError(f"{self.name} is not a local file")
        return Path(self.url[len("file:") :])

    @property
    def extension(self) -> str:
        return Path(self.name).suffix.lower()

    def input_options(self) -> dict[str, str | int | None]:
        """Protocol options for ffmpeg's/ffprobe's `-i` of this source."""
        options: dict[str, str | int | None] = {"protocol_whitelist": PROTOCOLS[self.scheme]}
        if self.is_remote:
            options |= {"request_size": REQUEST_BYTES, "initial_request_size": INITIAL_REQUEST_BYTES}
        if self.scheme == "https":
            options |= {"tls_verify": 1, "ca_file": ca_file()}
        return options

    def input_args(self) -> list[str]:
        """`-opt value ... -i URL` for hand-built argv (ffprobe)."""
        args = [arg for key, value in self.input_options().items() for arg in (f"-{key}", str(value))]
        return [*args, "-i", self.url]
