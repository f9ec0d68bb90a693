"""Discontinuities (frames.find_cuts), lining them up across streams and the run arithmetic (timeline.py),
the held-frame and truncation rules of check_frames: tables of literal packets, no processes."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

from splitstitch.errors import InputError
from splitstitch.frames import Cut, FrameIndex, StreamRuns, Unindexable, find_cuts, parse_frames, stream_runs
from splitstitch.inputs import Limits, check_frames
from splitstitch.media import riff_size
from splitstitch.source import MediaSource
from splitstitch.timeline import (
    decoded_rebuild,
    is_raw_video,
    match_cuts,
    plan_rebuild,
    rebuild_args,
    run_shifts,
    setts_expr,
)
from tests.unit.factories import media, video

MS = Fraction(1, 1000)


def packets(*stamps: int, duration: int = 40) -> list[tuple[str, ...]]:
    """Rows as ffprobe prints them: pts, duration, flags, pos, size, dts (left to the decoder model)."""
    return [(str(s), str(duration), "K__" if i == 0 else "___", str(i), "10", "N/A") for i, s in enumerate(stamps)]


def ibbp(start: int, frames: int, step: int = 40) -> list[int]:
    """Decode-order pts of an I P B P B ... stream (one B-frame), `frames` frames from `start`."""
    out = [start]
    for n in range(1, frames, 2):
        out += [start + (n + 1) * step, start + n * step] if n + 1 < frames else [start + n * step]
    return out


@pytest.mark.parametrize(
    ("stamps", "reorder", "declared", "expected"),
    [
        pytest.param(ibbp(0, 56) + ibbp(0, 91), 16, 40, [Cut(56, 2200, 0)], id="restart-to-0-with-b-frames"),
        pytest.param(ibbp(0, 60), 16, 40, [], id="b-frames-alone-are-no-cut"),
        pytest.param([0, 80, 40, 20, 60, 160, 120, 100, 140, 240, 200, 180, 220], 16, 40, [], id="pyramid"),
        pytest.param(list(range(0, 2000, 40)) + list(range(14000, 15000, 40)), 16, 40, [Cut(50, 1960, 14000)],
                     id="12s-forward-jump"),
        pytest.param(list(range(0, 2000, 40)) + list(range(11000, 12000, 40)), 16, 40, [], id="9s-gap-is-held"),
        pytest.param(list(range(0, 2000, 40)) + list(range(14000, 15000, 40)), 16, 12100, [],
                     id="gap-the-packet-declares-is-held"),
        pytest.param([0, 12000, 24000, 36000, 51000, 63000], 16, 12000, [], id="slide-show-cadence"),
        pytest.param([0, 23, 46, 70, 93, 70, 93], 0, 23, [Cut(5, 93, 70)], id="audio-back-one-packet"),
        pytest.param([*range(0, 1000, 40), 2000, 1920, 1960, 2080, 2040], 16, 40, [], id="open-gop-after-gap"),
    ],
)  # fmt: skip
def test_find_cuts(stamps: list[int], reorder: int, declared: int, expected: list[Cut]) -> None:
    assert list(find_cuts(packets(*stamps, duration=declared), MS, reorder)) == expected


def test_cuts_prefer_pts_and_fall_back_to_dts() -> None:
    rows = [("N/A", "1", "K__", "0", "9", "0"), ("N/A", "1", "___", "1", "9", "1"), ("N/A", "1", "___", "2", "9", "0")]
    assert find_cuts(rows, Fraction(1, 25), 0) == (Cut(2, 1, 0),)


def test_stream_runs_spans() -> None:
    runs = stream_runs(0, packets(*ibbp(0, 56), *ibbp(0, 91)), MS, 16)
    assert runs.packets == 147 and runs.spans == ((0, 2240), (0, 3640))


def runs(index: int, cuts: list[Cut], spans: list[tuple[int, int]], tb: Fraction = MS) -> StreamRuns:
    return StreamRuns(index, tb, 1000, tuple(cuts), tuple(spans))


V_BACK = runs(0, [Cut(56, 2200, 0)], [(0, 2240), (0, 3640)])
A_BACK = runs(1, [Cut(98, 2229, -23)], [(-23, 2252), (-23, 3645)])
V_FWD = runs(0, [Cut(50, 1960, 14000)], [(0, 2000), (14000, 15000)])
A_FWD = runs(1, [Cut(90, 1990, 13980)], [(0, 2010), (13980, 15010)])
A_NONE = runs(1, [], [(0, 3000)])


@pytest.mark.parametrize(
    ("video_runs", "audio_runs", "family", "kept"),
    [
        (V_BACK, [A_BACK], "matroska", [[0, 0]]),
        (V_FWD, [A_FWD], "matroska", [[0, 0]]),
        (V_FWD, [A_NONE], "matroska", []),  # video alone jumps, audio goes on: a held frame
        (V_FWD, [], "matroska", []),  # no audio to tell: a held frame outside formats made for jumps
        (V_FWD, [], "mpegts", [[0]]),
        (V_BACK, [], "matroska", [[0]]),
        (V_BACK, [runs(1, [Cut(90, 1990, 13980), Cut(98, 2229, -23)], [(0, 1), (2, 3), (4, 5)])], "mpegts", [[0, 1]]),
    ],
)  # fmt: skip
def test_match_cuts(video_runs: StreamRuns, audio_runs: list[StreamRuns], family: str, kept: list[list[int]]) -> None:
    assert match_cuts(video_runs, audio_runs, discontinuous=family == "mpegts") == kept


@pytest.mark.parametrize(
    ("video_runs", "audio_runs", "message"),
    [
        (V_BACK, [A_NONE], r"video timestamps go back at 2\.24 s \(frame 56\) but audio stream 1's do not"),
        (V_BACK, [A_FWD], r"video timestamps go back at 2\.24 s \(frame 56\) but audio stream 1's do not"),
        (runs(0, [], [(0, 4000)]), [A_BACK], r"audio stream 1 timestamps go back at 2\.25 s \(packet 98\) but the video"),
    ],
)  # fmt: skip
def test_cuts_that_do_not_line_up_are_refused_with_where(video_runs, audio_runs, message: str) -> None:
    with pytest.raises(Unindexable, match=message):
        plan_rebuild(video_runs, audio_runs, "matroska,webm")


@pytest.mark.parametrize(
    ("spans", "time_bases", "shifts"),
    [
        ([[(0, 2240), (0, 3640)], [(-23, 2252), (-23, 3645)]], [MS, MS], [0, Fraction(2275, 1000)]),  # audio longer
        ([[(0, 2300), (0, 3640)], [(0, 2252), (0, 3645)]], [MS, MS], [0, Fraction(23, 10)]),  # video longer
        ([[(0, 100), (1000, 1100), (50, 150)]], [MS], [0, Fraction(-9, 10), Fraction(3, 20)]),  # fwd then back
        ([[(0, 25600), (0, 1)], [(0, 88200), (0, 1)]], [Fraction(1, 12800), Fraction(1, 44100)], [0, 2]),
    ],
)  # fmt: skip
def test_run_shifts(spans, time_bases, shifts) -> None:
    assert run_shifts(spans, time_bases) == shifts


def test_rebuild_plan_shifts_every_stream_alike_and_reports_the_join() -> None:
    rebuild = plan_rebuild(V_BACK, [A_BACK], "matroska,webm")
    assert rebuild is not None
    assert [(s.index, s.starts, s.shifts, s.clear_dts) for s in rebuild.streams] == [
        (0, (56,), (2275,), True), (1, (98,), (2275,), False)
    ]  # fmt: skip
    (join,) = rebuild.joins
    assert (join.frame, join.kind, join.shift_s, join.at_s, join.source_end_s, join.source_start_s) == (
        56, "back", 2.275, 2.275, 2.24, 0.0
    )  # fmt: skip
    assert (rebuild.muxer, rebuild.extension) == ("matroska", ".mkv")


def test_shift_ticks_round_up_per_time_base() -> None:
    v = runs(0, [Cut(50, 0, 0)], [(0, 12801), (0, 100)], Fraction(1, 12800))
    a = runs(1, [Cut(80, 0, 0)], [(0, 44100), (0, 100)], Fraction(1, 44100))
    rebuild = plan_rebuild(replace(v, cuts=(Cut(50, 9, 0),)), [replace(a, cuts=(Cut(80, 9, 0),))], "mov,mp4")
    assert rebuild is not None
    assert [s.shifts for s in rebuild.streams] == [(12801,), (44104,)]  # 1.000078 s: ceil in each time base


def test_setts_expression_and_argv() -> None:
    assert setts_expr("PTS", (56, 140), (2275, 5000)) == (
        "if(eq(PTS\\,NOPTS)\\,NOPTS\\,PTS+if(gte(N\\,56)\\,2275\\,0)+if(gte(N\\,140)\\,2725\\,0))"
    )
    rebuild = plan_rebuild(V_BACK, [A_BACK], "matroska,webm")
    assert rebuild is not None
    args = rebuild_args(rebuild, MediaSource("file:/in/a b.mkv", "a b.mkv", 1), Path("/w/timeline.mkv"))
    assert args == [
        "-copyts", "-protocol_whitelist", "file", "-i", "file:/in/a b.mkv",
        "-map", "0:0", "-bsf:0", "setts=pts=" + setts_expr("PTS", (56,), (2275,)) + ":dts=NOPTS",
        "-map", "0:1", "-bsf:1", "setts=pts=" + setts_expr("PTS", (98,), (2275,)) + ":dts="
        + setts_expr("DTS", (98,), (2275,)),
        "-c", "copy", "-copyinkf", "-map_metadata", "0", "-f", "matroska", "/w/timeline.mkv",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("format_name", "raw"),
    [("mpegvideo", True), ("h264", True), ("hevc", True), ("m4v", True), ("mpeg", False), ("mpegts", False),
     ("matroska,webm", False), ("mov,mp4,m4a,3gp,3g2,mj2", False)],
)  # fmt: skip
def test_raw_elementary_streams_are_told_from_containers(format_name: str, raw: bool) -> None:
    assert is_raw_video(format_name) is raw


def test_a_raw_stream_is_decoded_into_an_intra_lossless_copy_at_its_own_rate() -> None:
    rebuild = decoded_rebuild(0, 100)
    assert rebuild.decode and rebuild.joins == ()
    args = rebuild_args(rebuild, MediaSource("file:/in/logo.m1v", "logo.m1v", 1), Path("/w/timeline.mov"))
    assert args == [
        "-protocol_whitelist", "file", "-i", "file:/in/logo.m1v", "-map", "0:0", "-fps_mode", "passthrough",
        "-c:v", "ffv1", "-g", "1", "-map_metadata", "-1", "-f", "mov", "/w/timeline.mov",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("stamps", "message"),
    [
        ([], "no decodable video frames: a full decode"),
        ([None, None], "none of the 2 decoded video frames has a timestamp"),
        ([0, 40, 80, 0, 40], r"video timestamps go back at 0\.08 s \(frame 3\)"),
        ([0, 40, 40], r"video timestamps repeat at 0\.04 s \(frame 2\)"),
    ],
)
def test_decoder_index_refusals_say_what_is_wrong(stamps: list[int | None], message: str) -> None:
    data = {"frames": [{"key_frame": 1} | ({} if s is None else {"best_effort_timestamp": s}) for s in stamps]}
    with pytest.raises(Unindexable, match=message):
        parse_frames(data, MS)


def avi_frames(slots: list[int]) -> FrameIndex:
    return FrameIndex(tuple(slots), 1, (0,), (0,), True)


@pytest.mark.parametrize(
    ("slots", "declared", "fmt", "declared_size", "refusal"),
    [
        (list(range(300)), 300, "avi", 0, None),
        ([0, *range(6, 300)], 300, "avi", 0, None),  # 5 empty index entries: dropped frames, first one held
        ([0, *range(6, 295)], 300, "avi", 0, None),  # trailing empty entries too: the RIFF size fits
        ([0, *range(6, 150)], 300, "avi", 2000, "truncated: the file has 1000 bytes, its RIFF headers say 2000"),
        ([0, *range(6, 300)], 300, "mov,mp4", 0, None),  # the gaps account for every listed frame
        (list(range(200)), 300, "mov,mp4", 0, "truncated: 200 of the 300 video frames its index lists"),
    ],
)  # fmt: skip
def test_empty_index_entries_are_held_frames_not_truncation(
    slots: list[int], declared: int, fmt: str, declared_size: int, refusal: str | None
) -> None:
    info = replace(media(fmt, video(time_base=Fraction(1, 30), declared_frames=declared), avi_frames(slots)),
                   declared_size=declared_size)  # fmt: skip
    if refusal is None:
        check_frames(info, Limits())
    else:
        with pytest.raises(InputError, match=refusal):
            check_frames(info, Limits())


def test_check_frames_passes_a_source_to_rebuild_and_says_why_there_is_no_index() -> None:
    rebuild = plan_rebuild(V_BACK, [A_BACK], "matroska,webm")
    check_frames(replace(media(), frames=None, rebuild=rebuild), Limits())
    problem = "video timestamps go back at 2.24 s (frame 56) but audio stream 1's do not jump with them"
    with pytest.raises(InputError, match=r"go back at 2\.24 s"):
        check_frames(replace(media(), frames=None, index_problem=problem), Limits())


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([(b"RIFF", 100, 100)], 108),  # whole file
        ([(b"RIFF", 100, 40)], 108),  # cut short: the header still claims 108 bytes
        ([(b"RIFF", 101, 101)], 109),  # odd size, no pad byte at the very end
        ([(b"RIFF", 101, 102), (b"RIFF", 20, 20)], 138),  # OpenDML: a second RIFF (AVIX) chunk
        ([(b"RIFF", 10, 10), (b"JUNK", 999, 4)], 18),  # stops at anything that is not RIFF
        ([(b"\x1aE\xdf\xa3", 10, 10)], 0),  # not RIFF
    ],
)  # fmt: skip
def test_riff_size(tmp_path: Path, chunks: list[tuple[bytes, int, int]], expected: int) -> None:
    path = tmp_path / "x.avi"
    path.write_bytes(b"".join(tag + size.to_bytes(4, "little") + b"A" * present for tag, size, present in chunks))
    assert riff_size(path) == expected
