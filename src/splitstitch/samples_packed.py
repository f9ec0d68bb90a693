"""Generate a small AVI test sample with MPEG-4 ASP *packed B-frames*.

AVI has no separate decode and presentation timestamps, so DivX/XviD-era encoders
stored B-frames "packed": a P-VOP and the B-VOP that follows it in decode order
share one AVI chunk, and the next chunk holds a tiny placeholder N-VOP ("not coded"
VOP), which keeps one chunk per frame.  A ``DivX...p`` user data string flags the
stream.  ffmpeg can only undo this (``mpeg4_unpack_bframes``), so the packing is
done here on the raw VOPs of an ffmpeg-encoded elementary stream.
"""

from __future__ import annotations

import pathlib
import re
import tempfile

from splitstitch.ffmpeg import run_ffmpeg

_START = b"\x00\x00\x01"
_VOP = 0xB6
_VOS, _VISUAL_OBJECT = 0xB0, 0xB5
_DIVX_USER_DATA = _START + b"\xb2DivX503b1393p"  # trailing "p" = packed bitstream
_MAX_N_VOP = 19  # ffmpeg treats packets up to this size as N-VOPs


class _Bits:
    """Minimal MSB-first bit reader."""

    def __init__(self, data: bytes, byte_pos: int = 0) -> None:
        self.data, self.pos = data, byte_pos * 8

    def read(self, n: int) -> int:
        value = 0
        for _ in range(n):
            bit = self.data[self.pos >> 3] >> (7 - (self.pos & 7)) & 1
            value = (value << 1) | bit
            self.pos += 1
        return value


def _time_increment_bits(vol: bytes) -> int:
    """Parse a VOL header (from its start code) up to vop_time_increment_resolution."""
    bits = _Bits(vol, 4)
    bits.read(1 + 8)  # random_accessible_vol, video_object_type_indication
    verid = 1
    if bits.read(1):  # is_object_layer_identifier
        verid = bits.read(4)
        bits.read(3)  # video_object_layer_priority
    if bits.read(4) == 15:  # aspect_ratio_info: extended PAR
        bits.read(16)
    # vol_control_parameters -> chroma_format, low_delay, vbv_parameters (79 bits)
    if bits.read(1) and bits.read(4) & 1:
        bits.read(79)
    shape = bits.read(2)
    if shape == 3 and verid != 1:
        bits.read(4)
    if shape != 0 or not bits.read(1):
        raise ValueError("unsupported VOL header (non-rectangular shape or bad marker)")
    resolution = bits.read(16)
    if resolution == 0:
        raise ValueError("invalid vop_time_increment_resolution 0")
    return max(1, (resolution - 1).bit_length())


def _n_vop(b_vop: bytes, inc_bits: int) -> bytes:
    """B-VOP header up to vop_time_increment + marker, then vop_coded=0 and stuffing."""
    bits = _Bits(b_vop, 4)
    bits.read(2)  # vop_coding_type
    while bits.read(1):  # modulo_time_base
        pass
    bits.read(1 + inc_bits + 1)  # marker, vop_time_increment, marker
    n = bits.pos - 32
    value = int.from_bytes(b_vop[4 : 4 + (n + 7) // 8], "big") >> (-n % 8)
    value, n = value << 2, n + 2  # vop_coded=0, then the stuffing's leading 0 bit
    pad = -n % 8
    value, n = (value << pad) | ((1 << pad) - 1), n + pad  # stuffing 1 bits
    n_vop = _START + bytes([_VOP]) + value.to_bytes(n // 8, "big")
    if len(n_vop) > _MAX_N_VOP:
        raise ValueError("N-VOP too large")
    return n_vop


def _split_frames(es: bytes) -> list[bytes]:
    """Split an elementary stream into frames (header units go with the next VOP)."""
    frames: list[bytes] = []
    begin, has_vop = 0, False
    for match in re.finditer(re.escape(_START), es):
        if has_vop:  # any start code after a VOP begins the next frame
            frames.append(es[begin : match.start()])
            begin, has_vop = match.start(), False
        has_vop = has_vop or es[match.start() + 3] == _VOP
    frames.append(es[begin:])
    return frames


def _fix_headers(frame: bytes, first: bool) -> bytes:
    """Add the DivX user data after each VOL; keep VOS/VO headers in frame 0 only."""
    # (ffmpeg warns "Discarding excessive bitstream" at a mid-stream VOS when packed.)
    out = b""
    for unit in frame.split(_START)[1:]:
        if first or unit[0] not in (_VOS, _VISUAL_OBJECT):
            out += _START + unit + (_DIVX_USER_DATA if 0x20 <= unit[0] <= 0x2F else b"")
    return out


def _pack(es: bytes) -> list[bytes]:
    """Return the AVI chunks: P/I + following B in one chunk, then an N-VOP chunk."""
    vol = re.search(rb"\x00\x00\x01[\x20-\x2f]", es)
    if vol is None or not es.startswith(_START):
        raise ValueError("not an MPEG-4 Part 2 elementary stream with a VOL header")
    inc_bits = _time_increment_bits(es[vol.start() :])
    frames = [_fix_headers(f, i == 0) for i, f in enumerate(_split_frames(es))]
    types = [f[f.index(_START + bytes([_VOP])) + 4] >> 6 for f in frames]  # 0=I 1=P 2=B
    chunks: list[bytes] = []
    for i, frame in enumerate(frames):
        if types[i] == 2 and i and types[i - 1] in (0, 1):  # B after its I/P: pack
            chunks[-1] += frame
            chunks.append(_n_vop(frame, inc_bits))
        else:
            chunks.append(frame)
    return chunks


def make_packed_bframes_avi(
    out: pathlib.Path,
    *,
    seconds: float = 4.0,
    fps: int = 25,
    size: str = "320x240",
    timeout: float = 120.0,
) -> None:
    """Write ``out``: MPEG-4 ASP (DX50) with packed B-frames + MP3 sine audio, AVI."""

    def run(*args: str) -> None:
        run_ffmpeg(list(args), timeout=timeout)

    with tempfile.TemporaryDirectory(prefix="packed_bf_") as tmp:
        es, video = pathlib.Path(tmp, "video.m4v"), pathlib.Path(tmp, "video.avi")
        src = f"testsrc2=size={size}:rate={fps}:duration={seconds}"
        enc = ["-c:v", "mpeg4", "-bf", "1", "-g", str(2 * fps), "-q:v", "4"]
        enc += ["-flags", "+cgop", "-sc_threshold", "1000000000"]  # closed GOPs
        run("-f", "lavfi", "-i", src, *enc, "-f", "m4v", str(es))
        for index, chunk in enumerate(_pack(es.read_bytes())):
            pathlib.Path(tmp, f"chunk_{index:05d}.m4v").write_bytes(chunk)
        # image2 reads one file per packet (no parser re-splitting); +nofillin skips
        # libavformat's dts guess from the B-frame delay (0, N/A, 1, 2, ...).
        chunks = ["-f", "image2", "-c:v", "mpeg4", "-framerate", str(fps), "-i"]
        copy = ["-c:v", "copy", "-vtag", "DX50"]
        run("-fflags", "+nofillin", *chunks, f"{tmp}/chunk_%05d.m4v", *copy, str(video))
        # Remuxing through the AVI demuxer fixes the keyframe flags (image2 marks every
        # packet key); -avoid_negative_ts disabled keeps the MP3 encoder delay from
        # shifting the video by one slot.
        sine = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        mp3 = ["-c:a", "libmp3lame", "-b:a", "128k", "-avoid_negative_ts", "disabled"]
        maps = ["-map", "0:v", "-map", "1:a"]
        run("-i", str(video), *sine, *maps, *copy, *mp3, str(out))
