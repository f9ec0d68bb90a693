"""Input refusal rules and option validation."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from splitstitch.codecs import output_format
from splitstitch.errors import InputError, ToolError, UsageError
from splitstitch.inputs import Limits, check_file, check_frames, check_head, check_streams, looks_like_text
from splitstitch.settings import Settings
from tests.unit.factories import frames, media, video


@pytest.mark.parametrize(
    ("head", "text"),
    [(b"#EXTM3U\n#EXT-X-VERSION:3", True), (b"ffconcat version 1.0\nfile 'a.mp4'", True), (b"hello world\n" * 10, True),
     (b"\x00\x00\x00\x20ftypisom", False), (bytes(range(256)), False), (b"\x47\x40\x11\x10" * 50, False)],
)  # fmt: skip
def test_looks_like_text(head: bytes, text: bool) -> None:
    assert looks_like_text(head) is text


def test_check_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        check_file(tmp_path / "missing.mp4", Limits())
    with pytest.raises(InputError, match="is a folder, not a file"):
        check_file(tmp_path, Limits())
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="not a regular file"):
        check_file(tmp_path / "fifo", Limits())
    (tmp_path / "link.mp4").symlink_to(tmp_path / "gone.mp4")
    with pytest.raises(InputError, match="a symbolic link to a missing file"):
        check_file(tmp_path / "link.mp4", Limits())
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00" * 5000)
    assert check_file(clip, Limits()) == b"\x00" * 4096  # the first bytes, for the sniff


@pytest.mark.parametrize(
    ("size", "head", "message"),
    [(0, b"", "empty file"), (11, b"\x00" * 11, "11 bytes, over the limit of 10"),
     (10, b"#EXTM3U\n#EXT-X-VERSION:3\n", "looks like an HLS playlist"),
     (10, b"plain notes\n" * 3, "is text \\(100% printable")],
)  # fmt: skip
def test_check_head_refuses_empty_large_and_text_sources(size: int, head: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_head("in.mp4", size, head, Limits(max_bytes=10))


def test_check_head_accepts_media_bytes() -> None:
    check_head("in.mp4", 10, b"\x00\x00\x00\x20ftypisom" + bytes(range(256)), Limits(max_bytes=10))


def test_check_streams() -> None:
    with pytest.raises(InputError, match="playlist"):
        check_streams(media(fmt="hls"), Limits())
    with pytest.raises(InputError, match="audio only"):
        check_streams(replace(media(audios=()), video=None, audio=(object(),)), Limits())  # type: ignore[arg-type]
    # a short stream of an image codec may be a video (motion JPEG, PNG in MOV): its frames decide
    check_streams(replace(media(video_info=video(codec="png")), duration=0.04), Limits())
    with pytest.raises(InputError, match="over the limit of 100x100"):
        check_streams(media(), Limits(max_width=100, max_height=100))
    with pytest.raises(InputError, match="its header gives a duration of 10 s, over"):
        check_streams(media(), Limits(max_duration_s=5))
    check_streams(media(), Limits())


def test_check_frames() -> None:
    with pytest.raises(InputError, match="one frame"):
        check_frames(media(frame_index=frames(count=1)), Limits())
    with pytest.raises(InputError, match="truncated"):
        check_frames(replace(media(), scan_errors="stream 1, offset 0x1: partial file"), Limits())
    with pytest.raises(InputError, match="truncated: 300 of the 400"):
        check_frames(media(video_info=video(declared_frames=400)), Limits())
    check_frames(media(video_info=video(declared_frames=300)), Limits())


def test_input_error_is_one_line() -> None:
    assert str(InputError("/a b.mp4", "empty file")) == "/a b.mp4: empty file"


def test_tool_error_keeps_argv_and_tail_but_prints_one_line() -> None:
    err = ToolError(["/bin/ffmpeg", "-i", "x"], 1, "line one\nInvalid data found\n")
    assert str(err) == "ffmpeg exit 1: Invalid data found"
    assert err.argv == ["/bin/ffmpeg", "-i", "x"] and "line one" in err.stderr_tail


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"codec": "mpeg1"}, "unknown codec"), ({"preset": "turbo"}, "unknown preset"), ({"crf": 99}, "crf"),
     ({"height": 4}, "height"), ({"segment_seconds": 0}, "segment"), ({"verify": "some"}, "unknown verification")],
)  # fmt: skip
def test_settings_reject_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        Settings(**kwargs)


def test_audio_track_selection() -> None:
    assert Settings().audio_track_numbers(2) == [0]
    assert Settings(audio_tracks="all").audio_track_numbers(3) == [0, 1, 2]
    assert Settings(audio_tracks="1,0").audio_track_numbers(2) == [1, 0]
    assert Settings(audio_tracks="none").audio_track_numbers(2) == []
    assert Settings().audio_track_numbers(0) == []
    with pytest.raises(UsageError, match="does not exist"):
        Settings(audio_tracks="2").audio_track_numbers(2)


def test_output_container_follows_extension_and_codec() -> None:
    assert output_format("h264", Path("a.mp4")).muxer == "mp4"
    assert output_format("vp9", Path("a")).extension == ".webm"
    assert output_format("av1", Path("a.mkv")).audio_codec == "opus"
    with pytest.raises(UsageError, match="cannot hold h264"):
        output_format("h264", Path("a.webm"))
    with pytest.raises(UsageError, match="unknown output extension"):
        output_format("h264", Path("a.avi"))


def test_settings_round_trip_and_refuse_bad_values_from_a_dict() -> None:
    settings = Settings(codec="vp9", crf=30, height=720, segment_seconds=2.5, verify="full")
    assert Settings.from_dict({**settings.to_dict(), "unknown": 1}) == settings
    with pytest.raises(UsageError, match="out of range"):
        Settings.from_dict({"crf": 99})
