"""Generate sources whose audio packets do not line up with codec frames, with an A/V offset.

- AVI as DivX-era tools wrote it: MPEG-4 ASP with packed B-frames, and CBR AC-3 or MP3 stored as a byte
  stream (`dwSampleSize` 1, timestamps count bytes), cut into chunks of one video frame's worth of bytes,
  the first one shorter, so no chunk starts on an audio frame. ffmpeg's own AVI muxer writes one audio
  frame per chunk, so the chunks are re-cut here. The A/V offset is the stream header's `dwStart` (the
  video's when audio starts first, the audio's when it starts later), which the AVI demuxer applies.
- MPEG-PS (MPEG-2 + MP2): PES packets carry audio frames that straddle them; the offset is `-itsoffset`.
"""

from __future__ import annotations

import itertools
import struct
import tempfile
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.samples_packed import make_packed_bframes_avi

AUDIO_CODECS = {"ac3": ["-c:a", "ac3", "-b:a", "192k"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"]}
FIRST_CHUNK = 729  # bytes in the first audio chunk, as in a real AC-3 AVI (its frames are 768 bytes)


def _chunks(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """RIFF chunks between two offsets: (tag, offset of the header, payload size)."""
    found = []
    while start + 8 <= end:
        size = struct.unpack_from("<I", data, start + 4)[0]
        found.append((bytes(data[start : start + 4]), start, size))
        start += 8 + size + (size & 1)
    return found


def _chunk(tag: bytes, payload: bytes) -> bytes:
    return tag + struct.pack("<I", len(payload)) + payload + b"\0" * (len(payload) & 1)


def rechunk_avi_audio(
    source: Path, out: Path, *, first_chunk: int = FIRST_CHUNK, video_start: int = 0, audio_start_s: float = 0.0
) -> None:
    """Rewrite an ffmpeg-made AVI (stream 0 video, stream 1 CBR audio, idx1 index, no OpenDML index)
    with the audio as a byte stream in chunks that ignore frame boundaries.

    `video_start` is the video's `dwStart` in frames; `audio_start_s` the audio's, in seconds.
    """
    data = source.read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"AVI ":
        raise ValueError(f"{source}: not an AVI file")
    top = {
        (data[o + 8 : o + 12] if tag == b"LIST" else tag): (o, size) for tag, o, size in _chunks(data, 12, len(data))
    }
    h_off, h_size = top[b"hdrl"]
    hdrl = bytearray(data[h_off + 12 : h_off + 8 + h_size])
    strls = [(o, size) for tag, o, size in _chunks(hdrl, 0, len(hdrl)) if hdrl[o + 8 : o + 12] == b"strl"]
    heads = [{tag: o + 8 for tag, o, _ in _chunks(hdrl, o + 12, o + 8 + size)} for o, size in strls]
    v_strh, a_strh, a_strf = heads[0][b"strh"], heads[1][b"strh"], heads[1][b"strf"]
    if hdrl[v_strh : v_strh + 4] != b"vids" or hdrl[a_strh : a_strh + 4] != b"auds" or b"indx" in heads[1]:
        raise ValueError(f"{source}: expected video then audio, indexed by idx1 only")
    v_scale, v_rate = struct.unpack_from("<II", hdrl, v_strh + 20)
    byte_rate = struct.unpack_from("<I", hdrl, a_strf + 8)[0]

    m_off, m_size = top[b"movi"]
    movi = _chunks(data, m_off + 12, m_off + 8 + m_size)
    audio = b"".join(data[o + 8 : o + 8 + size] for tag, o, size in movi if tag == b"01wb")
    video = [data[o + 8 : o + 8 + size] for tag, o, size in movi if tag == b"00dc"]
    i_off, i_size = top[b"idx1"]
    old_index = data[i_off + 8 : i_off + 8 + i_size]
    key_flags = [struct.unpack_from("<I", old_index, i + 4)[0] for i in range(0, i_size, 16)
                 if old_index[i : i + 4] == b"00dc"]  # fmt: skip
    step = byte_rate * v_scale // v_rate  # one video frame's worth of audio bytes
    cuts = [0, first_chunk, *range(first_chunk + step, len(audio), step), len(audio)]
    pieces = [audio[a:b] for a, b in itertools.pairwise(cuts) if b > a]

    body, index = bytearray(), bytearray()

    def emit(tag: bytes, payload: bytes, flags: int) -> None:
        index.extend(tag + struct.pack("<III", flags, 4 + len(body), len(payload)))  # offsets from 'movi'
        body.extend(_chunk(tag, payload))

    sent = n = 0
    for k, frame in enumerate(video):
        emit(b"00dc", frame, key_flags[k])
        while n < len(pieces) and sent * v_rate < byte_rate * (k + 1) * v_scale:  # interleave by time
            emit(b"01wb", pieces[n], 0x10)
            sent, n = sent + len(pieces[n]), n + 1
    for piece in pieces[n:]:
        emit(b"01wb", piece, 0x10)

    struct.pack_into("<I", hdrl, v_strh + 28, video_start)  # dwStart (frames)
    # audio: dwScale 1, dwRate bytes/s, dwStart and dwLength in bytes, dwSuggestedBufferSize, dwSampleSize 1
    struct.pack_into("<IIIII", hdrl, a_strh + 20, 1, byte_rate, round(audio_start_s * byte_rate), len(audio),
                     max(map(len, pieces)))  # fmt: skip
    struct.pack_into("<I", hdrl, a_strh + 44, 1)
    struct.pack_into("<H", hdrl, a_strf + 12, 1)  # nBlockAlign 1: the demuxer requires it to equal dwSampleSize
    riff = b"AVI " + _chunk(b"LIST", b"hdrl" + hdrl) + _chunk(b"LIST", b"movi" + body) + _chunk(b"idx1", index)
    out.write_bytes(_chunk(b"RIFF", riff))


def make_avi_byte_audio(out: Path, codec: str, seconds: float = 4.0, offset_s: float = 0.0, fps: int = 25) -> Path:
    """Packed-B-frame MPEG-4 ASP + 48 kHz stereo CBR `codec` (ac3 or mp3) as a byte stream; the audio
    starts `offset_s` after the video's first frame's slot (negative: before it; whole video frames)."""
    with tempfile.TemporaryDirectory(prefix="byte_audio_") as tmp:
        packed, muxed = Path(tmp, "packed.avi"), Path(tmp, "muxed.avi")
        make_packed_bframes_avi(packed, seconds=seconds, fps=fps)
        tone = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
        run_ffmpeg(["-i", str(packed), *tone, "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-ac", "2",
                    *AUDIO_CODECS[codec], "-avoid_negative_ts", "disabled", str(muxed)], timeout=120)  # fmt: skip
        video_start = round(-offset_s * fps) if offset_s < 0 else 0
        rechunk_avi_audio(muxed, out, video_start=video_start, audio_start_s=max(offset_s, 0.0))
    return out


def make_ps_mp2(out: Path, seconds: float = 4.0, offset_s: float = 0.0) -> Path:
    """MPEG-2 + MP2 in MPEG-PS, the audio starting `offset_s` after the video (negative: before it)."""
    video = ["-f", "lavfi", "-i", f"testsrc2=size=352x288:rate=25:duration={seconds}"]
    audio = ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    v_offset = ["-itsoffset", f"{-offset_s:.6f}"] if offset_s < 0 else []
    a_offset = ["-itsoffset", f"{offset_s:.6f}"] if offset_s > 0 else []
    run_ffmpeg([*v_offset, *video, *a_offset, *audio, "-fps_mode", "passthrough", "-c:v", "mpeg2video", "-q:v", "4",
                "-bf", "2", "-g", "12", "-ac", "2", "-c:a", "mp2", "-b:a", "192k", "-f", "vob", str(out)], timeout=120)  # fmt: skip
    return out
