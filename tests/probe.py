"""ffprobe calls of the tests' own, independent of the code under test (only the binary path is shared)."""

from __future__ import annotations

import itertools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

from splitstitch.binaries import binaries, decoder_ffmpeg


def ffprobe(*args: str) -> dict:
    out = subprocess.run([binaries().ffprobe, "-v", "error", *args, "-of", "json"], capture_output=True, check=True,
                         timeout=300).stdout  # fmt: skip
    return json.loads(out)


@dataclass(frozen=True)
class Facts:
    frames: int
    video_start: float
    video_seconds: float
    frame_seconds: float
    display: tuple[int, int]
    rotation: int
    audio: list[dict]


def facts(path: Path) -> Facts:
    """Decoded frame count, video duration from the decoded frames' timestamps, audio durations."""
    data = ffprobe("-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time,duration_time",
                   "-show_entries", "stream=width,height:stream_side_data=rotation", str(path))  # fmt: skip
    raw = [
        float(f["best_effort_timestamp_time"]) if "best_effort_timestamp_time" in f else None for f in data["frames"]
    ]
    known = [t for t in raw if t is not None]
    steps = sorted(b - a for a, b in itertools.pairwise(known))
    step = steps[len(steps) // 2] if steps else 0.0
    stamps: list[float] = []  # frames without a timestamp (AVI with B-frames) continue the cadence
    first_known = next(i for i, t in enumerate(raw) if t is not None) if known else 0
    for i, t in enumerate(raw):
        stamps.append(t if t is not None else (stamps[-1] + step if stamps else known[0] - (first_known - i) * step))
    stream = data["streams"][0]
    rotation = next((int(s["rotation"]) for s in stream.get("side_data_list", []) if "rotation" in s), 0) % 360
    w, h = stream["width"], stream["height"]
    audio = ffprobe("-select_streams", "a", "-show_entries", "stream=index,channels,start_time,duration", str(path))
    return Facts(
        frames=len(data["frames"]),
        video_start=stamps[0] if stamps else 0.0,
        video_seconds=stamps[-1] - stamps[0] + step if stamps else 0.0,
        frame_seconds=step,
        display=(h, w) if rotation in (90, 270) else (w, h),
        rotation=rotation,
        audio=audio["streams"],
    )


def audio_seconds(path: Path, stream: int) -> float:
    """Decoded audio length: samples actually output by the decoder, priming removed."""
    data = ffprobe("-select_streams", f"a:{stream}", "-show_entries", "frame=nb_samples:stream=sample_rate", str(path))
    rate = int(data["streams"][0]["sample_rate"])
    return sum(int(f["nb_samples"]) for f in data["frames"]) / rate


def decode_warnings(path: Path) -> str:
    codec = ffprobe("-select_streams", "v:0", "-show_entries", "stream=codec_name", str(path))["streams"][0][
        "codec_name"
    ]
    program = decoder_ffmpeg(codec) or binaries().ffmpeg
    # frames on their own timestamps: rounded to 1/frame rate, two VFR frames share a tick and the null muxer warns
    proc = subprocess.run([program, "-nostdin", "-v", "warning", "-i", str(path), "-fps_mode", "passthrough",
                           "-enc_time_base:v", "demux", "-f", "null", "-"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    return proc.stderr.strip() + ("" if proc.returncode == 0 else f" (exit {proc.returncode})")


def psnr(distorted: Path, reference: Path) -> float:
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-i", str(distorted), "-i", str(reference), "-lavfi",
                           "[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True, timeout=300)  # fmt: skip
    line = next(ln for ln in proc.stderr.splitlines() if "PSNR" in ln and "average:" in ln)
    return float(line.split("average:")[1].split()[0])


def decoded_frames(path: Path) -> int:
    """Frames a full decode outputs, with a decoder that knows the codec (AV1 needs another build)."""
    codec = ffprobe("-select_streams", "v:0", "-show_entries", "stream=codec_name", str(path))["streams"][0][
        "codec_name"
    ]
    program = decoder_ffmpeg(codec) or binaries().ffmpeg
    proc = subprocess.run([program, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0", "-f", "framemd5", "-"],
                          capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith("#"))
