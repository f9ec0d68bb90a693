"""splitstitch: parallel split-and-stitch video transcoder.

Errors are one line on stderr and an exit code, never a traceback: 2 bad input or options,
3 verification failed, 1 a tool failed, 4 an internal error (a bug), 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TextIO

from splitstitch import __version__
from splitstitch.errors import INTERNAL_EXIT_CODE, Interrupted, SplitstitchError, VerificationError, internal_error_line
from splitstitch.ffmpeg import allow_children, stop_children
from splitstitch.inputs import Limits
from splitstitch.options import STREAM_SUFFIXES, add_settings_arguments, settings_from_args
from splitstitch.progress import SILENT, Progress, Snapshot, Tracker

log = logging.getLogger("splitstitch")
Command = Callable[[argparse.Namespace], int]


def add_transcode(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("transcode", help="split, encode in parallel and stitch one file (or package HLS/DASH)")
    p.add_argument("source", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True,
                   help="output file (its extension picks the container), or a folder for --format; "
                        "a .m3u8 or .mpd name picks the format and the folder it is in")  # fmt: skip
    add_settings_arguments(p)
    p.add_argument("--force", action="store_true", help="streaming: replace a folder that is not empty")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel encoders (default: cores)")
    p.add_argument("--report", type=Path, help="write the JSON job report here")
    p.add_argument("--work-dir", type=Path, help="where temporary files go (default: system temp)")
    p.add_argument("--max-duration", type=float, default=Limits.max_duration_s, help="seconds (default 12 h)")
    p.add_argument("--max-height", type=int, default=Limits.max_height)
    p.add_argument("--max-width", type=int, default=Limits.max_width)
    p.add_argument("--quiet", action="store_true", help="no progress, errors only")
    p.set_defaults(func=cmd_transcode)


class TerminalBar:
    """A tqdm bar on a terminal, created at the first snapshot (so early errors print cleanly): the stage,
    and for a measured stage its percentage, media seconds done/total, speed (x realtime) and ETA."""

    MEASURED = "{desc:<7}{percentage:3.0f}% |{bar}| {n:.1f}/{total:.1f} s{postfix}"  # tqdm adds ", " before a postfix
    PLAIN = "{desc:<7} {elapsed}"

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None

    def __call__(self, snap: Snapshot) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=1, desc=snap.stage, file=self.stream, dynamic_ncols=True, leave=False, bar_format=self.PLAIN
            )
        self.bar.set_postfix_str(bar_postfix(snap), refresh=False)
        if snap.state == "started":  # reset() redraws, at 0: describe the new stage first
            self.bar.set_description_str(snap.stage, refresh=False)
            self.bar.bar_format = self.MEASURED if snap.total_s else self.PLAIN
            self.bar.reset(total=snap.total_s or 1)
            return
        self.bar.n = snap.done_s
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def bar_postfix(snap: Snapshot) -> str:
    from tqdm import tqdm

    if not snap.total_s:
        return ""
    speed = f"{snap.speed:.2f}x realtime" if snap.speed is not None else "?x realtime"
    eta = f"ETA {tqdm.format_interval(snap.eta_s)}" if snap.eta_s is not None else "ETA ?"
    return ", ".join([speed, eta, *(f"{key} {fraction:.0%}" for key, fraction in snap.side)])


class LogLines:
    """Plain lines for a log (stderr is not a terminal): one when each stage starts, and one with the
    speed when a measured stage is done. No carriage returns, no redraws."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, snap: Snapshot) -> None:
        line = log_line(snap)
        if line:
            print(line, file=self.stream, flush=True)


def log_line(snap: Snapshot) -> str | None:
    if snap.state == "started" and snap.total_s:
        jobs = " + ".join([f"{snap.parts} segments", *(key for key, _ in snap.side)])
        return f"splitstitch: {snap.stage} started ({jobs}, {snap.total_s:.1f} s of video)"
    if snap.state == "started":
        return f"splitstitch: {snap.stage} started"
    if snap.state == "done" and snap.total_s:
        speed = f" ({snap.speed:.1f}x realtime)" if snap.speed else ""
        return f"splitstitch: {snap.stage} done in {snap.elapsed_s:.1f} s{speed}"
    return None


class ProgressView:
    """Where progress goes: nowhere (`--quiet`), a bar (`stream` is a terminal) or plain lines (a log)."""

    def __init__(self, quiet: bool, stream: TextIO) -> None:
        self.render: TerminalBar | LogLines | None = None
        if not quiet:
            self.render = TerminalBar(stream) if stream.isatty() else LogLines(stream)
        self.tracker: Tracker | None = Tracker(self.render) if self.render else None

    @property
    def progress(self) -> Progress:
        return self.tracker or SILENT

    def finish(self) -> None:
        if self.tracker:
            self.tracker.finish()

    def close(self) -> None:
        if isinstance(self.render, TerminalBar):
            self.render.close()


def cmd_transcode(args: argparse.Namespace) -> int:
    from splitstitch.pipeline import transcode, write_report

    settings = settings_from_args(args, args.output)
    output, entry = args.output, None
    if settings.streaming and args.output.suffix.lower() in STREAM_SUFFIXES:
        output, entry = args.output.parent, args.output.name
    limits = Limits(max_width=args.max_width, max_height=args.max_height, max_duration_s=args.max_duration)
    view = ProgressView(args.quiet, sys.stderr)
    try:
        result = transcode(args.source, output, settings, workers=args.workers, limits=limits, work_root=args.work_dir,
                           progress=view.progress, force=args.force, entry=entry)  # fmt: skip
        view.finish()
    except VerificationError as exc:
        if args.report and exc.report:
            write_report(args.report, exc.report)
        raise
    finally:
        view.close()
    if args.report:
        write_report(args.report, result.report)
    if not args.quiet:
        t = result.report["timings_s"]
        plan = result.report["plan"]
        fields = result.report.get("interlace") or {}
        deinterlaced = f", deinterlaced ({fields['parity']})" if fields.get("deinterlaced") else ""
        print(f"{result.output}: {len(plan['segments'])} segments of about {plan['target_seconds']:.1f} s"
              f"{deinterlaced}, verified, {t['total']:.1f} s", file=sys.stderr)  # fmt: skip
    return 0


def add_sample(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from splitstitch.samples import KINDS

    p = sub.add_parser("sample", help="generate a test clip with ffmpeg's lavfi sources")
    p.add_argument("output", type=Path)
    p.add_argument("--kind", choices=("clip", *KINDS), default="clip", help="clip: textured 720p30 H.264 + AAC")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--size", default="1280x720", help="for --kind clip")
    p.set_defaults(func=cmd_sample)


def cmd_sample(args: argparse.Namespace) -> int:
    from splitstitch.samples import make_clip, make_sample

    if args.kind == "clip":
        make_clip(args.output, args.seconds, args.size)
    else:
        made = make_sample(args.kind, args.output.parent, args.seconds, name=args.output.stem)
        made.replace(args.output)
    print(args.output)
    return 0


COMMANDS_GROUP = "splitstitch.commands"  # [project.entry-points."splitstitch.commands"] in pyproject.toml


def optional_commands() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    """Subcommands other packages register (`cloud`, `bench`); one whose extra dependencies are missing
    (boto3, matplotlib) is left out."""
    found = []
    for entry in sorted(entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        try:
            found.append(entry.load())
        except ImportError as exc:
            log.debug("%s unavailable: %s", entry.value, exc)
    return found


def build_parser(extra: Sequence[Callable[[argparse._SubParsersAction], None]] = ()) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    parser = argparse.ArgumentParser(prog="splitstitch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"splitstitch {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every stage and command")
    sub = parser.add_subparsers(dest="command", required=True)
    add_transcode(sub)
    add_sample(sub)
    for add in extra:
        add(sub)
    return parser


@contextmanager
def log_to_stderr(level: int) -> Iterator[None]:
    """Log records of `level` and above to this command's stderr, for this command only: the handler goes with
    it (tests call `main` in-process, and a handler left behind writes to a stream that is gone)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _stop(signum: int, _frame: object) -> None:
    """The first stop signal kills every ffmpeg/ffprobe child (a SIGTERM from `timeout` or systemd reaches this
    process only, not its children) and unwinds the job through its `finally` blocks; later ones are ignored
    so the clean-up itself is not cut short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    stop_children(signum)
    raise Interrupted(signum)


@contextmanager
def stop_signals() -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP end the command alike (exit 128 + the signal); the previous handlers are put
    back afterwards (tests call `main` in-process)."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        signal.signal(sig, _stop)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        allow_children()


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(optional_commands())
    args = parser.parse_args(argv)
    try:
        with stop_signals(), log_to_stderr(logging.DEBUG if args.verbose else logging.WARNING):
            return args.func(args)
    except SplitstitchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        # only `transcode` is known (and tested) to leave nothing behind when interrupted
        cleaned = "; temporary files removed" if args.command == "transcode" else ""
        what = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"error: {what}{cleaned}", file=sys.stderr)
        return 128 + signum
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else is a bug: still one line and a documented exit code
        log.debug("internal error", exc_info=True)  # the traceback, with -v only
        print(f"error: {internal_error_line(exc)}", file=sys.stderr)
        return INTERNAL_EXIT_CODE


if __name__ == "__main__":
    sys.exit(main())
