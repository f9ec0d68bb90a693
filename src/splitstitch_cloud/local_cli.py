"""`splitstitch cloud local`: the whole application on this machine (see splitstitch_cloud/local/), with no
Docker and no AWS account. Prints one line, `endpoint=http://127.0.0.1:PORT bucket=NAME`, and serves until
Ctrl-C, SIGTERM or SIGHUP; any S3 client pointed at the endpoint then starts real jobs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from splitstitch.errors import UsageError


def default_template() -> Path:
    here = Path("template.yaml")
    return here if here.is_file() else Path(__file__).resolve().parents[2] / "template.yaml"


def add_local(csub: Any) -> None:
    local = csub.add_parser("local", help="serve the stack of template.yaml on 127.0.0.1 (moto; no Docker, no account)")
    local.add_argument("--port", type=int, default=4566)
    local.add_argument(
        "--template", type=Path, default=None, help="template.yaml (default: ./template.yaml or the project's)"
    )
    local.add_argument("--isolation", choices=("process", "thread"), default="process",
                       help="process (default): each function in its own processes with its Timeout, /tmp size and "
                            "CPU share; thread: handlers in this process (faster, nothing enforced)")  # fmt: skip
    local.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                       help="a template parameter, e.g. Preset=ultrafast (repeatable)")  # fmt: skip
    local.add_argument("--concurrency", type=int, help="invocations at once (default: this machine's cores)")
    local.add_argument("--no-cpu-limits", action="store_true", help="do not put functions under a CPU quota")
    local.set_defaults(func=cmd_local)


def parameters(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"--parameter {pair!r}: use NAME=VALUE")
        out[name] = value
    return out


def cmd_local(args: argparse.Namespace) -> int:
    try:
        from splitstitch_cloud.local.server import local_stack
    except ImportError as exc:
        raise UsageError(
            f"splitstitch cloud local needs moto and pyyaml (pip install 'splitstitch[local]'): {exc}"
        ) from None
    template = args.template or default_template()
    if not template.is_file():
        raise UsageError(f"{template}: no such template (give --template)")
    stop, stopped_by = threading.Event(), []

    def on_signal(signum: int, _frame: object) -> None:
        stopped_by.append(signum)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    with local_stack(template.resolve().parent, port=args.port, overrides=parameters(args.parameter),
                     isolation=args.isolation, concurrency=args.concurrency, cpu_limits=not args.no_cpu_limits) as stack:  # fmt: skip
        print(f"endpoint={stack.endpoint} bucket={stack.bucket}", flush=True)
        print(
            f"serving {template} ({args.isolation} isolation); state is in memory and is lost when this stops; "
            "Ctrl-C, SIGTERM or SIGHUP to stop",
            file=sys.stderr,
            flush=True,
        )
        stop.wait()
    signum = stopped_by[0] if stopped_by else signal.SIGINT
    print(
        f"stopped by {signal.Signals(signum).name}: workers ended, their /tmp and CPU groups removed", file=sys.stderr
    )
    return 128 + signum  # the shell's convention for a command ended by a signal
