"""splitstitch: parallel split-and-stitch video transcoder.

Errors are one line on stderr and an exit code, never a traceback: 2 bad input or options,
3 verification failed, 1 a tool failed, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path

from splitstitch import __version__
from splitstitch.codecs import CODECS, X264_PRESETS
from splitstitch.errors import SplitstitchError, VerificationError
from splitstitch.inputs import Limits
from splitstitch.settings import Settings

log = logging.getLogger("splitstitch")
Command = Callable[[argparse.Namespace], int]


def add_transcode(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("transcode", help="split, encode in parallel and stitch one file locally")
    p.add_argument("source", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="output file; its extension picks the container")
    p.add_argument("--codec", choices=CODECS, default="h264")
    p.add_argument("--crf", type=int, help="quality (default per codec: h264 23, h265 28, vp9 32, av1 35)")
    p.add_argument("--preset", choices=X264_PRESETS, default="medium", help="x264 names, mapped for vp9/av1")
    p.add_argument("--height", type=int, help="scale to this height keeping the aspect ratio (never upscales)")
    p.add_argument("--audio-bitrate", help="e.g. 128k; given, audio is always re-encoded")
    p.add_argument("--audio-tracks", default="0", help="'0' (default), '0,1', 'all' or 'none'")
    p.add_argument("--segment-seconds", type=float, help="segment length (default: planned for the workers)")
    p.add_argument(
        "--verify",
        choices=("joins", "full"),
        default="joins",
        help="joins (default): each segment's first GOP is decoded, the rest parsed; full: every frame",
    )
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel encoders (default: cores)")
    p.add_argument("--report", type=Path, help="write the JSON job report here")
    p.add_argument("--work-dir", type=Path, help="where temporary files go (default: system temp)")
    p.add_argument("--max-duration", type=float, default=Limits.max_duration_s, help="seconds (default 12 h)")
    p.add_argument("--max-height", type=int, default=Limits.max_height)
    p.add_argument("--max-width", type=int, default=Limits.max_width)
    p.add_argument("--quiet", action="store_true", help="no progress bar, errors only")
    p.set_defaults(func=cmd_transcode)


class ProgressBar:
    """A tqdm bar on stderr, created at the first event (so early errors print cleanly) and always closed."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(
                total=1,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                bar_format="{desc:<7} {bar} {n_fmt}/{total_fmt} [{elapsed}]",
            )
        self.bar.set_description_str(stage)
        self.bar.total = max(total, 1)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_transcode(args: argparse.Namespace) -> int:
    from splitstitch.pipeline import transcode, write_report

    settings = Settings(
        codec=args.codec, crf=args.crf, preset=args.preset, height=args.height, audio_bitrate=args.audio_bitrate,
        audio_tracks=args.audio_tracks, segment_seconds=args.segment_seconds, verify=args.verify,
    )  # fmt: skip
    limits = Limits(max_width=args.max_width, max_height=args.max_height, max_duration_s=args.max_duration)
    progress = ProgressBar(enabled=not args.quiet)
    try:
        result = transcode(args.source, args.output, settings, workers=args.workers, limits=limits,
                           work_root=args.work_dir, progress=progress)  # fmt: skip
    except VerificationError as exc:
        if args.report and exc.report:
            write_report(args.report, exc.report)
        raise
    finally:
        progress.close()
    if args.report:
        write_report(args.report, result.report)
    if not args.quiet:
        t = result.report["timings_s"]
        plan = result.report["plan"]
        print(f"{result.output}: {len(plan['segments'])} segments, verified, {t['total']:.1f} s", file=sys.stderr)
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(optional_commands())
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return args.func(args)
    except SplitstitchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; temporary files removed", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
