"""What the player test needs besides Python: Debian's Chromium, hls.js, dash.js and Shaka Player from npm (installed into a
cache folder outside the repository), and a tiny threaded HTTP server on 127.0.0.1.

`python -m tests.player.support` installs the npm packages (CI runs it through `make player-libs`).
"""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import posixpath
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

PACKAGES = {"hls.js": "1.7.4", "dashjs": "5.2.1", "shaka-player": "5.2.12"}
SCRIPTS = {"hls.js": "hls.js/dist/hls.min.js", "dashjs": "dashjs/dist/modern/umd/dash.all.min.js",
           "shaka-player": "shaka-player/dist/shaka-player.compiled.js"}  # fmt: skip
# the flags Chromium needs on these machines (no sandbox as root, no network beyond 127.0.0.1)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
PAGES = Path(__file__).parent


def chromium() -> str | None:
    """The browser: $SPLITSTITCH_CHROMIUM, else Debian's chromium."""
    found = os.environ.get("SPLITSTITCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).is_file() else None


def libs_dir() -> Path:
    """$SPLITSTITCH_PLAYER_LIBS, else ~/.cache/splitstitch/player: never inside the repository."""
    if os.environ.get("SPLITSTITCH_PLAYER_LIBS"):
        return Path(os.environ["SPLITSTITCH_PLAYER_LIBS"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "splitstitch" / "player"


def installed(root: Path) -> bool:
    for name, version in PACKAGES.items():
        manifest = root / "node_modules" / name / "package.json"
        if not manifest.is_file() or json.loads(manifest.read_text())["version"] != version:
            return False
    return all((root / "node_modules" / script).is_file() for script in SCRIPTS.values())


def ensure_libs(root: Path | None = None) -> Path:
    """node_modules with the pinned hls.js, dash.js and Shaka Player, installed with npm when missing (one installer at a
    time: pytest-xdist workers share the folder). Raises RuntimeError saying why it cannot."""
    root = root or libs_dir()
    if installed(root):
        return root / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        wanted = ", ".join(f"{name} {version}" for name, version in PACKAGES.items())
        raise RuntimeError(f"npm is not installed and {root} lacks one of {wanted}")
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed(root):
            specs = [f"{name}@{version}" for name, version in PACKAGES.items()]
            done = subprocess.run([npm, "install", "--prefix", str(root), "--no-audit", "--no-fund", "--no-save",
                                   "--loglevel", "error", *specs], capture_output=True, text=True, timeout=600)  # fmt: skip
            if done.returncode != 0 or not installed(root):
                tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise RuntimeError(f"npm install {' '.join(specs)} into {root} failed: {tail}")
    return root / "node_modules"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves /lib/ from node_modules, /media/ from the package, everything else from this folder."""

    routes: ClassVar[dict[str, Path]] = {}
    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".m3u8": "application/vnd.apple.mpegurl",
                      ".mpd": "application/dash+xml", ".m4s": "video/iso.segment", ".mp4": "video/mp4",
                      ".js": "text/javascript"}  # fmt: skip

    def translate_path(self, path: str) -> str:
        clean = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0])
        base, rest = PAGES, clean
        for prefix, folder in self.routes.items():
            if clean.startswith(prefix):
                base, rest = folder, clean[len(prefix) :]
                break
        parts = [p for p in posixpath.normpath("/" + rest).split("/") if p not in ("", ".", "..")]
        return str(base.joinpath(*parts))

    def log_message(self, format: str, *args: object) -> None:  # quiet; failures show in the page's state
        pass


@contextmanager
def serve(routes: dict[str, Path]) -> Iterator[str]:
    """A threaded server on 127.0.0.1 (a free port); yields its base URL."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    try:
        print(ensure_libs())
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
