"""Each refusal says what was found, and only that: the sniff names its marker, a refused format says what
the format is, an ffprobe failure quotes ffprobe."""

from __future__ import annotations

from pathlib import Path

import pytest

from splitstitch import inputs, pipeline
from splitstitch.cli import main
from splitstitch.errors import InputError, ToolError
from splitstitch.inputs import Limits, check_streams, open_source, sniff
from splitstitch.source import MediaSource
from tests.unit.factories import media


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"#EXTM3U\n#EXT-X-VERSION:3\n", "looks like an HLS playlist ('#EXTM3U' in its first 512 bytes)"),
        (b"ffconcat version 1.0\nfile 'a.mp4'\n", "looks like an ffconcat script ('ffconcat' in its first 512 bytes)"),
        (b"\x00\x01" * 20 + b"file 'a.mp4'", "looks like an ffconcat script (\"file '\" in its first 512 bytes)"),
        (b"<?xml version='1.0'?><svg/>", "looks like an XML document ('<?xml' in its first 512 bytes)"),
        (b"just notes\n" * 10, "is text (100% printable UTF-8 in its first 110 bytes)"),
        # a multi-byte character cut off by the sniff window is still text
        ("caf\u00e9 ".encode() * 682 + b"abc" + "\u00e9".encode()[:1], "is text (100% printable UTF-8 in its first 4096 bytes)"),
        (b"\x00\x00\x00\x20ftypisom" + bytes(100), None),
        ("caf\u00e9\n".encode("latin-1") * 50, None),  # not UTF-8: ffprobe's format decides (subtitles, say)
        (b"\x47\x1f\xff\x10" + b"\xff" * 184, None),  # MPEG-TS null packet
        (b"", None),
    ],
)  # fmt: skip
def test_sniff_says_what_it_found(head: bytes, reason: str | None) -> None:
    assert sniff(head) == reason


@pytest.mark.parametrize(
    ("fmt", "what"),
    [("hls", "an HLS playlist"), ("concat", "an ffconcat script"), ("image2", "an image file or numbered image "
     "sequence"), ("srt", "subtitles or lyrics"), ("tty", "text")],
)  # fmt: skip
def test_a_refused_format_is_named_for_what_it_is(fmt: str, what: str) -> None:
    with pytest.raises(InputError) as caught:
        check_streams(media(fmt=fmt), Limits())
    assert caught.value.reason == f"ffprobe reads it as '{fmt}' ({what}), not a video file (refused)"


def _failing_probe(error: ToolError):
    def probe(source: object) -> None:
        raise error

    return probe


def test_an_ffprobe_failure_is_quoted_not_interpreted(monkeypatch, tmp_path: Path) -> None:
    source = tmp_path / "x.mp4"
    source.write_bytes(bytes(range(256)) * 4)
    said = f"[mov,mp4 @ 0x55d0] moov atom not found\n{MediaSource.local(source).url}: Invalid data found when processing input\n"
    monkeypatch.setattr(inputs, "probe_streams", _failing_probe(ToolError(["ffprobe"], 1, said)))
    with pytest.raises(InputError) as caught:
        open_source(MediaSource.local(source))
    assert caught.value.reason == "ffprobe cannot read it: Invalid data found when processing input"
    monkeypatch.setattr(inputs, "probe_streams", _failing_probe(ToolError(["ffprobe"], 1, "")))
    with pytest.raises(InputError, match="ffprobe cannot read it: exit status 1, no message"):
        open_source(MediaSource.local(source))


def test_an_ffprobe_timeout_is_not_blamed_on_the_file(monkeypatch, tmp_path: Path) -> None:
    source = tmp_path / "x.mp4"
    source.write_bytes(bytes(range(256)) * 4)
    monkeypatch.setattr(inputs, "probe_streams", _failing_probe(ToolError(["ffprobe"], None, "", timed_out=True)))
    with pytest.raises(ToolError, match="ffprobe timed out"):
        open_source(MediaSource.local(source))


def test_a_file_that_cannot_be_read_says_so(monkeypatch, tmp_path: Path) -> None:
    source = tmp_path / "x.mp4"
    source.write_bytes(b"\x00" * 10)

    def denied(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", denied)
    with pytest.raises(InputError) as caught:
        open_source(MediaSource.local(source))
    assert caught.value.reason == "cannot be read: Permission denied"


@pytest.mark.parametrize(
    ("error", "line"),
    [(OSError(28, "No space left on device"), "error: No space left on device\n"),
     (PermissionError(13, "Permission denied", "/out/o.mp4"), "error: /out/o.mp4: Permission denied\n")],
)  # fmt: skip
def test_an_os_error_names_a_file_only_when_there_is_one(error: OSError, line: str, monkeypatch, capsys) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(pipeline, "transcode", fail)
    assert main(["transcode", "in.mp4", "-o", "o.mp4", "--quiet"]) == 1
    assert capsys.readouterr().err == line
