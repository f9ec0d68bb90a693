"""Bad input: exit 2, one `error: <file>: <what>` line, no traceback, nothing at OUT, source untouched."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splitstitch.binaries import binaries


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "splitstitch.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)  # fmt: skip


def ffmpeg(*args: str) -> None:
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y", *args], check=True, timeout=120)


def make_bad(kind: str, folder: Path, samples) -> Path:
    if kind == "missing":
        return folder / "nope.mp4"
    path = folder / {"still_image": "still.jpg", "audio_only": "song.m4a", "cover_art": "cover.m4a",
                     "hls": "list.m3u8", "ffconcat": "list.ffconcat", "hls_as_mp4": "video.mp4",
                     "latin1_subtitles": "subs.mp4"}.get(kind, f"{kind}.mp4")  # fmt: skip
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("just some notes, not a video\n" * 20)
    elif kind == "random":
        path.write_bytes(os.urandom(64 * 1024))
    elif kind == "truncated":
        faststart = folder / "fs.mp4"  # index first, so half the file still has the whole index
        ffmpeg("-i", str(samples("cfr")), "-c", "copy", "-movflags", "+faststart", str(faststart))
        data = faststart.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "still_image":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", str(path))
    elif kind == "one_frame":
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", "-c:v", "libx264", str(path))
    elif kind in ("audio_only", "cover_art"):
        ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-c:a", "aac", str(folder / "tone.m4a"))
        cover = ["-i", str(make_bad("still_image", folder, samples)), "-map", "1", "-disposition:v", "attached_pic"]
        ffmpeg("-i", str(folder / "tone.m4a"), *(cover if kind == "cover_art" else []), "-map", "0", "-c", "copy",
               str(path))  # fmt: skip
    elif kind in ("hls", "hls_as_mp4"):
        path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{samples('cfr')}\n#EXT-X-ENDLIST\n")
    elif kind == "ffconcat":
        path.write_text(f"ffconcat version 1.0\nfile '{samples('cfr')}'\n")
    elif kind == "latin1_subtitles":  # not UTF-8, so the text sniff lets it through to ffprobe
        path.write_bytes("1\n00:00:01,000 --> 00:00:02,000\nCaf\u00e9 cr\u00e8me\n\n".encode("latin-1") * 5)
    elif kind == "no_video_frames":  # a video stream whose every packet was dropped
        ffmpeg("-i", str(samples("cfr")), "-c", "copy", "-bsf:v", "noise=drop=1", "-f", "matroska", str(path))
    return path


# kind -> the whole reason the CLI gives, after `error: <file>: ` (a regular expression)
REASONS = {
    "missing": r"no such file",
    "folder": r"is a folder, not a file",
    "empty": r"empty file",
    "text": r"is text \(100% printable UTF-8 in its first 580 bytes\), not a video file \(refused\)",
    "random": r"ffprobe cannot read it: Invalid data found when processing input",
    "truncated": r"truncated: .+",  # the wording is check_frames'; the test below checks the claim
    "still_image": r"ffprobe reads it as 'image2' \(an image file or numbered image sequence\), not a video file "
                   r"\(refused\)",
    "one_frame": r"is a still image \(one frame\), not a video",
    "audio_only": r"audio only: no video stream other than cover art",
    "cover_art": r"audio only: no video stream other than cover art",
    # the text sniff: ffprobe never sees these
    "hls": r"looks like an HLS playlist \('#EXTM3U' in its first 512 bytes\), not a video file \(refused\)",
    "hls_as_mp4": r"looks like an HLS playlist \('#EXTM3U' in its first 512 bytes\), not a video file \(refused\)",
    "ffconcat": r"looks like an ffconcat script \('ffconcat' in its first 512 bytes\), not a video file \(refused\)",
    # the probed-format check
    "latin1_subtitles": r"ffprobe reads it as 'srt' \(subtitles or lyrics\), not a video file \(refused\)",
    "no_video_frames": r"no decodable video frames: the video stream holds no packets",
}  # fmt: skip


def refuse(source: Path, tmp_path: Path) -> str:
    """Run the CLI on a bad source: exit 2, one line, no traceback, nothing written, source untouched.
    Returns the reason given."""
    before = source.read_bytes() if source.is_file() else None
    out = tmp_path / "out" / "o.mp4"
    out.parent.mkdir()
    proc = cli("transcode", str(source), "-o", str(out), "--quiet")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {source}: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(out.parent.iterdir()) == []
    assert (source.read_bytes() if source.is_file() else None) == before
    return lines[0].removeprefix(f"error: {source}: ")


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_bad_input_is_refused_with_its_reason(kind: str, samples, tmp_path: Path) -> None:
    source = make_bad(kind, tmp_path, samples)
    reason = refuse(source, tmp_path)
    assert re.fullmatch(REASONS[kind], reason), reason


# The stated reason is true: each claim about the file, checked without the code under test.


def ffprobe_json(path: Path, *args: str) -> dict:
    proc = subprocess.run([binaries().ffprobe, "-v", "error", *args, "-of", "json", str(path)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    return json.loads(proc.stdout or "{}")


def decoded_video_frames(path: Path) -> tuple[int, int]:
    """(frames a plain `ffmpeg -i` decode outputs from the first video stream, its exit status)."""
    proc = subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v:0?", "-f",
                           "framemd5", "-"], capture_output=True, text=True, timeout=120)  # fmt: skip
    return sum(1 for line in proc.stdout.splitlines() if line and not line.startswith("#")), proc.returncode


def test_unreadable_really_fails_an_independent_decode(samples, tmp_path: Path) -> None:
    source = make_bad("random", tmp_path, samples)
    assert refuse(source, tmp_path).startswith("ffprobe cannot read it: ")
    frames, status = decoded_video_frames(source)
    assert frames == 0 and status != 0
    said = subprocess.run([binaries().ffprobe, "-v", "error", str(source)], capture_output=True, text=True).stderr
    assert "Invalid data found when processing input" in said  # the words quoted are ffprobe's own


def test_no_decodable_frames_really_has_none(samples, tmp_path: Path) -> None:
    source = make_bad("no_video_frames", tmp_path, samples)
    assert refuse(source, tmp_path) == "no decodable video frames: the video stream holds no packets"
    streams = ffprobe_json(source, "-show_entries", "stream=codec_type")["streams"]
    assert any(s["codec_type"] == "video" for s in streams)  # there is a video stream...
    assert decoded_video_frames(source)[0] == 0  # ...and a decoder gets no frame out of it


def test_a_still_image_really_is_one_frame(samples, tmp_path: Path) -> None:
    for kind in ("still_image", "one_frame"):
        folder = tmp_path / kind
        folder.mkdir()
        source = make_bad(kind, folder, samples)
        assert re.fullmatch(REASONS[kind], refuse(source, folder))
        assert decoded_video_frames(source) == (1, 0)
    assert (
        ffprobe_json(tmp_path / "still_image" / "still.jpg", "-show_entries", "format=format_name")["format"][
            "format_name"
        ]
        == "image2"
    )


def test_truncated_really_is_shorter_than_its_own_index(samples, tmp_path: Path) -> None:
    source = make_bad("truncated", tmp_path, samples)
    assert refuse(source, tmp_path).startswith("truncated: ")

    def index_and_read(path: Path) -> tuple[int, int]:
        stream = ffprobe_json(path, "-select_streams", "v:0", "-count_packets", "-show_entries",
                              "stream=nb_frames,nb_read_packets")["streams"][0]  # fmt: skip
        return int(stream["nb_frames"]), int(stream["nb_read_packets"])

    listed, present = index_and_read(source)
    assert present < listed, (present, listed)
    assert len(set(index_and_read(tmp_path / "fs.mp4"))) == 1  # the whole file holds what its index lists


def test_audio_only_really_has_no_video_stream(samples, tmp_path: Path) -> None:
    for kind in ("audio_only", "cover_art"):
        folder = tmp_path / kind
        folder.mkdir()
        source = make_bad(kind, folder, samples)
        assert refuse(source, folder) == "audio only: no video stream other than cover art"
        streams = ffprobe_json(source, "-show_entries", "stream=codec_type:stream_disposition=attached_pic")["streams"]
        assert any(s["codec_type"] == "audio" for s in streams)
        video = [s for s in streams if s["codec_type"] == "video"]
        assert all(s["disposition"]["attached_pic"] == 1 for s in video)
        assert len(video) == (1 if kind == "cover_art" else 0)


def test_a_short_image_codec_video_is_not_called_a_still_image(tmp_path: Path) -> None:
    source, out = tmp_path / "mjpeg.avi", tmp_path / "o.mp4"  # 8 frames of motion JPEG: 0.32 s of video
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", "8", "-c:v", "mjpeg", str(source))
    assert decoded_video_frames(source) == (8, 0)
    proc = cli("transcode", str(source), "-o", str(out), "--preset", "ultrafast", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert decoded_video_frames(out) == (8, 0)


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [("--max-height", "200", r"(\d+)x(\d+) is over the limit of 8192x200"),
     ("--max-width", "300", r"(\d+)x(\d+) is over the limit of 300x8192"),
     ("--max-duration", "2", r"its header gives a duration of (\d+) s, over the limit of 2 s")],
)  # fmt: skip
def test_limits_are_configurable_and_enforced(option: str, value: str, reason: str, samples, tmp_path: Path) -> None:
    source, out = samples("cfr"), tmp_path / "o.mp4"
    proc = cli("transcode", str(source), "-o", str(out), option, value, "--quiet")
    assert proc.returncode == 2
    found = re.fullmatch(f"error: {re.escape(str(source))}: {reason}", proc.stderr.strip())
    assert found, proc.stderr
    probed = ffprobe_json(source, "-show_entries", "stream=width,height:format=duration")
    if option == "--max-duration":  # the figures quoted are the file's
        assert int(found.group(1)) == round(float(probed["format"]["duration"]))
    else:
        video = next(s for s in probed["streams"] if "width" in s)
        assert (int(found.group(1)), int(found.group(2))) == (video["width"], video["height"])
    assert not out.exists()


def test_playlist_content_never_reaches_any_output(samples, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    marker = "TOP-SECRET-7f3a9c"
    secret.write_text(marker * 100)
    work = tmp_path / "work"
    work.mkdir()
    for name in ("list.m3u8", "video.mp4"):
        playlist = tmp_path / name
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n{secret}\n#EXT-X-ENDLIST\n")
        out = tmp_path / f"out-{name}.mp4"
        proc = cli("transcode", str(playlist), "-o", str(out), "--work-dir", str(work), "--report",
                   str(tmp_path / "r.json"), "--quiet")  # fmt: skip
        assert proc.returncode == 2
        assert re.fullmatch(f"error: {re.escape(str(playlist))}: {REASONS['hls']}\n", proc.stderr)  # by the sniff
        assert marker not in proc.stdout + proc.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != secret]
    assert all(marker.encode() not in p.read_bytes() for p in written)


@pytest.mark.parametrize("name", ["with space.mp4", 'it\'s "quoted".mp4', "$(touch pwned).mp4", "vidéo-日本.mp4"])
def test_awkward_file_names(name: str, samples, tmp_path: Path) -> None:
    source = tmp_path / name
    source.write_bytes(samples("cfr").read_bytes())
    out = tmp_path / f"out {name}"
    proc = cli("transcode", str(source), "-o", str(out), "--preset", "ultrafast", "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
    assert not (tmp_path / "pwned").exists()


def test_ctrl_c_removes_temporary_files(samples, tmp_path: Path) -> None:
    work, out = tmp_path / "work", tmp_path / "o.mp4"
    work.mkdir()
    source = samples("long_gop")
    proc = subprocess.Popen([sys.executable, "-m", "splitstitch.cli", "transcode", str(source), "-o", str(out),
                             "--work-dir", str(work), "--preset", "veryslow", "--segment-seconds", "1", "--quiet"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(work.glob("*/encoded_*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[-1] == "error: interrupted; temporary files removed"  # checked below
    assert list(work.iterdir()) == []
    assert [p.name for p in tmp_path.iterdir() if p.name not in ("work",)] == []
