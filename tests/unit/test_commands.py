"""argv builders are pure: compared against literal lists, no process started."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from splitstitch import source as source_module
from splitstitch.audio import AudioPlan, audio_args, plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import SegmentTask, encode_args
from splitstitch.errors import UsageError
from splitstitch.plan import Segment
from splitstitch.scan import scan_args
from splitstitch.settings import Settings
from splitstitch.source import CA_FILE_ENV, MediaSource
from splitstitch.stitch import remux_args
from splitstitch.verify import decode_args
from tests.unit.factories import audio, media, video

LOCAL = MediaSource("file:/in/s.mp4", "s.mp4", 1000)
SIGNED = "https://b.s3.amazonaws.com/k.mp4?X-Amz-Signature=ab"
SEG = Segment(index=1, start_frame=60, end_frame=120, start_pts=180000, end_pts=360000, seek_pts=90000,
              start_seconds=2.0, duration_seconds=2.0)  # fmt: skip
FRAGMENTED = "+empty_moov+default_base_moof+frag_custom"


@pytest.fixture(autouse=True)
def ca_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CA_FILE_ENV, "/ca.pem")


DEFAULT = Settings()


def task(segment: Segment = SEG, settings: Settings = DEFAULT, threads: int = 1, **video_fields) -> SegmentTask:
    return SegmentTask(segment, video(**video_fields), 0.0, settings, threads, 90000)


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


H264_OUTPUT = [
    "-map", "0:0", "-f", "mp4", "-an", "-c:v", "libx264", "-crf", "23", "-dn", "-enc_time_base:v", "demux",
    "-fflags", "+bitexact", "-fps_mode", "passthrough", "-map_chapters", "-1", "-map_metadata", "-1", "-movflags", FRAGMENTED, "-pix_fmt", "yuv420p",
    "-preset", "medium", "-sn", "-threads", "1", "-vf", "trim=start_pts=180000:end_pts=360000,setpts=PTS-STARTPTS",
    "-video_track_timescale", "90000", "-x264-params", "open-gop=0", "/w/e.mp4",
]  # fmt: skip


def test_encode_local_source_seeks_to_the_keyframe_and_trims_exactly() -> None:
    assert encode_args(task(), LOCAL, Path("/w/e.mp4")) == [
        "-copyts", "-noaccurate_seek", "-noautorotate", "-protocol_whitelist", "file", "-ss", "0.999000",
        "-threads", "1", "-i", "file:/in/s.mp4", *H264_OUTPUT,
    ]  # fmt: skip


def test_encode_remote_source_reads_ranges_over_verified_tls() -> None:
    remote = MediaSource.remote(SIGNED, "k.mp4", 1000)
    assert encode_args(task(), remote, Path("/w/e.mp4")) == [
        "-ca_file", "/ca.pem", "-copyts", "-initial_request_size", "65536", "-noaccurate_seek", "-noautorotate",
        "-protocol_whitelist", "https,tls,tcp",
        "-request_size", "4194304", "-ss", "0.999000", "-threads", "1", "-tls_verify", "1", "-i", SIGNED, *H264_OUTPUT,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("seek_pts", "source_start", "expected"),
    [(None, 0.0, None), (7_200_000, 0.5, "79.499000"), (45_000, 0.5, None), (90_000, 0.0, "0.999000")],
)
def test_seek_is_relative_to_the_container_start_and_dropped_when_not_after_it(
    seek_pts: int | None, source_start: float, expected: str | None
) -> None:
    args = encode_args(replace(task(replace(SEG, seek_pts=seek_pts)), source_start=source_start), LOCAL, Path("/o"))
    if expected is None:
        assert "-ss" not in args and "-noaccurate_seek" not in args
        assert args[:7] == ["-copyts", "-noautorotate", "-protocol_whitelist", "file", "-threads", "1", "-i"]
    else:
        assert option(args, "-ss") == expected and args.index("-ss") < args.index("-i")


def test_the_last_segment_trims_only_its_start() -> None:
    args = encode_args(task(replace(SEG, end_pts=None)), LOCAL, Path("/o"))
    assert option(args, "-vf") == "trim=start_pts=180000,setpts=PTS-STARTPTS"


@pytest.mark.parametrize(
    ("fields", "settings", "chain"),
    [
        ({"rotation": 90}, Settings(), "transpose=cclock,sidedata=mode=delete:type=DISPLAYMATRIX"),
        ({"rotation": 180}, Settings(), "hflip,vflip,sidedata=mode=delete:type=DISPLAYMATRIX"),
        ({"rotation": 270}, Settings(), "transpose=clock,sidedata=mode=delete:type=DISPLAYMATRIX"),
        (
            {"rotation": 90},
            Settings(height=121),
            "transpose=cclock,sidedata=mode=delete:type=DISPLAYMATRIX,scale=120:-2",
        ),  # displayed 240x320: 120x160
        ({"width": 240, "height": 320}, Settings(height=120), "scale=120:-2"),  # portrait: the short side is 120
        ({"width": 240, "height": 320}, Settings(height=240), ""),  # portrait at its own short side: kept
        (
            {"rotation": 270, "width": 1920, "height": 1080},
            Settings(height=720),
            "transpose=clock,sidedata=mode=delete:type=DISPLAYMATRIX,scale=720:-2",
        ),
        ({}, Settings(height=480), ""),  # never upscales
        ({"width": 321, "height": 241}, Settings(), "crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0"),
        ({"width": 321, "height": 241}, Settings(height=120), "scale=-2:120"),  # the scale makes the size even
    ],
)
def test_rotation_and_size(fields: dict, settings: Settings, chain: str) -> None:
    vf = option(encode_args(task(settings=settings, **fields), LOCAL, Path("/o")), "-vf")
    assert vf == ",".join(["trim=start_pts=180000:end_pts=360000", "setpts=PTS-STARTPTS", *([chain] if chain else [])])


@pytest.mark.parametrize(
    ("settings", "bit_depth", "expected"),
    [
        (Settings(crf=18, preset="slow"), 10, {"-c:v": "libx264", "-crf": "18", "-preset": "slow", "-x264-params": "open-gop=0",
                                               "-pix_fmt": "yuv420p"}),
        (Settings(codec="h265"), 10, {"-c:v": "libx265", "-crf": "28", "-preset": "medium", "-tag:v": "hvc1",
                                      "-x265-params": "pools=2:frame-threads=2:open-gop=0:log-level=error",
                                      "-pix_fmt": "yuv420p10le"}),
        (Settings(codec="vp9", preset="fast"), 8, {"-c:v": "libvpx-vp9", "-crf": "32", "-b:v": "0", "-deadline": "good",
                                                   "-cpu-used": "3", "-row-mt": "0", "-pix_fmt": "yuv420p"}),
        (Settings(codec="av1", preset="veryslow"), 10, {"-c:v": "libsvtav1", "-crf": "35", "-preset": "3",
                                                        "-svtav1-params": "lp=2", "-pix_fmt": "yuv420p10le"}),
    ],
)  # fmt: skip
def test_each_codec(settings: Settings, bit_depth: int, expected: dict[str, str]) -> None:
    args = encode_args(task(settings=settings, threads=2, bit_depth=bit_depth), LOCAL, Path("/o"))
    assert {name: option(args, name) for name in expected} == expected
    output_side = args[args.index("-i") + 2 :]
    assert option(args, "-threads") == "1" and option(output_side, "-threads") == "2"  # decoder 1, encoder 2
    assert ("-tag:v" in args) == (settings.codec == "h265")


AUDIO_COPY = AudioPlan((1,), "copy", "aac", ("128k",), 0.0, 0.0, (), 10.0)


def test_audio_copy() -> None:
    assert audio_args(AUDIO_COPY, LOCAL, Path("/w/a.mp4")) == [
        "-protocol_whitelist", "file", "-threads", "1", "-i", "file:/in/s.mp4", "-map", "0:1", "-f", "mp4",
        "-c:a", "copy", "-dn", "-frag_duration", "10000000", "-map_chapters", "-1", "-map_metadata", "-1",
        "-movflags", "+frag_custom+delay_moov+default_base_moof", "-sn", "-vn", "/w/a.mp4",
    ]  # fmt: skip


def test_audio_encode_two_tracks_and_trim() -> None:
    plan = replace(AUDIO_COPY, stream_indexes=(2, 1), mode="encode", bitrates=("128k", "384k"), trim_start_s=0.5,
                   trim_samples=(24960, 22932), fragment_s=2.5)  # fmt: skip
    assert audio_args(plan, LOCAL, Path("/w/a.mp4")) == [
        "-protocol_whitelist", "file", "-threads", "1", "-i", "file:/in/s.mp4", "-filter_complex",
        "[0:2]atrim=start_pts=24960[s0];[s0]asetpts=PTS-24960[s1];[0:1]atrim=start_pts=22932[s2];"
        "[s2]asetpts=PTS-22932[s3]", "-map", "[s1]", "-map", "[s3]",
        "-f", "mp4", "-b:a:0", "128k", "-b:a:1", "384k", "-c:a", "aac", "-dn",
        "-frag_duration", "2500000", "-map_chapters", "-1", "-map_metadata", "-1", "-movflags", "+frag_custom+delay_moov+default_base_moof",
        "-sn", "-vn", "/w/a.mp4",
    ]  # fmt: skip


def test_audio_opus_is_resampled_to_48k() -> None:
    args = audio_args(replace(AUDIO_COPY, mode="encode", codec="opus", bitrates=("96k",)), LOCAL, Path("/w/a.mp4"))
    assert (option(args, "-c:a"), option(args, "-ar"), option(args, "-b:a:0")) == ("libopus", "48000", "96k")


def test_plan_audio_copies_what_fits_and_trims_or_delays_to_keep_the_offset() -> None:
    info = media(audios=(audio(1, "aac"), audio(2, "opus", channels=6)))
    mp4 = output_format("h264", Path("o.mp4"))
    copy = plan_audio(info, Settings(), mp4, fragment_s=4.0)
    assert copy == AudioPlan((1,), "copy", "aac", ("128k",), 0.0, 0.0, (), 4.0)
    both = plan_audio(info, Settings(audio_tracks="all"), mp4)
    assert both and (both.mode, both.codec, both.bitrates) == ("encode", "aac", ("128k", "384k"))
    mkv = plan_audio(info, Settings(audio_tracks="1"), output_format("h264", Path("o.mkv")))
    assert mkv and (mkv.mode, mkv.codec) == ("copy", "opus")
    early = plan_audio(media(audios=(audio(start=-0.5),)), Settings(), mp4)
    assert early and (early.mode, early.trim_start_s, early.delay_s) == ("encode", 0.5, 0.0)
    late = plan_audio(media(audios=(audio(start=0.25),)), Settings(), mp4)
    assert late and (late.mode, late.trim_start_s, late.delay_s) == ("encode", 0.0, 0.25)  # output starts at 0
    assert plan_audio(media(audios=(audio(),)), Settings(audio_tracks="none"), mp4) is None
    assert AudioPlan.from_dict(late.to_dict()) == late


def test_remux_args() -> None:
    assert remux_args(Path("/w/assembled.mp4"), output_format("vp9", Path("o.webm")), Path("/o/x.webm")) == [
        "-protocol_whitelist", "file", "-i", "file:/w/assembled.mp4", "-f", "webm", "-c", "copy", "-map", "0",
        "-map_metadata", "-1", "/o/x.webm",
    ]  # fmt: skip


PACKETS = ["-show_entries", "packet=stream_index,pts,dts,duration,flags,pos,size", "-of", "compact=p=0"]


def test_scan_args() -> None:
    remote = MediaSource.remote("http://127.0.0.1:5000/b/k", "k", 1000)
    remote_in = ["-protocol_whitelist", "http,tcp", "-request_size", "4194304", "-initial_request_size", "65536", "-i",
                 "http://127.0.0.1:5000/b/k"]  # fmt: skip
    assert scan_args(LOCAL) == [*PACKETS, "-protocol_whitelist", "file", "-i", "file:/in/s.mp4"]
    assert scan_args(remote, 30.0, 60.0) == ["-read_intervals", "30.000%65.000", *PACKETS, *remote_in]
    assert scan_args(remote, None, 30.0) == ["-read_intervals", "%35.000", *PACKETS, *remote_in]
    assert scan_args(remote, 90.0, None) == ["-read_intervals", "90.000%", *PACKETS, *remote_in]


def test_source_input_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert LOCAL.input_options() == {"protocol_whitelist": "file"}
    signed = MediaSource.remote(SIGNED, "k.mp4", 1)
    assert signed.input_options() == {"protocol_whitelist": "https,tls,tcp", "request_size": 4 << 20,
                                      "initial_request_size": 64 << 10, "tls_verify": 1, "ca_file": "/ca.pem"}  # fmt: skip
    plain = MediaSource.remote("http://127.0.0.1:5000/b/k", "k", 1)
    assert plain.input_options() == {"protocol_whitelist": "http,tcp", "request_size": 4 << 20,
                                     "initial_request_size": 64 << 10}  # fmt: skip
    monkeypatch.delenv(CA_FILE_ENV)
    bundle = tmp_path / "ca-bundle.crt"
    bundle.write_text("")
    monkeypatch.setattr(source_module, "CA_BUNDLES", ("/nonexistent/ca.crt", str(bundle)))
    assert signed.input_options()["ca_file"] == str(bundle)
    monkeypatch.setattr(source_module, "CA_BUNDLES", ())
    with pytest.raises(UsageError, match="TLS cannot be verified"):  # never a silent downgrade to no verification
        signed.input_options()


def test_sources(tmp_path: Path) -> None:
    clip = tmp_path / "a b.MP4"
    clip.write_bytes(b"12345")
    local = MediaSource.local(clip)
    assert (local.url, local.size, local.path, local.extension, local.is_remote) == (
        f"file:{clip}",
        5,
        clip,
        ".mp4",
        False,
    )
    assert local.input_args() == ["-protocol_whitelist", "file", "-i", f"file:{clip}"]
    for url in ("file:/etc/passwd", "ftp://h/x", "/abs/path.mp4", "concat:a|b"):
        with pytest.raises(ValueError, match="not an http"):
            MediaSource.remote(url, "x", 1)
    with pytest.raises(ValueError, match="not a local file"):
        _ = MediaSource.remote(SIGNED, "k.mp4", 1).path


def test_decode_check_args() -> None:
    # video frames keep their own timestamps (VFR frames must not collide on ticks of 1/frame rate)
    assert decode_args(Path("/o/x.mp4")) == ["-protocol_whitelist", "file", "-i", "file:/o/x.mp4", "-map", "0:v",
                                             "-map", "0:a?", "-fps_mode", "passthrough", "-enc_time_base:v", "demux",
                                             "-f", "null", "-"]  # fmt: skip
    assert decode_args(Path("/o/x.mp4"), ("0:v",), frames=12) == [
        "-protocol_whitelist", "file", "-i", "file:/o/x.mp4", "-map", "0:v", "-frames:v", "12",
        "-fps_mode", "passthrough", "-enc_time_base:v", "demux", "-f", "null", "-",
    ]  # fmt: skip
    assert decode_args(Path("/o/a.mp4"), ("0:a",)) == [
        "-protocol_whitelist", "file", "-i", "file:/o/a.mp4", "-map", "0:a", "-f", "null", "-",
    ]  # fmt: skip
