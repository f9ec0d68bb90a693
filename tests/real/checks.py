"""Transcode one real file with the CLI (a subprocess, so a traceback is caught as what it is) and compare
what the output decodes to with what the source decodes to. One `Row` per output (per rung when streaming)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tests.real.decoded import Decoded, decode, header_seconds

TIMESTAMP_S = Fraction(2, 1000)  # a frame's time may round by half a 1 ms tick (Matroska time bases)
DURATION_S = Fraction(2, 1000)  # the video's length, first frame to the end of the last
AUDIO_S = Fraction(20, 1000)  # audio start against the video, and its length, as decoded
EXTRA_ARGS = shlex.split(os.environ.get("SPLITSTITCH_REAL_ARGS", "--preset veryfast"))
LADDER = os.environ.get("SPLITSTITCH_REAL_LADDER", "auto")


@dataclass(frozen=True)
class Row:
    file: str
    mode: str  # "file", or "cmaf <rung>"
    ok: bool
    frames: str = "-"
    worst_ts_ms: str = "-"
    video_len_ms: str = "-"
    audio_start_ms: str = "-"
    audio_len_ms: str = "-"
    header_ms: str = "-"
    clean: str = "-"
    problems: str = ""

    COLUMNS = ("file", "mode", "ok", "frames", "worst_ts_ms", "video_len_ms", "audio_start_ms", "audio_len_ms",
               "header_ms", "clean", "problems")  # fmt: skip

    def cells(self) -> list[str]:
        return [str(getattr(self, c)) if c != "ok" else ("ok" if self.ok else "FAIL") for c in self.COLUMNS]


def table(rows: list[Row]) -> str:
    grid = [list(Row.COLUMNS), *(r.cells() for r in rows)]
    widths = [max(len(line[i]) for line in grid) for i in range(len(Row.COLUMNS) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1] for line in grid
    )


def _ms(value: Fraction) -> str:
    return f"{float(value) * 1000:+.1f}"


def transcode(source: Path, out: Path, *args: str) -> tuple[int, str]:
    """Exit status and the last line of stderr (the one-line error, or the last line of a traceback)."""
    proc = subprocess.run([sys.executable, "-m", "splitstitch.cli", "transcode", str(source), "-o", str(out),
                           "--quiet", *EXTRA_ARGS, *args], capture_output=True, text=True, timeout=3600)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    last = lines[-1] if lines else ""
    return proc.returncode, ("TRACEBACK " + last if "Traceback (most recent call last)" in proc.stderr else last)


def compare(name: str, mode: str, src: Decoded, out: Decoded, headers: dict[str, float] | None) -> Row:
    """The output against the source, as decoded: every frame once at its source time, the video's length,
    the audio's start against the video and its length, the headers against the decode, a clean decode."""
    assert src.video is not None
    problems: list[str] = []
    if out.video is None:
        return Row(name, mode, False, problems="output has no video")
    sv, ov = src.video, out.video
    frames_ok = len(ov.times) == len(sv.times)
    if not frames_ok:
        problems.append(f"{len(ov.times)} frames, source {len(sv.times)}")
    offsets = [abs((o - ov.start) - (s - sv.start)) for s, o in zip(sv.times, ov.times, strict=False)]
    worst = max(offsets, default=Fraction(0))
    if worst > TIMESTAMP_S:
        problems.append(f"a frame is {float(worst) * 1000:.1f} ms off its source time")
    video_len = ov.length - sv.length
    if abs(video_len) > DURATION_S:
        problems.append(f"video lasts {float(ov.length):.4f} s, source {float(sv.length):.4f} s")
    row = {"frames": f"{len(ov.times)}/{len(sv.times)}", "worst_ts_ms": f"{float(worst) * 1000:.1f}",
           "video_len_ms": _ms(video_len)}  # fmt: skip
    if (src.audio is None) != (out.audio is None):
        problems.append("audio " + ("missing" if out.audio is None else "added"))
    elif src.audio is not None and out.audio is not None:
        start = (out.audio.start - ov.start) - (src.audio.start - sv.start)
        length = out.audio.length - src.audio.length
        row |= {"audio_start_ms": _ms(start), "audio_len_ms": _ms(length)}
        if abs(start) > AUDIO_S:
            problems.append(f"audio starts {float(start) * 1000:+.1f} ms off the source's A/V offset")
        if abs(length) > AUDIO_S:
            problems.append(f"audio lasts {float(out.audio.length):.4f} s, source {float(src.audio.length):.4f} s")
    if headers is not None:
        decoded = {"video": ov.length, **({"audio": out.audio.length} if out.audio else {})}
        decoded["container"] = max(ov.end, out.audio.end if out.audio else ov.end) - min(
            ov.start, out.audio.start if out.audio else ov.start
        )
        decoded["playlist"] = ov.length  # a rung's playlist states its video's length
        decoded["mpd"] = decoded["container"]  # the MPD, the presentation's (every adaptation set)
        diffs = {k: Fraction(v).limit_denominator(10**6) - decoded[k] for k, v in headers.items() if k in decoded}
        key, diff = max(diffs.items(), key=lambda kv: abs(kv[1]), default=("-", Fraction(0)))
        row["header_ms"] = f"{_ms(diff)} ({key})" if key != "-" else "-"
        frame = ov.length / len(ov.times)
        if any(abs(d) > (frame if k in ("video", "playlist") else AUDIO_S) for k, d in diffs.items()):
            problems.append(f"the {key} header says {float(diff) * 1000:+.1f} ms more than decodes")
    row["clean"] = "yes" if not out.warnings else "no"
    if out.warnings:
        problems.append("decode warns: " + out.warnings.splitlines()[0][:100])
    return Row(name, mode, not problems, **row, problems="; ".join(problems))


def _iso_seconds(text: str) -> float:
    """`PT1M17.1S` -> 77.1 (the durations an MPD states)."""
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", text)
    assert match, text
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def package_seconds(playlist: Path) -> dict[str, float]:
    """Durations a package states for one rung: its HLS playlist's EXTINF sum, the MPD's presentation."""
    stated = {"playlist": sum(float(m) for m in re.findall(r"#EXTINF:([\d.]+)", playlist.read_text()))}
    mpd = playlist.parents[2] / "manifest.mpd"
    if mpd.is_file() and (match := re.search(r'mediaPresentationDuration="([^"]+)"', mpd.read_text())):
        stated["mpd"] = _iso_seconds(match.group(1))
    return stated


def check_file(source: Path, src: Decoded, work: Path) -> list[Row]:
    out = work / f"{source.stem}.mp4"
    code, said = transcode(source, out)
    if code != 0:
        return [Row(source.name, "file", False, problems=f"exit {code}: {said}")]
    return [compare(source.name, "file", src, decode(out), header_seconds(out))]


def check_streaming(source: Path, src: Decoded, work: Path) -> list[Row]:
    out = work / f"{source.stem}.cmaf"
    code, said = transcode(source, out, "--format", "cmaf", "--ladder", LADDER)
    if code != 0:
        return [Row(source.name, "cmaf", False, problems=f"exit {code}: {said}")]
    audio = sorted(out.glob("audio/*/playlist.m3u8"))
    rungs = sorted(out.glob("video/*/playlist.m3u8"))
    if not rungs:
        return [Row(source.name, "cmaf", False, problems="no video playlist written")]
    return [
        compare(
            source.name,
            f"cmaf {rung.parent.name}",
            src,
            decode(rung, audio[0] if audio else None),
            package_seconds(rung),
        )
        for rung in rungs
    ]
