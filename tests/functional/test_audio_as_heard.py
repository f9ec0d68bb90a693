"""Audio as a player hears it: the output presents the source's audio to the millisecond, from the same
instant against the video, and its headers (edit lists, tkhd, mvhd, mehd) state what its samples present.

"Heard" is measured with the tests' own ffprobe and box parser, not the code under test: the decoded audio
frames (priming already skipped by the demuxer/decoder, the last frame no longer than its packet), starting at
the first frame's timestamp against the first video frame's, and ending no later than the audio track's
edit list ends (where the container has one: AAC's padding is decoded but not presented).

Tolerance: 1 ms plus two ticks of the source's audio time base: Matroska and WebM store milliseconds, so
the source's own start and end are each known to 1 ms only (one tick of 1/44100 s for MP4); output edit
lengths are rounded to the 1 ms movie tick (0.5 ms at most).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.ffmpeg import run_ffmpeg
from tests.probe import ffprobe

VIDEO_S = 2.0
H264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"]
VP8 = ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k", "-g", "25"]
# kind: (container, video args, audio args, sample rate, audio seconds); lengths are not multiples of a frame
SOURCES: dict[str, tuple[str, list[str], list[str], int, float]] = {
    "mp3_mp4": (".mp4", H264, ["-c:a", "libmp3lame", "-b:a", "128k"], 44100, 1.97),
    "mp3_mkv": (".mkv", H264, ["-c:a", "libmp3lame", "-b:a", "128k"], 48000, 2.0),
    "mp3_avi": (".avi", H264, ["-c:a", "libmp3lame", "-b:a", "128k"], 48000, 1.9),
    "aac_mp4_short": (".mp4", H264, ["-c:a", "aac", "-b:a", "96k"], 44100, 1.7),
    "aac_mp4_long": (".mp4", H264, ["-c:a", "aac", "-b:a", "96k"], 48000, 2.31),
    "aac_mkv": (".mkv", H264, ["-c:a", "aac", "-b:a", "96k"], 48000, 1.93),
    "vorbis_ogg": (".ogg", VP8, ["-c:a", "vorbis", "-strict", "-2", "-ac", "2"], 44100, 1.95),
    "opus_webm": (".webm", VP8, ["-c:a", "libopus", "-b:a", "64k"], 48000, 1.83),
    "ac3_mkv": (".mkv", H264, ["-c:a", "ac3", "-b:a", "192k"], 48000, 1.9),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    folder, made = tmp_path_factory.mktemp("heard"), {}

    def get(kind: str) -> Path:
        if kind not in made:
            ext, video, audio, rate, seconds = SOURCES[kind]
            path = folder / f"{kind}{ext}"
            run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size=160x120:rate=25:duration={VIDEO_S}", "-f", "lavfi",
                        "-i", f"sine=frequency=440:sample_rate={rate}:duration={seconds}", *video, *audio,
                        "-pix_fmt", "yuv420p", str(path)], timeout=120)  # fmt: skip
            made[kind] = path
        return made[kind]

    return get


def _boxes(data: bytes, start: int, end: int):
    while start + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, start)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, start + 8)[0], 16
        elif size == 0:
            size = end - start
        yield kind.decode("latin-1"), start + header, start + size
        start += size


def _find(data: bytes, path: list[str], start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    found = []
    for kind, body, stop in _boxes(data, start, len(data) if end is None else end):
        if kind == path[0]:
            found += _find(data, path[1:], body, stop) if path[1:] else [(body, stop)]
    return found


def _duration(data: bytes, body: int, v0: int, v1: int) -> int:
    return struct.unpack_from(">Q" if data[body] else ">I", data, body + (v1 if data[body] else v0))[0]


def mp4_headers(path: Path) -> dict:
    """Seconds each header states: mvhd, mehd, and per track (video, then audio) its tkhd and its edit list
    as (empty delay, presented duration)."""
    data = path.read_bytes()
    ((mvhd, _),) = _find(data, ["moov", "mvhd"])
    scale = struct.unpack_from(">I", data, mvhd + (20 if data[mvhd] else 12))[0]
    out: dict = {"mvhd": _duration(data, mvhd, 16, 24) / scale, "tracks": {}}
    for body, _ in _find(data, ["moov", "mvex", "mehd"]):
        out["mehd"] = _duration(data, body, 4, 4) / scale
    for trak, stop in _find(data, ["moov", "trak"]):
        ((hdlr, _),) = _find(data, ["mdia", "hdlr"], trak, stop)
        ((tkhd, _),) = _find(data, ["tkhd"], trak, stop)
        handler = data[hdlr + 8 : hdlr + 12].decode()
        delay, shown = 0.0, 0.0
        for elst, _ in _find(data, ["edts", "elst"], trak, stop):
            version, count = data[elst], struct.unpack_from(">I", data, elst + 4)[0]
            for n in range(count):
                d, media = struct.unpack_from(">Qq" if version else ">Ii", data, elst + 8 + n * (20 if version else 12))
                if media == -1:
                    delay += d / scale
                else:
                    shown = d / scale
                    break
        out["tracks"][handler] = {"tkhd": _duration(data, tkhd, 20, 28) / scale, "delay": delay, "edit": shown}
    return out


def heard(path: Path) -> dict:
    """The first video frame, and the audio as decoded then as presented (see the module docstring)."""
    data = ffprobe("-show_entries", "frame=media_type,best_effort_timestamp_time,nb_samples,duration_time",
                   "-show_entries", "stream=codec_type,sample_rate,time_base,duration", str(path))  # fmt: skip
    video = [f for f in data["frames"] if f["media_type"] == "video"]
    audio = [f for f in data["frames"] if f["media_type"] == "audio"]
    stream = next(s for s in data["streams"] if s["codec_type"] == "audio")
    rate = int(stream["sample_rate"])
    num, den = map(int, stream["time_base"].split("/"))
    v0, a0 = float(video[0]["best_effort_timestamp_time"]), float(audio[0]["best_effort_timestamp_time"])
    decoded = sum(int(f["nb_samples"]) for f in audio) / rate
    last = audio[-1]  # only the last frame carries padding (Matroska rounds every packet's duration to 1 ms)
    length = decoded - int(last["nb_samples"]) / rate
    length += min(int(last["nb_samples"]) / rate, float(last.get("duration_time", "inf")))
    v_end = float(video[-1]["best_effort_timestamp_time"]) + float(video[-1].get("duration_time", 0))
    facts = {"start": a0 - v0, "length": length, "decoded": decoded, "frame": int(audio[1]["nb_samples"]) / rate,
             "tick": num / den, "video": v_end - v0}  # fmt: skip
    if path.suffix == ".mp4":
        edit = mp4_headers(path)["tracks"]["soun"]
        if edit["edit"]:  # the edit list ends the presentation
            facts["length"] = min(facts["length"], edit["edit"] - max(facts["start"] - edit["delay"], 0.0))
    return facts


def transcode(src: Path, out: Path, *extra: str) -> dict:
    report = out.with_suffix(".json")
    code = main(["transcode", str(src), "-o", str(out), "--segment-seconds", "0.8", "--preset", "ultrafast",
                 "--report", str(report), "--quiet", *extra])  # fmt: skip
    verdict = json.loads(report.read_text()) if report.exists() else {}
    assert code == 0, verdict.get("verification")
    return verdict


def assert_heard_as_source(src: Path, out: Path) -> None:
    s, o = heard(src), heard(out)
    tolerance = 0.001 + 2 * s["tick"]
    expected_start = max(s["start"], 0.0)  # audio before the first video frame is cut there
    expected_len = s["length"] - max(-s["start"], 0.0)
    assert abs(o["start"] - expected_start) <= tolerance, ("start against the video", o["start"], expected_start)
    assert abs(o["length"] - expected_len) <= tolerance, ("presented length", o["length"], expected_len)


def assert_headers_state_what_decodes(src: Path, out: Path) -> None:
    """Each header within one audio frame of what decodes (the source's frame or the output's, whichever
    is longer: the edit hides the padding of the source's last frame that an encode carried along)."""
    h, o = mp4_headers(out), heard(out)
    frame = max(o["frame"], heard(src)["frame"])
    video, sound = h["tracks"]["vide"], h["tracks"]["soun"]
    tick = 0.001
    assert abs(video["edit"] - o["video"]) <= tick + 1e-6, ("video edit", video, o["video"])
    assert abs(video["tkhd"] - video["edit"]) <= tick + 1e-6, video
    # the audio's edit hides at most the last frame's padding, never shows more than decodes
    after_priming = o["decoded"] - max(sound["delay"] - o["start"], 0.0)
    assert -tick <= after_priming - sound["edit"] < frame + tick, ("audio edit", sound, o)
    assert abs(sound["tkhd"] - sound["delay"] - sound["edit"]) <= tick + 1e-6, sound
    longest = max(video["edit"], sound["delay"] + sound["edit"])
    assert abs(h["mehd"] - longest) <= tick + 1e-6 and abs(h["mvhd"] - longest) <= tick + 1e-6, (h, longest)


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SOURCES))
@pytest.mark.parametrize("mode", ["as-is", "re-encoded"])
def test_mp4_output_plays_the_source_audio_and_says_so(kind: str, mode: str, source, tmp_path: Path) -> None:
    src = source(kind)
    out = tmp_path / "out.mp4"
    verdict = transcode(src, out, *(["--audio-bitrate", "96k"] if mode == "re-encoded" else []))
    assert_heard_as_source(src, out)
    assert_headers_state_what_decodes(src, out)
    checks = {c["name"]: c["ok"] for c in verdict["verification"]["checks"]}
    assert checks.get("audio0_as_heard") and checks.get("headers_audio0") and checks.get("headers_movie"), checks


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["vorbis_ogg", "aac_mkv", "mp3_mp4"])
def test_matroska_output_plays_the_source_audio(kind: str, source, tmp_path: Path, request) -> None:
    if kind == "vorbis_ogg":  # found, not fixed here: the copied Vorbis' skipped first packet becomes 23 ms
        request.applymarker(pytest.mark.xfail(strict=True, reason="Vorbis copied into Matroska starts 40 ms early"))
    src = source(kind)
    out = tmp_path / "out.mkv"
    transcode(src, out)
    assert_heard_as_source(src, out)


def rendition_heard(folder: Path) -> tuple[float, float]:
    """A streaming audio rendition as a player appends it (init, then every segment): where its first
    decoded sample is presented and how long it plays (the last frame no longer than its sample)."""
    whole = folder / "whole.mp4"
    whole.write_bytes(b"".join(p.read_bytes() for p in [folder / "init.mp4", *sorted(folder.glob("*.m4s"))]))
    data = ffprobe("-show_entries", "frame=best_effort_timestamp_time,nb_samples,duration_time",
                   "-show_entries", "stream=sample_rate", str(whole))  # fmt: skip
    rate, frames = int(data["streams"][0]["sample_rate"]), data["frames"]
    last = frames[-1]
    length = sum(int(f["nb_samples"]) for f in frames[:-1]) / rate
    length += min(int(last["nb_samples"]) / rate, float(last.get("duration_time", "inf")))
    return float(frames[0]["best_effort_timestamp_time"]), length


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["aac_mp4_short", "mp3_mp4", "opus_webm", "aac_mp4_long"])
def test_streaming_audio_rendition_plays_the_source_audio(kind: str, source, tmp_path: Path) -> None:
    src = source(kind)
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    code = main(["transcode", str(src), "-o", str(out), "--format", "cmaf", "--ladder", "120", "--preset",
                 "ultrafast", "--segment-seconds", "0.8", "--report", str(report), "--quiet"])  # fmt: skip
    verdict = json.loads(report.read_text()) if report.exists() else {}
    assert code == 0, verdict.get("verification")
    s = heard(src)
    start, length = rendition_heard(out / "audio" / "a0-stereo")
    tolerance = 0.001 + 2 * s["tick"]
    assert abs(start - max(s["start"], 0.0)) <= tolerance, (start, s)
    assert abs(length - (s["length"] - max(-s["start"], 0.0))) <= tolerance, (length, s)
    checks = {c["name"]: c["ok"] for c in verdict["verification"]["checks"]}
    assert checks.get("a0-stereo_as_heard"), checks
