"""Generated media of the broken shapes real files come in: timestamps that restart or jump mid-file, and
AVI index entries that carry no data (a capture tool's dropped frames).

Restarts are made the way they happen: whole recordings joined packet by packet, each keeping its own
timestamps. Matroska: the second file's clusters appended after the first's (one EBML header and track
list; cues and seek heads left out). Fragmented MP4: the second file's `moof`/`mdat` pairs appended, so its
`tfdt` starts again at 0. MPEG-TS: files byte-concatenated, each written with its own `-output_ts_offset`.
Each part is encoded with the same settings, so the codec parameters match across the join.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg

RATE = 25
SECONDS = (2.24, 3.64)  # 56 and 91 frames: the real Matroska file restarts after 2.24 s, 147 frames in all
TONES = (440, 660, 880)

_EBML, _SEGMENT, _INFO, _TRACKS, _CLUSTER = 0x1A45DFA3, 0x18538067, 0x1549A966, 0x1654AE6B, 0x1F43B675
_UNKNOWN_SIZE = bytes.fromhex("01FFFFFFFFFFFFFF")


def _lavfi(seconds: float, tone: int, size: str = "320x240") -> list[str]:
    video = f"testsrc2=size={size}:rate={RATE}:duration={seconds}"
    return ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", f"sine=frequency={tone}:duration={seconds}"]


MPEG4 = ["-c:v", "mpeg4", "-q:v", "4", "-bf", "1", "-g", str(RATE)]
H264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-x264-params",
        f"keyint={RATE}:min-keyint={RATE}:scenecut=0:bframes=2"]  # fmt: skip
AAC = ["-c:a", "aac", "-b:a", "96k"]


def _vint(data: bytes, at: int, keep_marker: bool = False) -> tuple[int, int]:
    length = 1
    while not data[at] & (0x80 >> (length - 1)):
        length += 1
    value = data[at] if keep_marker else data[at] & ((0x80 >> (length - 1)) - 1)
    for byte in data[at + 1 : at + length]:
        value = value << 8 | byte
    return value, length


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(id, element start, body start, end) of the EBML elements in data[start:end]."""
    found, at = [], start
    while at < end:
        element, id_len = _vint(data, at, keep_marker=True)
        size, size_len = _vint(data, at + id_len)
        body = at + id_len + size_len
        found.append((element, at, body, body + size))
        at = body + size
    return found


def join_matroska(parts: list[Path], out: Path) -> None:
    """The first part's header and tracks, then every part's clusters, timestamps untouched."""
    joined = b""
    for n, part in enumerate(parts):
        data = part.read_bytes()
        top = {e[0]: e for e in _elements(data, 0, len(data))}
        children = _elements(data, top[_SEGMENT][2], top[_SEGMENT][3])
        if n == 0:
            joined = data[top[_EBML][1] : top[_EBML][3]] + struct.pack(">I", _SEGMENT) + _UNKNOWN_SIZE
            joined += b"".join(data[s:e] for element, s, _, e in children if element in (_INFO, _TRACKS))
        joined += b"".join(data[s:e] for element, s, _, e in children if element == _CLUSTER)
    out.write_bytes(joined)


def _boxes(data: bytes) -> list[tuple[str, bytes]]:
    found, at = [], 0
    while at < len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        size = struct.unpack(">Q", data[at + 8 : at + 16])[0] if size == 1 else size
        found.append((kind.decode("latin-1"), data[at : at + size]))
        at += size
    return found


def join_fragmented_mp4(parts: list[Path], out: Path) -> None:
    """The first part whole, then the `moof`/`mdat` pairs of the others (their `tfdt` start at 0 again)."""
    joined = parts[0].read_bytes()
    for part in parts[1:]:
        joined += b"".join(box for kind, box in _boxes(part.read_bytes()) if kind in ("moof", "mdat"))
    out.write_bytes(joined)


def restart_mkv(out: Path, codec: list[str], folder: Path) -> list[Path]:
    parts = [folder / f"{out.stem}.part{n}.mkv" for n in range(len(SECONDS))]
    for part, seconds, tone in zip(parts, SECONDS, TONES, strict=False):
        run_ffmpeg([*_lavfi(seconds, tone), *codec, *AAC, "-f", "matroska", str(part)])
    join_matroska(parts, out)
    return parts


def restart_mp4(out: Path, folder: Path) -> list[Path]:
    """H.264 + ALAC (no encoder priming, so every part's audio adds up exactly), `delay_moov` so the
    edit list is right; the mov demuxer flags the restarting fragment as discarded (it overlaps)."""
    parts = [folder / f"{out.stem}.part{n}.mp4" for n in range(len(SECONDS))]
    flags = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof+delay_moov"]
    for part, seconds, tone in zip(parts, SECONDS, TONES, strict=False):
        run_ffmpeg([*_lavfi(seconds, tone), *H264, "-c:a", "alac", *flags, "-f", "mp4", str(part)])
    join_fragmented_mp4(parts, out)
    return parts


def jumping_ts(out: Path, folder: Path, offsets: tuple[int, ...] = (10, 100, 30)) -> list[Path]:
    """MPEG-TS recordings byte-joined: timestamps jump forward (10 -> 100 s) and back (100 -> 30 s)."""
    parts = [folder / f"{out.stem}.part{n}.ts" for n in range(len(offsets))]
    for part, offset, tone in zip(parts, offsets, TONES, strict=True):
        run_ffmpeg([*_lavfi(2.0, tone), *H264, *AAC, "-output_ts_offset", str(offset), "-f", "mpegts", str(part)])
    out.write_bytes(b"".join(p.read_bytes() for p in parts))
    return parts


# frames a capture tool "dropped": the AVI muxer writes an empty index entry for each missing frame slot
# (with ffmpeg 8.1 the kept frames land one slot later than their number: slots 1-6, 41 and 71-73 are empty)
DROP = "select='not(between(n\\,1\\,5))*not(eq(n\\,40))*not(between(n\\,70\\,72))'"


def dropped_frames_avi(out: Path, codec: str = "vp9", seconds: float = 4.0) -> None:
    encoder = {
        "vp9": ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-g", "60", "-b:v", "1M"],
        "mpeg4": ["-c:v", "mpeg4", "-q:v", "4", "-bf", "0", "-g", "60"],
        "h264": ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-bf", "0", "-g", "60"],
    }[codec]
    run_ffmpeg([*video_at(30, seconds), "-vf", DROP, "-fps_mode", "passthrough", *encoder,
                "-c:a", "libmp3lame", "-b:a", "128k", "-f", "avi", str(out)])  # fmt: skip


def video_at(rate: int, seconds: float) -> list[str]:
    video = f"testsrc2=size=320x240:rate={rate}:duration={seconds}"
    return ["-f", "lavfi", "-i", video, "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]


BROKEN: dict[str, tuple[str, Callable[[Path, Path], list[Path]]]] = {
    "restart_mkv_mpeg4": (".mkv", lambda out, folder: restart_mkv(out, MPEG4, folder)),
    "restart_mkv_h264": (".mkv", lambda out, folder: restart_mkv(out, H264, folder)),
    "restart_mp4": (".mp4", restart_mp4),
    "jumping_ts": (".ts", jumping_ts),
    "dropped_avi_vp9": (".avi", lambda out, folder: dropped_frames_avi(out, "vp9") or []),
    "dropped_avi_mpeg4": (".avi", lambda out, folder: dropped_frames_avi(out, "mpeg4") or []),
}


def make_broken(kind: str, folder: Path) -> tuple[Path, list[Path]]:
    """Generate one broken clip of `kind` into `folder`: (the file, the recordings it was joined from)."""
    extension, make = BROKEN[kind]
    out = folder / f"{kind}{extension}"
    return out, make(out, folder)
