"""The whole application on this machine: a moto server on 127.0.0.1 holding the stack of template.yaml, its
state machine executed, its functions run by `invoker`, AWS's semantics where moto lacks them (`aws.py`).

`local_stack()` is what the tests and `splitstitch cloud local` use. Every request the server answers can be
observed (`Stack.on_request` hooks get the WSGI environ, the status and the body bytes actually sent).
moto's backends are process-wide: one local stack per process at a time.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from splitstitch_cloud.local import aws
from splitstitch_cloud.local.invoker import Invoker, ProcessRunner, ThreadRunner, Throttled
from splitstitch_cloud.local.stack import ACCOUNT, REGION, Stack, build
from splitstitch_cloud.local.template import Resolver, load_template

RequestHook = Callable[[dict[str, Any], str, int], None]  # (WSGI environ, status line, body bytes sent)
BeforeHook = Callable[[dict[str, Any]], "tuple[str, list[tuple[str, str]], bytes] | None"]
CHUNK = 64 << 10
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Observed:
    """WSGI middleware: counts the body bytes each request was actually sent (chunked, so a client that hangs
    up early stops the count), then calls the hooks and delivers what the request caused (S3 notifications)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.before: list[BeforeHook] = []  # may answer instead of moto (tests: faults, slow reads)
        self.hooks: list[RequestHook] = []
        self.after: list[Callable[[], None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        for hook in list(self.before):
            answer = hook(environ)
            if answer is not None:
                line, headers, payload = answer
                start_response(line, headers)
                return [payload]
        status: list[str] = [""]

        def start(line: str, headers: Any, exc_info: Any = None) -> Any:
            status[0] = line
            return start_response(line, headers, exc_info) if exc_info else start_response(line, headers)

        body = self.app(environ, start)

        def counted() -> Iterator[bytes]:
            sent = 0
            try:
                for chunk in body:
                    for i in range(0, len(chunk), CHUNK):
                        part = chunk[i : i + CHUNK]
                        yield part
                        sent += len(part)
            finally:
                if hasattr(body, "close"):
                    body.close()
                for hook in list(self.hooks):
                    hook(environ, status[0], sent)
                for action in list(self.after):
                    action()

        return counted()


def _server(port: int) -> tuple[Any, Observed]:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    observed = Observed(DomainDispatcherApplication(create_backend_app))

    class Server(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port, observed, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return Server(ip_address="127.0.0.1", port=port, verbose=False), observed


def _post(url: str, body: dict[str, Any] | None = None) -> None:
    data = json.dumps(body).encode() if body is not None else None
    urllib.request.urlopen(urllib.request.Request(url, method="POST", data=data)).read()


def _route_invocations(invoker: Invoker) -> Callable[[], None]:
    """moto's Lambda invoke (boto3 `invoke`, Step Functions tasks) -> our invoker; throttles as HTTP 429."""
    from moto.awslambda.exceptions import LambdaClientError
    from moto.awslambda.models import LambdaFunction

    class TooManyRequests(LambdaClientError):
        code = 429

        def __init__(self, message: str) -> None:
            super().__init__("TooManyRequestsException", message)

    original = LambdaFunction._invoke_lambda

    def invoke(self: LambdaFunction, event: object = None) -> tuple[str, bool, str]:
        try:
            return invoker.invoke(self.function_name, event)
        except Throttled as exc:
            raise TooManyRequests(str(exc)) from None

    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]
    return lambda: setattr(LambdaFunction, "_invoke_lambda", original)


@contextlib.contextmanager
def local_stack(
    root: Path, *, port: int | None = None, overrides: dict[str, Any] | None = None, isolation: str = "thread",
    concurrency: int | None = None, execute: bool = True, async_delays: tuple[float, ...] = (1.0, 2.0),
    cpu_limits: bool = True, stack_name: str = "splitstitch",
) -> Iterator[Stack]:  # fmt: skip
    """The stack of `root`/template.yaml on a moto server at 127.0.0.1:`port`, until the block ends."""
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    server, observed = _server(port)
    server.start()
    saved = dict(os.environ)
    undo: list[Callable[[], None]] = []
    stack: Stack | None = None
    try:
        os.environ.update(
            {"AWS_ENDPOINT_URL": url, "MOTO_PORT": str(port), "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
        )
        for key, value in CREDENTIALS.items():
            os.environ.setdefault(key, value)
        _post(f"{url}/moto-api/reset")
        _post(f"{url}/moto-api/config", {"stepfunctions": {"execute_state_machine": execute}})
        template = load_template(root / "template.yaml")
        resolver = Resolver(template, stack_name, ACCOUNT, REGION, dict(overrides or {}))
        base_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                               "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_REGION",
                                               "AWS_DEFAULT_REGION") if k in os.environ}  # fmt: skip
        base_env |= {"POWERTOOLS_TRACE_DISABLED": "1", "SPLITSTITCH_CA_FILE": os.environ.get("SPLITSTITCH_CA_FILE", "")}
        runner: ThreadRunner | ProcessRunner
        if isolation == "process":
            runner = ProcessRunner(root, REGION, ACCOUNT, base_env, cpu_limits)
        else:
            runner = ThreadRunner(root, REGION, ACCOUNT)
        slots = concurrency or max(2, os.cpu_count() or 2)

        def make_invoker(specs: dict[str, Any]) -> Invoker:
            return Invoker(specs, runner, slots)

        stack = build(template, root, resolver, make_invoker, async_delays)
        stack.endpoint = url
        undo.append(_route_invocations(stack.invoker))
        undo.append(aws.patch_step_functions())
        undo.append(aws.patch_task_clients())
        undo.append(aws.patch_stop_execution())
        notes = aws.S3Notifications(stack.async_invoker)
        undo.append(notes.install())
        observed.after.append(notes.flush)
        stack.extra["observed"] = observed
        if isolation != "process":  # the handlers read os.environ in this process
            for spec in stack.specs.values():
                os.environ.update(
                    {
                        k: v
                        for k, v in spec.environment.items()
                        if k not in ("SPLITSTITCH_FFMPEG", "SPLITSTITCH_FFPROBE")
                    }
                )
        stack.events.start()
        yield stack
    finally:
        if stack is not None:
            stack.events.stop.set()
            stack.async_invoker.close()
            stack.invoker.runner.close()
        for action in reversed(undo):
            action()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
