"""argv builders are pure: compared against literal lists, no process started."""

from __future__ import annotations

from pathlib import Path

import pytest
from splitstitch.split import split_args

from splitstitch.audio import audio_args, plan_audio
from splitstitch.codecs import output_format
from splitstitch.encode import encode_args
from splitstitch.plan import Plan, Segment
from splitstitch.settings import Settings
from splitstitch.stitch import concat_script, stitch_args
from splitstitch.verify import decode_args
from tests.unit.factories import audio, media, video

SEG = Segment(index=1, start_frame=60, end_frame=120, start_pts=180000, end_pts=360000, seek_pts=0,
              start_seconds=2.0, duration_seconds=2.0)  # fmt: skip


def test_encode_copy_path_h264() -> None:
    args = encode_args(Settings(), video(), SEG, segment_file=Path("/w/src_00001.ts"), source=Path("/in/s.mp4"),
                       source_start=0.0, output=Path("/w/enc_00001.mp4"))  # fmt: skip
    assert args == [
        "-noautorotate", "-protocol_whitelist", "file", "-threads", "1", "-i", "file:/w/src_00001.ts",
        "-map", "0:v:0", "-f", "mp4", "-an", "-c:v", "libx264", "-crf", "23", "-dn", "-enc_time_base:v", "demux",
        "-fps_mode", "passthrough", "-pix_fmt", "yuv420p", "-preset", "medium", "-sn",
        "-threads", "1", "-vf", "setpts=PTS-STARTPTS", "-x264-params", "open-gop=0", "/w/enc_00001.mp4",
    ]  # fmt: skip


def test_encode_decode_path_seeks_early_and_trims_exactly() -> None:
    seg = Segment(3, 300, 360, 9_000_000, 10_800_000, 7_200_000, 100.0, 20.0)
    args = encode_args(Settings(codec="h265", crf=30, preset="fast", height=120), video(rotation=90), seg,
                       segment_file=None, source=Path("/in/s.mkv"), source_start=0.5, output=Path("/w/e.mp4"))  # fmt: skip
    assert args[:12] == ["-copyts", "-noaccurate_seek", "-noautorotate", "-protocol_whitelist", "file",
                         "-ss", "79.000000", "-threads", "1", "-i", "file:/in/s.mkv", "-map"]  # fmt: skip
    assert args[12] == "0:0"
    vf = args[args.index("-vf") + 1]
    assert vf == "trim=start_pts=9000000:end_pts=10800000,setpts=PTS-STARTPTS,transpose=cclock,scale=-2:120"
    assert args[args.index("-x265-params") + 1] == "pools=1:frame-threads=1:open-gop=0:log-level=error"
    assert args[args.index("-c:v") + 1] == "libx265"


@pytest.mark.parametrize(
    ("codec", "preset", "expected"),
    [
        ("vp9", "medium", ["-b:v", "0", "-c:v", "libvpx-vp9", "-cpu-used", "2", "-crf", "32", "-deadline", "good"]),
        ("av1", "slow", ["-c:v", "libsvtav1", "-crf", "35", "-preset", "5", "-svtav1-params", "lp=1"]),
    ],
)
def test_encode_vp9_and_av1_map_presets(codec: str, preset: str, expected: list[str]) -> None:
    args = encode_args(Settings(codec=codec, preset=preset), video(bit_depth=10), SEG, segment_file=Path("/w/a.mkv"),
                       source=Path("/s"), source_start=0, output=Path("/w/o.mp4"))  # fmt: skip
    assert all(item in args for item in expected)
    assert args[args.index("-pix_fmt") + 1] == "yuv420p10le"


def test_odd_dimensions_are_cropped_to_even() -> None:
    args = encode_args(Settings(), video(width=321, height=241), SEG, segment_file=Path("/w/a.ts"), source=Path("/s"),
                       source_start=0, output=Path("/w/o.mp4"))  # fmt: skip
    assert args[args.index("-vf") + 1] == "setpts=PTS-STARTPTS,crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0"


def test_split_args_cut_at_planned_frames() -> None:
    plan = Plan("copy", "r", 2.0, "1/90000", "mpegts", (
        Segment(0, 0, 60, 0, 180000, None, 0.0, 2.0), Segment(1, 60, 150, 180000, 450000, None, 2.0, 3.0),
        Segment(2, 150, 200, 450000, None, None, 5.0, 1.7)))  # fmt: skip
    assert split_args(plan, video(), Path("/in/a b.mp4"), Path("/w")) == [
        "-protocol_whitelist", "file", "-i", "file:/in/a b.mp4", "-map", "0:0", "-f", "segment", "-c", "copy",
        "-map_metadata", "-1", "-segment_format", "mpegts", "-segment_frames", "60,150", "/w/src_%05d.ts",
    ]  # fmt: skip


def test_audio_copy_and_encode() -> None:
    info = media(audios=(audio(1, "aac"), audio(2, "opus", channels=6)))
    fmt = output_format("h264", Path("o.mp4"))
    copy = plan_audio(info, Settings(), fmt)
    assert copy and copy.mode == "copy" and copy.stream_indexes == (1,)
    assert audio_args(copy, info, Path("/w/audio.m4a")) == [
        "-protocol_whitelist", "file", "-threads", "1", "-i", "file:/in/src.mp4", "-map", "0:1", "-f", "mp4", "-c:a", "copy",
        "-dn", "-map_metadata", "-1", "-sn", "-vn", "/w/audio.m4a",
    ]  # fmt: skip
    both = plan_audio(info, Settings(audio_tracks="all"), fmt)
    assert both and both.mode == "encode" and both.bitrates == ("128k", "384k")
    args = audio_args(both, info, Path("/w/audio.m4a"))
    assert args[args.index("-b:a:1") + 1] == "384k" and args[args.index("-c:a") + 1] == "aac"


def test_audio_starting_before_video_is_trimmed_and_later_audio_delayed() -> None:
    fmt = output_format("h264", Path("o.mp4"))
    early = plan_audio(media(audios=(audio(start=-0.5),)), Settings(), fmt)
    assert early and early.mode == "encode" and early.trim_start_s == 0.5 and early.delay_s == 0.0
    late = plan_audio(media(audios=(audio(start=0.25),)), Settings(), fmt)
    assert late and late.mode == "copy" and late.delay_s == 0.25
    assert plan_audio(media(audios=(audio(),)), Settings(audio_tracks="none"), fmt) is None


def test_concat_script_and_stitch_args() -> None:
    plan = Plan("copy", "r", 2.0, "1/90000", "mpegts",
                (Segment(0, 0, 60, 0, 1, None, 0.0, 2.0), Segment(1, 60, 99, 1, None, None, 2.0, 1.3)))  # fmt: skip
    assert concat_script(plan, ["enc_00000.mp4", "enc_00001.mp4"]) == (
        "ffconcat version 1.0\nfile 'enc_00000.mp4'\nduration 2.000000\nfile 'enc_00001.mp4'\nduration 1.300000\n"
    )
    with pytest.raises(ValueError, match="unsafe"):
        concat_script(plan, ["../x.mp4", "enc_00001.mp4"])
    audio_plan = plan_audio(media(audios=(audio(start=0.25),)), Settings(), output_format("h265", Path("o.mp4")))
    assert audio_plan
    args = stitch_args(Path("/w/s.ffconcat"), (audio_plan, Path("/w/audio.m4a")), "h265",
                       output_format("h265", Path("o.mp4")), Path("/out/o.mp4"))  # fmt: skip
    assert args == [
        "-f", "concat", "-auto_convert", "0", "-protocol_whitelist", "file", "-safe", "1", "-i", "file:/w/s.ffconcat",
        "-itsoffset", "0.250000", "-protocol_whitelist", "file", "-i", "file:/w/audio.m4a",
        "-map", "0:v:0", "-map", "1:a", "-f", "mp4", "-c", "copy", "-map_metadata", "-1",
        "-movflags", "+faststart", "-tag:v", "hvc1", "/out/o.mp4",
    ]  # fmt: skip


def test_decode_check_args() -> None:
    assert decode_args(Path("/o/x.mp4")) == ["-protocol_whitelist", "file", "-i", "file:/o/x.mp4", "-map", "0:v",
                                             "-map", "0:a?", "-f", "null", "-"]  # fmt: skip
