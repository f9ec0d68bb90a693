"""Where the local stack's Lambda invocations run, and with which limits.

- `ThreadRunner`: the handler is imported into this process and called in the invoking thread (fast; for tests).
  There is one environment for every function (os.environ), no timeout is enforced and nothing is cold.
- `ProcessRunner`: each function runs in execution environments of its own (`worker.py`), started on demand
  (a cold start: the handler's import is its INIT) and reused while warm. The template's Timeout kills an
  invocation with its whole process group; /tmp is a tmpfs of the function's EphemeralStorage size where the
  machine lets us mount one (ENOSPC when full, as on Lambda), else a folder watched for its size; where the
  cgroup v1 CPU controller is writable, every environment gets its memory size's vCPU share (1,769 MB = 1 vCPU,
  linear, at most this machine's cores), else the share is not enforced (said once on stderr).
`Invoker` routes a function name to its runner, runs at most `concurrency` invocations at once (more wait for a
slot; a real account would throttle them) and lets tests put hooks (faults) in front of every invocation.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from splitstitch_cloud.local import leftovers
from splitstitch_cloud.local.context import LocalContext
from splitstitch_cloud.local.template import FunctionSpec
from splitstitch_cloud.local.worker import error_payload, load_handler

log = logging.getLogger(__name__)

Result = tuple[str, bool, str]  # (payload JSON, errored, logs): what moto's `_invoke_lambda` returns
Hook = Callable[[FunctionSpec, Any], Result | None]
MB_PER_VCPU = 1769
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
CFS_PERIOD_US = 100_000
LAYER_ONLY_ENV = {"SPLITSTITCH_FFMPEG", "SPLITSTITCH_FFPROBE"}  # /opt/bin in Lambda; here the wheel's binaries


def cpu_share(memory_mb: int, cores: int | None = None) -> float:
    """vCPUs Lambda gives `memory_mb`: 1,769 MB = 1 vCPU, linear, capped by this machine's cores."""
    return min(memory_mb / MB_PER_VCPU, float(cores or os.cpu_count() or 1))


def cgroup_quota_us(memory_mb: int, cores: int | None = None) -> int:
    return max(1000, round(cpu_share(memory_mb, cores) * CFS_PERIOD_US))


ROLE_KEY_PREFIX = "ROLE-"


def role_access_key(logical: str) -> str:
    """The access key a function's process signs with: its logical id, so every request the server sees (presigned
    URLs included) names the function whose role AWS would authorize it against."""
    return f"{ROLE_KEY_PREFIX}{logical}"


def function_env(spec: FunctionSpec, base: dict[str, str]) -> dict[str, str]:
    """What a function's process sees: its template environment, the AWS variables Lambda sets, credentials."""
    env = {k: v for k, v in spec.environment.items() if k not in LAYER_ONLY_ENV}
    lambda_vars = {"AWS_LAMBDA_FUNCTION_NAME": spec.name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
                   "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
                   "AWS_ACCESS_KEY_ID": role_access_key(spec.logical)}  # fmt: skip
    return base | env | lambda_vars


class ThreadRunner:
    def __init__(self, root: Path, region: str, account: str) -> None:
        self.root, self.region, self.account = root, region, account
        self.handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self.lock = threading.Lock()

    def handler(self, spec: FunctionSpec) -> Callable[[Any, Any], Any]:
        with self.lock:
            if spec.name not in self.handlers:
                unique = "handler_" + spec.code_uri.strip("/").replace("/", "_")
                self.handlers[spec.name] = load_handler(self.root, spec.code_uri, spec.handler, unique)
            return self.handlers[spec.name]

    def run(self, spec: FunctionSpec, event: Any) -> Result:
        context = LocalContext(spec.name, spec.memory_mb, spec.timeout_s, self.region, self.account)
        try:
            return json.dumps(self.handler(spec)(event, context)), False, ""
        except Exception as exc:
            return error_payload(exc), True, ""

    def close(self) -> None:
        self.handlers.clear()


@dataclass
class Environment:
    """One worker process with its /tmp and its CPU cgroup."""

    spec: FunctionSpec
    process: Any
    conn: Any
    tmp: Path
    mounted: bool
    cgroup: Path | None
    started: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        if self.process.is_alive():
            with _suppress():
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.join(5)
        self.conn.close()
        if self.cgroup is not None:
            with _suppress():
                self.cgroup.rmdir()
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.tmp)], check=False, capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def try_tmpfs(path: Path, size_mb: int) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(path)],
                          check=False, capture_output=True)  # fmt: skip
    return done.returncode == 0


def try_cgroup(name: str, quota_us: int) -> Path | None:
    group = CGROUP_CPU / name
    try:
        group.mkdir()
        (group / "cpu.cfs_period_us").write_text(str(CFS_PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota_us))
    except OSError:
        with _suppress():
            group.rmdir()
        return None
    return group


def folder_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            with _suppress():
                total += (Path(dirpath) / name).stat().st_size
    return total


class ProcessRunner:
    def __init__(
        self, root: Path, region: str, account: str, base_env: dict[str, str], cpu_limits: bool = True
    ) -> None:
        self.root, self.region, self.account, self.base_env = root, region, account, base_env
        self.idle: dict[str, list[Environment]] = {}
        self.all: list[Environment] = []
        self.lock = threading.Lock()
        leftovers.sweep(CGROUP_CPU)  # what a killed run left: orphaned workers, their cgroups and tmpfs mounts
        self.tmp_root = Path(tempfile.mkdtemp(prefix=f"{leftovers.TMP_PREFIX}{os.getpid()}-"))
        self.cpu_limits = cpu_limits
        self.warned: set[str] = set()
        self.counter = 0

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self.warned:
            self.warned.add(what)
            log.warning(message)

    def _start(self, spec: FunctionSpec) -> Environment:
        with self.lock:
            self.counter += 1
            n = self.counter
        tmp = self.tmp_root / f"{spec.logical}-{n}"
        tmp.mkdir()
        mounted = try_tmpfs(tmp, spec.ephemeral_mb)
        if not mounted:
            self._warn_once("tmpfs", "cannot mount a tmpfs here: /tmp sizes are watched, not enforced by the kernel")
        cgroup = None
        if self.cpu_limits:
            cgroup = try_cgroup(f"splitstitch-{os.getpid()}-{spec.logical}-{n}", cgroup_quota_us(spec.memory_mb))
            if cgroup is None:
                self._warn_once("cgroup", f"{CGROUP_CPU} is not writable: functions run without a CPU quota")
        env = function_env(spec, self.base_env) | {"TMPDIR": str(tmp)}
        limits = {"name": spec.name, "memory_mb": spec.memory_mb, "timeout_s": spec.timeout_s,
                  "region": self.region, "account": self.account}  # fmt: skip
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        from splitstitch_cloud.local import worker

        process = ctx.Process(target=worker.main, args=(child, str(self.root), spec.code_uri, spec.handler, env, limits),
                              daemon=True)  # fmt: skip
        process.start()
        child.close()
        if cgroup is not None:
            with _suppress():
                (cgroup / "cgroup.procs").write_text(str(process.pid))
        parent.send("start")
        environment = Environment(spec, process, parent, tmp, mounted, cgroup)
        self.all.append(environment)
        return environment

    def _acquire(self, spec: FunctionSpec) -> tuple[Environment, bool]:
        with self.lock:
            pool = self.idle.setdefault(spec.name, [])
            if pool:
                return pool.pop(), False
        return self._start(spec), True

    def _release(self, env: Environment) -> None:
        with self.lock:
            self.idle.setdefault(env.spec.name, []).append(env)

    def _discard(self, env: Environment) -> None:
        env.close()
        with self.lock:
            if env in self.all:
                self.all.remove(env)

    def run(self, spec: FunctionSpec, event: Any) -> Result:
        env, cold = self._acquire(spec)
        deadline = time.monotonic() + spec.timeout_s
        if cold:  # INIT counts against the timeout of the first invocation here (Lambda allows INIT 10 s apart)
            if not env.conn.poll(max(0.0, deadline - time.monotonic())):
                self._discard(env)
                return self._timeout(spec), True, "init timed out"
            kind, payload = env.conn.recv()
            if kind == "init-error":
                self._discard(env)
                return payload, True, "init failed"
        env.conn.send(event)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._discard(env)
                return self._timeout(spec), True, "timed out"
            if env.conn.poll(min(remaining, 0.2)):
                break
            if not env.mounted and folder_bytes(env.tmp) > spec.ephemeral_mb * 2**20:
                self._discard(env)
                message = f"No space left on device: /tmp is over its {spec.ephemeral_mb} MB of ephemeral storage"
                return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}), True, message
            if not env.process.is_alive():
                self._discard(env)
                return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}), True, ""
        try:
            kind, payload = env.conn.recv()
        except EOFError:
            self._discard(env)
            return json.dumps({"errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}), True, ""
        self._release(env)
        return payload, kind == "error", ""

    @staticmethod
    def _timeout(spec: FunctionSpec) -> str:
        return json.dumps(
            {"errorType": "Sandbox.Timedout", "errorMessage": f"Task timed out after {spec.timeout_s:.2f} seconds"}
        )

    def close(self) -> None:
        for env in list(self.all):
            self._discard(env)
        shutil.rmtree(self.tmp_root, ignore_errors=True)


class Throttled(Exception):
    """Over a function's reserved concurrency: Lambda answers 429 TooManyRequestsException."""


@dataclass
class Invoker:
    """Routes invocations by function name; at most `concurrency` run at once (more wait); a function with
    ReservedConcurrentExecutions is throttled above it, as on AWS; hooks (test faults) may answer instead."""

    specs: dict[str, FunctionSpec]  # function name -> spec
    runner: ThreadRunner | ProcessRunner
    concurrency: int
    hooks: list[Hook] = field(default_factory=list)
    invocations: list[tuple[str, Any]] = field(default_factory=list)  # (logical id, event), in call order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.concurrency)
        self.running: dict[str, int] = {}
        self.throttled: list[str] = []  # logical ids, one per throttled invocation

    def _enter(self, spec: FunctionSpec) -> None:
        reserved = spec.properties.get("ReservedConcurrentExecutions")
        with self.lock:
            if reserved is not None and self.running.get(spec.name, 0) >= int(reserved):
                self.throttled.append(spec.logical)
                raise Throttled(f"Rate Exceeded: {spec.name} is at its reserved concurrency of {reserved}")
            self.running[spec.name] = self.running.get(spec.name, 0) + 1

    def _leave(self, spec: FunctionSpec) -> None:
        with self.lock:
            self.running[spec.name] -= 1

    def invoke(self, function_name: str, event: Any) -> Result:
        spec = self.specs[function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name]
        event = json.loads(event) if isinstance(event, str | bytes) and event else (event or {})
        with self.lock:
            self.invocations.append((spec.logical, event))
        for hook in list(self.hooks):
            answer = hook(spec, event)
            if answer is not None:
                return answer
        self._enter(spec)
        try:
            with self.slots:
                return self.runner.run(spec, event)
        finally:
            self._leave(spec)

    def count(self, logical: str, where: Callable[[Any], bool] | None = None) -> int:
        with self.lock:
            return sum(1 for name, ev in self.invocations if name == logical and (where is None or where(ev)))
