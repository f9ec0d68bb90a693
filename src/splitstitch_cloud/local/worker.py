"""One Lambda execution environment of the local stack: a process that imports a function's handler once (its
INIT) and then runs invocations sent over a pipe, like a warm Lambda. Its stdout/stderr are the function's logs.

Started by `invoker.ProcessRunner` with the function's environment already set; it leads its own process
group, so a timeout kills it with every ffmpeg it started.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from splitstitch_cloud.local.context import LocalContext


def load_handler(root: Path, code_uri: str, handler: str, unique: str) -> Any:
    """Import functions/<name>/app.py under a unique module name (every function's module is `app`)."""
    module_name, func = handler.rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(unique, root / code_uri / f"{module_name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, func)


def error_payload(exc: BaseException) -> str:
    return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc),
                       "stackTrace": traceback.format_exc().splitlines()[-5:]})  # fmt: skip


def main(conn: Connection, root: str, code_uri: str, handler: str, env: dict[str, str], limits: dict[str, Any]) -> None:
    os.setsid()
    os.environ.clear()
    os.environ.update(env)
    os.dup2(2, 1)  # the function's logs go to stderr: the local stack's stdout is its one endpoint line
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if conn.recv() != "start":  # the parent first puts this process into its CPU cgroup
        return
    try:
        fn = load_handler(Path(root), code_uri, handler, "app")
    except BaseException as exc:  # an INIT error fails every invocation, as on Lambda
        conn.send(("init-error", error_payload(exc)))
        return
    conn.send(("ready", ""))
    while True:
        try:
            event = conn.recv()
        except EOFError:
            return
        context = LocalContext(limits["name"], limits["memory_mb"], limits["timeout_s"], limits["region"],
                               limits["account"])  # fmt: skip
        try:
            result = fn(event, context)
            conn.send(("ok", json.dumps(result)))
        except Exception as exc:
            conn.send(("error", error_payload(exc)))
