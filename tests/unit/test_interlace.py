"""Interlace detection and deinterlacing: the decision as a table, argv against literal lists, the setting
wherever settings travel (CLI, JSON, cloud metadata, job, encoder task)."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch import interlace
from splitstitch.codecs import output_format
from splitstitch.encode import SegmentTask, encode_args
from splitstitch.errors import ToolError, UsageError
from splitstitch.interlace import (
    FieldCounts,
    Interlace,
    decide,
    deinterlace_filters,
    detect,
    idet_args,
    needs_sample,
    parse_idet,
    sample_points,
)
from splitstitch.job import Job
from splitstitch.media import parse_streams
from splitstitch.options import add_settings_arguments, settings_from_args
from splitstitch.plan import Fanout, Segment, plan_segments
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch_cloud.steps import job_settings
from tests.unit.factories import media, video

TFF, BFF = FieldCounts(tff=100), FieldCounts(bff=100)
PROGRESSIVE = FieldCounts(progressive=75, undetermined=25)
MIXED = FieldCounts(tff=48, bff=45, progressive=8)  # what idet says of testsrc2's progressive pictures
STILL = FieldCounts(undetermined=100)  # a still or flat picture: nothing judged


@pytest.mark.parametrize(
    ("counts", "verdict"),
    [(TFF, "tff"), (BFF, "bff"), (PROGRESSIVE, "progressive"), (MIXED, None), (STILL, None),
     (FieldCounts(tff=9), None), (FieldCounts(tff=10), "tff"), (FieldCounts(tff=80, progressive=20), "tff"),
     (FieldCounts(tff=79, progressive=21), None), (FieldCounts(tff=5, bff=0, progressive=45), "progressive")],
)  # fmt: skip
def test_idet_verdict_needs_enough_frames_that_agree(counts: FieldCounts, verdict: str | None) -> None:
    assert counts.verdict() == verdict


@pytest.mark.parametrize(
    ("mode", "codec", "order", "sampled"),
    [("auto", "mpeg2video", "tt", True), ("auto", "h264", "progressive", True), ("auto", "h264", "unknown", True),
     ("auto", "vp9", "unknown", False), ("auto", "mpeg1video", "progressive", False), ("off", "h264", "tt", False),
     ("on", "h264", "bb", False), ("on", "h264", "progressive", True), ("on", "theora", "unknown", False)],
)  # fmt: skip
def test_idet_runs_only_where_the_decision_needs_it(mode: str, codec: str, order: str, sampled: bool) -> None:
    assert needs_sample(mode, codec, order) is sampled


@pytest.mark.parametrize(
    ("mode", "codec", "order", "counts", "interlaced", "parity", "said"),
    [
        # the flag and the pictures agree
        ("auto", "mpeg2video", "tt", TFF, True, "tff", "content is interlaced; deinterlaced, top field first (auto)"),
        ("auto", "mpeg2video", "bb", BFF, True, "bff", "content is interlaced; deinterlaced, bottom field first"),
        ("auto", "h264", "progressive", PROGRESSIVE, False, None, "content is progressive; not deinterlaced"),
        # tb/bt: the field displayed first decides the parity
        ("auto", "h264", "tb", None, True, "bff", "flagged interlaced; deinterlaced, bottom field first"),
        ("auto", "h264", "bt", None, True, "tff", "flagged interlaced; deinterlaced, top field first"),
        # flags that lie: the pictures win, and the parity is theirs
        ("auto", "h264", "progressive", TFF, True, "tff", "content is interlaced, unlike its flag; deinterlaced"),
        ("auto", "h264", "tt", PROGRESSIVE, False, None, "content is progressive, unlike its flag; not deinterlaced"),
        ("auto", "h264", "tt", BFF, True, "bff", "content is interlaced; deinterlaced, bottom field first"),
        # idet with no verdict: the flag decides
        ("auto", "mpeg2video", "tt", STILL, True, "tff", "flagged interlaced; deinterlaced, top field first"),
        ("auto", "h264", "progressive", MIXED, False, None, "flagged progressive; not deinterlaced"),
        ("auto", "h264", "unknown", STILL, None, None, "field order unknown; not deinterlaced"),
        ("auto", "h264", "unknown", BFF, True, "bff", "content is interlaced; deinterlaced, bottom field first"),
        ("auto", "vp9", "unknown", None, False, None, "vp9 has no interlaced coding; not deinterlaced"),
        # on and off
        ("on", "h264", "progressive", STILL, False, "auto", "deinterlaced, each frame's flagged field order (bottom first where unflagged) (--deinterlace on)"),
        ("on", "h264", "bb", None, True, "bff", "flagged interlaced; deinterlaced, bottom field first (--deinterlace on)"),
        ("off", "mpeg2video", "tt", None, True, None, "flagged interlaced; not deinterlaced (--deinterlace off)"),
    ],
)  # fmt: skip
def test_decision_from_the_flag_and_the_pictures(
    mode: str, codec: str, order: str, counts: FieldCounts | None, interlaced: bool | None, parity: str | None,
    said: str,
) -> None:  # fmt: skip
    result = decide(mode, codec, order, counts)
    assert (result.interlaced, result.parity, result.deinterlace) == (interlaced, parity, parity is not None)
    assert said in result.summary and result.summary.startswith(f"field order {order}")
    assert (counts is not None and counts.describe() in result.summary) == (counts is not None)


IDET_LOG = """\
[Parsed_idet_0 @ 0x7f3979cab1c0] Repeated Fields: Neither:     0 Top:     0 Bottom:     0
[Parsed_idet_0 @ 0x7f3979cab1c0] Single frame detection: TFF:     0 BFF:     0 Progressive:     0 Undetermined:     0
[Parsed_idet_0 @ 0x7f3979cab1c0] Multi frame detection: TFF:     0 BFF:     0 Progressive:     0 Undetermined:     0
[Parsed_idet_0 @ 0x7f3979c02ac0] Single frame detection: TFF:     3 BFF:    47 Progressive:     1 Undetermined:     2
[Parsed_idet_0 @ 0x7f3979c02ac0] Multi frame detection: TFF:     1 BFF:    50 Progressive:     2 Undetermined:     4
"""


def test_idet_counts_are_the_multi_frame_lines_summed() -> None:
    assert parse_idet(IDET_LOG) == FieldCounts(tff=1, bff=50, progressive=2, undetermined=4)
    assert parse_idet("") == FieldCounts()


@pytest.mark.parametrize(
    ("seconds", "frames", "points"),
    [(4.0, 100, [None]), (6.0, 150, [None]), (None, 5000, [None]), (10.0, None, [None]),
     (6.04, 151, [1.007, 3.02, 5.033]), (600.0, 15000, [100.0, 300.0, 500.0])],
)  # fmt: skip
def test_sample_is_one_run_from_the_start_or_three_points_spread(seconds, frames, points) -> None:
    assert sample_points(seconds, frames) == points


def test_idet_argv() -> None:
    local = MediaSource("file:/in/s.mpg", "s.mpg", 1000)
    assert idet_args(local, 0, None, 150) == [
        "-noautorotate", "-protocol_whitelist", "file", "-i", "file:/in/s.mpg", "-map", "0:0", "-f", "null", "-an",
        "-dn", "-frames:v", "150", "-sn", "-vf", "idet", "-",
    ]  # fmt: skip
    assert idet_args(local, 1, 100.0, 50) == [
        "-noaccurate_seek", "-noautorotate", "-protocol_whitelist", "file", "-ss", "100.000", "-i", "file:/in/s.mpg",
        "-map", "0:1", "-f", "null", "-an", "-dn", "-frames:v", "50", "-sn", "-vf", "idet", "-",
    ]  # fmt: skip


def test_deinterlace_filters_keep_the_source_time_base() -> None:
    assert deinterlace_filters(None, Fraction(1, 90000)) == []
    assert deinterlace_filters("tff", Fraction(1, 90000)) == ["bwdif=mode=send_frame:parity=tff:deint=all",
                                                              "settb=1/90000"]  # fmt: skip
    assert deinterlace_filters("auto", Fraction(1001, 30000))[1] == "settb=1001/30000"


SEG = Segment(index=1, start_frame=60, end_frame=120, start_pts=180000, end_pts=360000, seek_pts=90000,
              start_seconds=2.0, duration_seconds=2.0)  # fmt: skip


def test_encoder_deinterlaces_first_then_trims_then_rotates() -> None:
    """Before trim, the deinterlacer sees the frames either side of the segment; before rotation, the fields
    are still rows."""
    task = SegmentTask(SEG, video(rotation=90), 0.0, Settings(height=120), 1, 90000, deinterlace="bff")
    args = encode_args(task, MediaSource("file:/in/s.ts", "s.ts", 1000), Path("/w/e.mp4"))
    assert args[args.index("-vf") + 1] == (
        "bwdif=mode=send_frame:parity=bff:deint=all,settb=1/90000,trim=start_pts=180000:end_pts=360000,"
        "setpts=PTS-STARTPTS,transpose=cclock,sidedata=mode=delete:type=DISPLAYMATRIX,scale=120:-2"
    )
    plain = encode_args(replace(task, deinterlace=None), MediaSource("file:/in/s.ts", "s.ts", 1000), Path("/o"))
    assert plain[plain.index("-vf") + 1].startswith("trim=")
    assert SegmentTask.from_dict(json.loads(json.dumps(task.to_dict()))) == task
    assert SegmentTask.from_dict({k: v for k, v in task.to_dict().items() if k != "deinterlace"}).deinterlace is None


def test_the_job_carries_the_decision_to_every_encoder() -> None:
    info = media(fmt="mpegts", video_info=video(codec="mpeg2video", field_order="tt"))
    settings = Settings(deinterlace="auto")
    plan = plan_segments(info, settings, Fanout(3))
    interlace = decide("auto", "mpeg2video", "tt", TFF)
    job = Job("abc", "in.ts", settings, output_format("h264", Path("o.mp4")), info, plan, None, Fanout(3),
              interlace=interlace)  # fmt: skip
    again = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again == job and again.interlace == interlace
    assert {t.deinterlace for t in job.tasks()} == {"tff"}
    assert Interlace.from_dict(None) is None
    older = {k: v for k, v in job.to_dict().items() if k != "interlace"}  # a job written before this field
    assert Job.from_dict(older).interlace is None and Job.from_dict(older).segment_task(0).deinterlace is None
    assert job.interlace and job.interlace.report() == {
        "setting": "auto", "field_order": "tt", "idet": {"tff": 100, "bff": 0, "progressive": 0, "undetermined": 0},
        "interlaced": True, "deinterlaced": True, "parity": "tff", "filter": "bwdif=mode=send_frame:parity=tff:deint=all",
        "summary": interlace.summary,
    }  # fmt: skip


def test_probe_reads_the_field_order() -> None:
    stream = {"index": 0, "codec_type": "video", "codec_name": "mpeg2video", "width": 720, "height": 576,
              "pix_fmt": "yuv420p", "time_base": "1/90000", "avg_frame_rate": "25/1"}  # fmt: skip
    for given, read in (("tt", "tt"), ("bb", "bb"), ("progressive", "progressive"), (None, "unknown")):
        data = {"streams": [stream | ({"field_order": given} if given else {})], "format": {}}
        info = parse_streams("a.mpg", 10, data)
        assert info.video and info.video.field_order == read


def test_the_setting_everywhere_settings_go() -> None:
    assert Settings().deinterlace == "auto"
    with pytest.raises(UsageError, match="unknown deinterlace mode 'yes' \\(choose auto, on, off\\)"):
        Settings(deinterlace="yes")
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser)
    assert settings_from_args(parser.parse_args(["--deinterlace", "off"])).deinterlace == "off"
    assert settings_from_args(parser.parse_args([])).deinterlace == "auto"
    with pytest.raises(SystemExit):
        parser.parse_args(["--deinterlace", "yes"])
    assert Settings.from_dict(json.loads(json.dumps(Settings(deinterlace="on").to_dict()))).deinterlace == "on"
    # the cloud: the template's defaults, then the upload's settings metadata
    assert job_settings('{"codec": "h264"}', '{"deinterlace": "off"}').deinterlace == "off"
    with pytest.raises(UsageError, match="unknown deinterlace mode"):
        job_settings(None, '{"deinterlace": "maybe"}')


def test_a_failed_sample_leaves_the_decision_to_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: list[str], **_: object) -> None:
        raise ToolError(["/bin/ffmpeg", *args], 1, "Invalid data found when processing input")

    monkeypatch.setattr(interlace, "run_ffmpeg", broken)
    info = media(fmt="mpegts", video_info=video(codec="mpeg2video", field_order="bb"))
    result = detect(info, MediaSource("file:/in/s.ts", "s.ts", 1000), "auto")
    assert result.parity == "bff" and result.counts is None
    assert result.summary.startswith("idet sample failed (ffmpeg exit 1: Invalid data found when processing input); ")
    assert result.summary.endswith("flagged interlaced; deinterlaced, bottom field first (auto)")


def test_detect_samples_three_points_of_a_long_source(monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[list[str]] = []

    def fake(args: list[str], **_: object) -> object:
        runs.append(args)
        return type("Done", (), {"stderr": IDET_LOG})()

    monkeypatch.setattr(interlace, "run_ffmpeg", fake)
    info = media()  # 300 frames over 10 s
    result = detect(info, MediaSource("file:/in/s.mp4", "s.mp4", 1000), "auto")
    assert [r[r.index("-ss") + 1] for r in runs] == ["1.667", "5.000", "8.333"]
    assert {r[r.index("-frames:v") + 1] for r in runs} == {"50"}
    assert result.counts == FieldCounts(tff=3, bff=150, progressive=6, undetermined=12) and result.parity == "bff"
    runs.clear()
    detect(media(video_info=video(codec="vp9")), MediaSource("file:/in/s.webm", "s.webm", 1000), "auto")
    assert runs == []  # nothing to sample
