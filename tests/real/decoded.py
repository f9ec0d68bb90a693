"""What a file decodes to, as a player shows it: ffmpeg's own decode (`-copyts`, every frame once), read
from `framecrc` lines. Independent of the code under test; only the ffmpeg binary is shared."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from splitstitch.binaries import binaries


@dataclass(frozen=True)
class Track:
    times: tuple[Fraction, ...]  # every decoded frame's (or audio block's) time in seconds, in output order
    end: Fraction  # the last one's time plus its duration

    @property
    def start(self) -> Fraction:
        return self.times[0]

    @property
    def length(self) -> Fraction:
        return self.end - self.start


@dataclass(frozen=True)
class Decoded:
    video: Track | None
    audio: Track | None
    warnings: str  # what the decoders said at -v warning (damage hides at -v error)


def _tracks(text: str) -> dict[int, Track]:
    bases = {int(line[4:].split(":")[0]): Fraction(line.split(": ")[1]) for line in text.splitlines()
             if line.startswith("#tb ")}  # fmt: skip
    rows: dict[int, list[tuple[int, int]]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = [f.strip() for f in line.split(",")]
            rows.setdefault(int(fields[0]), []).append((int(fields[2]), int(fields[3])))
    return {i: Track(tuple(p * bases[i] for p, _ in r), (r[-1][0] + r[-1][1]) * bases[i]) for i, r in rows.items() if r}


def decode(video: Path, audio: Path | None = None) -> Decoded:
    """Decode the first video stream of `video` and the first audio stream (if any) of `audio`, by default
    the same file; a playlist is read with the file protocol only."""
    inputs = ["-copyts", "-protocol_whitelist", "file,crypto,data", "-i", str(video)]
    maps = ["-map", "0:v:0", "-map", "0:a:0?"]
    if audio is not None:
        inputs += ["-copyts", "-protocol_whitelist", "file,crypto,data", "-i", str(audio)]
        maps = ["-map", "0:v:0", "-map", "1:a:0"]
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "warning", *inputs, *maps, "-fps_mode", "passthrough",
                           "-f", "framecrc", "-"], capture_output=True, text=True, timeout=1800)  # fmt: skip
    tracks = _tracks(proc.stdout)
    media = {line.split(":")[0][len("#media_type ") :]: line.split(": ")[1] for line in proc.stdout.splitlines()
             if line.startswith("#media_type")}  # fmt: skip
    by_kind = {media.get(str(i)): t for i, t in tracks.items()}
    warnings = proc.stderr.strip() + ("" if proc.returncode == 0 else f" (exit {proc.returncode})")
    return Decoded(by_kind.get("video"), by_kind.get("audio"), warnings)


def header_seconds(path: Path) -> dict[str, float]:
    """Durations the headers state: the container's, and each stream's first video/audio."""
    out = subprocess.run([binaries().ffprobe, "-v", "error", "-show_entries", "format=duration:stream=codec_type,duration",
                          "-of", "json", str(path)], capture_output=True, text=True, timeout=120).stdout  # fmt: skip
    data = json.loads(out or "{}")
    stated: dict[str, float] = {}
    if "duration" in data.get("format", {}):
        stated["container"] = float(data["format"]["duration"])
    for s in data.get("streams", []):
        if s.get("codec_type") in ("video", "audio") and s["codec_type"] not in stated and "duration" in s:
            stated[s["codec_type"]] = float(s["duration"])
    return stated
