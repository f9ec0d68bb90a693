"""The streaming package on a local disk: a folder writer, the OUT folder's rules, the swap that puts a verified
package in place, and the playback checks (ffmpeg reading each rung as a player would)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from splitstitch.binaries import decoder_ffmpeg
from splitstitch.encode import EncodedSegment
from splitstitch.errors import SegmentMismatchError, ToolError, UsageError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.storage import Storage
from splitstitch.streaming import PLAYLIST, Packaged
from splitstitch.verify import PASS_FRAMES, Check


class FolderWriter:
    """Files written into a folder (the caller moves the folder into place once it is verified)."""

    threads = 1  # a local disk gains nothing from more

    def __init__(self, root: Path) -> None:
        self.root = root

    def publish(self, store: Storage, stored: str, name: str, result: EncodedSegment) -> bytes:
        data = store.get_bytes(stored)
        if hashlib.sha256(data).hexdigest() != result.sha256:
            raise SegmentMismatchError(f"{stored}: stored bytes differ from what its encoder checked")
        self.write(name, data)
        return data

    def write(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def check_target(out: Path, force: bool, source: Path | None = None) -> None:
    """OUT is a folder that does not exist, is empty, or may be replaced (--force); never half-overwritten.
    Never one that holds the source or the current folder: replacing it would delete them."""
    where, here = out.resolve(), Path.cwd().resolve()
    if source is not None and where in source.resolve().parents:
        raise UsageError(f"{out}: holds the source {source}; choose another folder")
    if where == here:
        raise UsageError(f"{out}: is the current folder; name a folder for the package (e.g. -o out/stream.m3u8)")
    if where in here.parents:
        raise UsageError(f"{out}: holds the current folder; choose another folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; streaming output goes into a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out}: folder is not empty (use --force to replace it)")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: folder {out.parent} does not exist")


def place(built: Path, out: Path) -> None:
    """Swap the verified folder in: the old one (if any) moves aside first and goes only once the new one is
    in place, so OUT is always either the old package or the new one."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(built, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)  # the new one could not move in: the old one goes back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _decode_args(folder: Path, packaged: Packaged, n: int, dash: bool) -> list[str]:
    if dash:
        mpd = next(f for f in packaged.files if f.endswith(".mpd"))
        return ["-protocol_whitelist", "file", "-i", f"file:{folder / mpd}", "-map", f"0:v:{n}"]
    playlist = folder / packaged.videos[n].folder / PLAYLIST
    return ["-protocol_whitelist", "file", "-i", f"file:{playlist}", "-map", "0:v:0"]


def playback_checks(folder: Path, packaged: Packaged, frames: int) -> list[Check]:
    """One playback check per kind of manifest written (HLS, DASH, or both for CMAF)."""
    kinds = [kind for kind, suffix in (("hls", ".m3u8"), ("dash", ".mpd")) if any(
        f.endswith(suffix) and "/" not in f for f in packaged.files)]  # fmt: skip
    return [playback_check(folder, packaged, frames, kind == "dash") for kind in kinds]


def playback_check(folder: Path, packaged: Packaged, frames: int, dash: bool) -> Check:
    """ffmpeg reading each rung as a player would decodes every frame with no warnings: the DASH demuxer (of
    the ffmpeg that has one, see binaries.py) reading the MPD, else the HLS demuxer reading the rung's media
    playlist. Not the master playlist: ffmpeg 8.1's HLS demuxer corrupts packets when it reads two
    fragmented-MP4 variants of one master at once, with ffmpeg's own HLS output too."""
    program = decoder_ffmpeg("dash") if dash else None
    problems = []
    for n, video in enumerate(packaged.videos):
        args = [*_decode_args(folder, packaged, n, dash), *PASS_FRAMES, "-f", "framemd5", "-"]
        try:
            done = run_ffmpeg(args, loglevel="warning", timeout=3600, program=program)
        except ToolError as exc:
            problems.append(f"{video.name}: {exc}")
            continue
        got = sum(1 for line in done.stdout.splitlines() if line and not line.startswith("#"))
        warned = done.stderr.strip().splitlines()[:1]
        if got != frames or warned:
            problems.append(
                f"{video.name}: {got} frames decoded of {frames}" + (f", {warned[0][:100]}" if warned else "")
            )
    via = "the MPD" if dash else "each rung's media playlist"
    return Check(f"{'dash' if dash else 'hls'}_playback_decodes_every_frame", not problems,
                 problems[0] if problems else f"ffmpeg reading {via} decoded all {frames} frames of each of "
                 f"{len(packaged.videos)} rungs, no warnings")  # fmt: skip
