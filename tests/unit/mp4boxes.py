"""Hand-built ISO BMFF boxes for the fmp4/fmp4_init/assemble unit tests.

Written with `struct` from the field layouts of ISO/IEC 14496-12 (not with the module under test), so a
parser that agrees with these bytes agrees with the standard, not with itself.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

NON_SYNC = 0x10000  # sample_is_non_sync_sample


def box(kind: str, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind.encode("latin-1")) + payload


def full(kind: str, version: int, flags: int, payload: bytes = b"") -> bytes:
    return box(kind, struct.pack(">I", version << 24 | flags) + payload)


def ftyp() -> bytes:
    return box("ftyp", b"iso6" + struct.pack(">I", 512) + b"iso6mp41")


def mvhd(timescale: int = 1000, next_track_id: int = 2) -> bytes:
    body = struct.pack(">IIII", 0, 0, timescale, 0) + struct.pack(">IH", 0x10000, 0x100) + bytes(10)
    body += bytes(36) + bytes(24) + struct.pack(">I", next_track_id)
    return full("mvhd", 0, 0, body)


def tkhd(track_id: int, version: int = 0) -> bytes:
    times = struct.pack(">QQ", 0, 0) if version else struct.pack(">II", 0, 0)
    rest = struct.pack(">II", 0, 0) if not version else struct.pack(">IQ", 0, 0)
    return full("tkhd", version, 3, times + struct.pack(">I", track_id) + rest + bytes(60))


def mdhd(timescale: int, version: int = 0) -> bytes:
    times = struct.pack(">QQ", 0, 0) if version else struct.pack(">II", 0, 0)
    duration = struct.pack(">Q", 0) if version else struct.pack(">I", 0)
    return full("mdhd", version, 0, times + struct.pack(">I", timescale) + duration + struct.pack(">HH", 0x55C4, 0))


def hdlr(handler: str) -> bytes:
    return full("hdlr", 0, 0, struct.pack(">I", 0) + handler.encode() + bytes(12) + b"h\x00")


def video_entry(width: int, height: int, kind: str = "avc1") -> bytes:
    body = bytes(6) + struct.pack(">H", 1) + bytes(16) + struct.pack(">HH", width, height) + bytes(50)
    return box(kind, body)


def audio_entry(channels: int, rate: int, kind: str = "mp4a") -> bytes:
    body = bytes(6) + struct.pack(">H", 1) + bytes(8) + struct.pack(">HHHHI", channels, 16, 0, 0, rate << 16)
    return box(kind, body)


def elst(media_time: int, version: int = 0, duration: int = 0) -> bytes:
    if version:
        return full("elst", 1, 0, struct.pack(">IQqHH", 1, duration, media_time, 1, 0))
    return full("elst", 0, 0, struct.pack(">IIiHH", 1, duration, media_time, 1, 0))


def trak(track_id: int, handler: str, timescale: int, entry: bytes, edit: bytes | None = None,
         header_version: int = 0) -> bytes:  # fmt: skip
    stsd = full("stsd", 0, 0, struct.pack(">I", 1) + entry)
    stbl = box("stbl", stsd + full("stts", 0, 0, bytes(4)) + full("stsz", 0, 0, bytes(8)))
    mdia = box("mdia", mdhd(timescale, header_version) + hdlr(handler) + box("minf", stbl))
    edts = box("edts", edit) if edit is not None else b""
    return box("trak", tkhd(track_id, header_version) + edts + mdia)


def trex(track_id: int, duration: int = 0, size: int = 0, flags: int = 0) -> bytes:
    return full("trex", 0, 0, struct.pack(">IIIII", track_id, 1, duration, size, flags))


def init(traks: list[bytes], trexes: list[bytes], timescale: int = 1000) -> bytes:
    moov = box("moov", mvhd(timescale, 1 + len(traks)) + b"".join(traks) + box("mvex", b"".join(trexes)))
    return ftyp() + moov


def video_init(track_id: int = 1, timescale: int = 90000, width: int = 320, height: int = 240,
               edit: bytes | None = None) -> bytes:  # fmt: skip
    return init([trak(track_id, "vide", timescale, video_entry(width, height), edit)], [trex(track_id)])


def audio_init(
    track_ids: tuple[int, ...] = (1,), rate: int = 48000, channels: int = 2, media_time: int = 1024
) -> bytes:
    traks = [trak(t, "soun", rate, audio_entry(channels, rate), elst(media_time)) for t in track_ids]
    return init(traks, [trex(t) for t in track_ids])


@dataclass(frozen=True)
class Sample:
    duration: int
    size: int
    cts: int = 0
    sync: bool = True

    @property
    def flags(self) -> int:
        return 0 if self.sync else NON_SYNC


PER_SAMPLE = {"duration": 0x100, "size": 0x200, "flags": 0x400, "cts": 0x800}


def trun(samples: list[Sample], version: int = 0, fields: tuple[str, ...] = ("duration", "size", "flags", "cts"),
         data_offset: int | None = 0, first_flags: int | None = None) -> bytes:  # fmt: skip
    flags = (
        sum(PER_SAMPLE[f] for f in fields)
        | (0x1 if data_offset is not None else 0)
        | (0x4 if first_flags is not None else 0)
    )
    body = struct.pack(">I", len(samples))
    body += struct.pack(">i", data_offset) if data_offset is not None else b""
    body += struct.pack(">I", first_flags) if first_flags is not None else b""
    for s in samples:
        for name in fields:
            value = getattr(s, name)
            body += struct.pack(">i" if name == "cts" and version else ">I", value)
    return full("trun", version, flags, body)


def tfhd(track_id: int, duration: int | None = None, size: int | None = None, flags: int | None = None,
         base_offset: int | None = None, base_is_moof: bool = True) -> bytes:  # fmt: skip
    bits, body = 0x20000 if base_is_moof else 0, b""  # default-base-is-moof
    if base_offset is not None:
        bits, body = bits | 0x1, body + struct.pack(">Q", base_offset)
    for bit, value in ((0x8, duration), (0x10, size), (0x20, flags)):
        if value is not None:
            bits, body = bits | bit, body + struct.pack(">I", value)
    return full("tfhd", 0, bits, struct.pack(">I", track_id) + body)


def tfdt(decode_time: int, version: int = 1) -> bytes:
    return full("tfdt", version, 0, struct.pack(">Q" if version else ">I", decode_time))


def traf(track_id: int, decode_time: int, samples: list[Sample], version: int = 0, tfdt_version: int = 1) -> bytes:
    return box("traf", tfhd(track_id) + tfdt(decode_time, tfdt_version) + trun(samples, version))


def fragment(sequence: int, trafs: list[bytes], payload: int | None = None) -> bytes:
    """moof + mdat; the mdat holds `payload` bytes (default: a recognisable pattern of 16 bytes)."""
    moof = box("moof", full("mfhd", 0, 0, struct.pack(">I", sequence)) + b"".join(trafs))
    data = bytes((sequence + i) % 256 for i in range(16 if payload is None else payload))
    return moof + box("mdat", data)


def video_fragment(sequence: int, decode_time: int, samples: list[Sample], track_id: int = 1) -> bytes:
    return fragment(sequence, [traf(track_id, decode_time, samples)], sum(s.size for s in samples))


def gop(count: int, duration: int = 3000, delay: int = 6000, size: int = 10) -> list[Sample]:
    """`count` samples, IDR first, each with composition offset `delay` (a constant reorder delay)."""
    return [Sample(duration, size, delay, i == 0) for i in range(count)]
