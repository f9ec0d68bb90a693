"""Bit depth, colour and HDR (issue 15, item 4): the pure plan, the argv it makes, the report's words."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from splitstitch import depth
from splitstitch.encode import encode_args
from splitstitch.errors import UsageError
from splitstitch.media import VideoInfo, parse_streams
from splitstitch.options import add_settings_arguments, settings_from_args
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.verify import depth_check
from tests.unit.factories import video
from tests.unit.test_commands import SEG, task

LOCAL = MediaSource("file:/in/s.mp4", "s.mp4", 1000)
PQ = {"color_primaries": "bt2020", "color_transfer": "smpte2084", "color_space": "bt2020nc", "color_range": "tv"}
HLG = {**PQ, "color_transfer": "arib-std-b67"}


@pytest.mark.parametrize(
    ("codec", "bits", "output_bits", "note"),
    [
        ("h265", 10, 10, None),
        ("vp9", 10, 10, None),
        ("av1", 10, 10, None),
        ("h265", 8, 8, None),
        ("h264", 8, 8, None),
        ("h264", 10, 8, "video reduced from 10-bit to 8-bit: h264 is encoded 8-bit for players"),
        ("h265", 12, 10, "video reduced from 12-bit to 10-bit: h265 output is at most 10-bit here"),
        ("av1", 12, 10, "video reduced from 12-bit to 10-bit: av1 output is at most 10-bit here"),
    ],
)
def test_the_output_keeps_what_the_codec_can(codec: str, bits: int, output_bits: int, note: str | None) -> None:
    planned = depth.plan_depth(Settings(codec=codec), video(bit_depth=bits))  # type: ignore[arg-type]
    assert (planned.output_bits, planned.pix_fmt, planned.note()) == (
        output_bits, {8: "yuv420p", 10: "yuv420p10le"}[output_bits], note)  # fmt: skip
    assert not planned.tonemap


@pytest.mark.parametrize("colour", [PQ, HLG])
def test_hdr_into_8_bit_is_refused_with_one_true_line(colour: dict) -> None:
    with pytest.raises(UsageError) as caught:
        depth.plan_depth(Settings(codec="h264"), video(bit_depth=10, **colour))
    name = {"smpte2084": "PQ", "arib-std-b67": "HLG"}[colour["color_transfer"]]
    assert str(caught.value) == (
        f"10-bit HDR ({name}) source: h264 output is 8-bit, which needs tone mapping; pass --tonemap to tone-map "
        "it to SDR, or keep HDR with --codec h265, vp9 or av1"
    )
    assert caught.value.exit_code == 2


def test_hdr_kept_where_the_depth_is_kept_and_tone_mapped_only_when_asked() -> None:
    for codec in ("h265", "vp9", "av1"):
        kept = depth.plan_depth(Settings(codec=codec), video(bit_depth=10, **PQ))  # type: ignore[arg-type]
        assert (kept.output_bits, kept.tonemap) == (10, False)
    mapped = depth.plan_depth(Settings(tonemap=True), video(bit_depth=10, **PQ))
    assert (mapped.output_bits, mapped.tonemap) == (8, True)
    assert mapped.note() == ("video reduced from 10-bit to 8-bit: h264 is encoded 8-bit for players; HDR "
                             "tone-mapped to BT.709 SDR (--tonemap)")  # fmt: skip
    # 8-bit HDR (rare) stays as it is in 8-bit h264: nothing to reduce, nothing to map
    assert depth.plan_depth(Settings(), video(bit_depth=8, **HLG)) == depth.Depth(8, 8)


FRAGMENTED = "+empty_moov+default_base_moof+frag_custom"


def test_argv_h265_from_a_10_bit_source_is_main_10() -> None:
    args = encode_args(task(settings=Settings(codec="h265", preset="ultrafast"), bit_depth=10, **PQ), LOCAL,
                       Path("/w/e.mp4"))  # fmt: skip
    assert args == [
        "-copyts", "-noaccurate_seek", "-noautorotate", "-protocol_whitelist", "file", "-ss", "0.999000",
        "-threads", "1", "-i", "file:/in/s.mp4",
        "-map", "0:0", "-f", "mp4", "-an", "-c:v", "libx265", "-crf", "28", "-dn", "-enc_time_base:v", "demux",
        "-fflags", "+bitexact", "-fps_mode", "passthrough", "-map_chapters", "-1", "-map_metadata", "-1",
        "-movflags", FRAGMENTED, "-pix_fmt", "yuv420p10le",
        "-preset", "ultrafast", "-sn", "-tag:v", "hvc1", "-threads", "1",
        "-vf", "trim=start_pts=180000:end_pts=360000,setpts=PTS-STARTPTS", "-video_track_timescale", "90000",
        "-x265-params", "pools=1:frame-threads=1:open-gop=0:log-level=error", "/w/e.mp4",
    ]  # fmt: skip


def test_argv_h264_tonemap_chain_follows_the_geometry() -> None:
    args = encode_args(task(SEG, Settings(tonemap=True, height=120), bit_depth=10, **PQ), LOCAL, Path("/o"))
    vf = args[args.index("-vf") + 1]
    assert vf == (
        "trim=start_pts=180000:end_pts=360000,setpts=PTS-STARTPTS,scale=-2:120,"
        "zscale=transfer=linear:npl=100,format=gbrpf32le,zscale=primaries=bt709,tonemap=tonemap=hable:desat=0,"
        "zscale=transfer=bt709:matrix=bt709:range=tv,format=yuv420p,"
        "sidedata=mode=delete:type=MASTERING_DISPLAY_METADATA,sidedata=mode=delete:type=CONTENT_LIGHT_LEVEL"
    )
    assert args[args.index("-pix_fmt") + 1] == "yuv420p"


def test_tonemap_is_a_settings_option() -> None:
    p = argparse.ArgumentParser()
    add_settings_arguments(p)
    assert settings_from_args(p.parse_args(["--tonemap"])).tonemap is True
    assert settings_from_args(p.parse_args([])).tonemap is False
    assert Settings.from_dict(Settings(tonemap=True).to_dict()).tonemap is True


def test_probe_reads_profile_colour_and_hdr_side_data() -> None:
    stream = {"index": 0, "codec_type": "video", "codec_name": "hevc", "profile": "Main 10", "width": 320,
              "height": 180, "pix_fmt": "yuv420p10le", "time_base": "1/12288", "color_range": "tv",
              "color_space": "bt2020nc", "color_transfer": "smpte2084", "color_primaries": "bt2020",
              "side_data_list": [{"side_data_type": "Mastering display metadata", "red_x": "34000/50000"},
                                 {"side_data_type": "Content light level metadata", "max_content": 1000},
                                 {"side_data_type": "Display Matrix", "rotation": -90}]}  # fmt: skip
    v = parse_streams("x.mp4", 1, {"streams": [stream]}).video
    assert v is not None
    assert (v.profile, v.bit_depth, v.color_primaries, v.color_transfer, v.color_space, v.color_range) == (
        "Main 10", 10, "bt2020", "smpte2084", "bt2020nc", "tv")  # fmt: skip
    assert v.side_data == ("Mastering display metadata", "Content light level metadata")
    assert VideoInfo.from_dict(v.to_dict()) == v
    bare = parse_streams("x.mp4", 1, {"streams": [{**stream, "color_transfer": "unknown", "side_data_list": []}]})
    assert bare.video and bare.video.color_transfer is None and bare.video.side_data == ()


def test_the_depth_check_fails_a_silent_loss_and_says_a_reduction() -> None:
    lost = depth_check(depth.Depth(10, 10), video(codec="hevc", pix_fmt="yuv420p", bit_depth=8, profile="Main"))
    assert not lost.ok
    assert lost.detail == "8-bit yuv420p (hevc Main), planned 10-bit from the 10-bit source"
    said = depth_check(depth.Depth(10, 8, reason="h264 is encoded 8-bit for players"),
                       video(pix_fmt="yuv420p", bit_depth=8, profile="High"))  # fmt: skip
    assert said.ok
    assert said.detail == ("8-bit yuv420p (h264 High); video reduced from 10-bit to 8-bit: h264 is encoded 8-bit "
                           "for players")  # fmt: skip


def test_tonemap_with_an_ffmpeg_without_zscale_is_refused_truly(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from splitstitch import stages
    from tests.unit.factories import media

    hdr = media(video_info=video(bit_depth=10, **PQ))
    monkeypatch.setattr(stages, "ffmpeg_filters", lambda: frozenset({"tonemap", "sidedata", "scale"}))
    with pytest.raises(UsageError) as refused:
        stages.check_depth(Settings(tonemap=True), hdr)
    assert str(refused.value) == "--tonemap: this ffmpeg has no zscale filter, which tone mapping needs"
    monkeypatch.setattr(stages, "ffmpeg_filters", lambda: frozenset(depth.TONEMAP_FILTERS))
    with caplog.at_level("WARNING", logger="splitstitch"):
        assert stages.check_depth(Settings(tonemap=True), hdr).tonemap
    assert [r.getMessage() for r in caplog.records] == [
        "/in/src.mp4: video reduced from 10-bit to 8-bit: h264 is encoded 8-bit for players; HDR tone-mapped to "
        "BT.709 SDR (--tonemap)"
    ]
