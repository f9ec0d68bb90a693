"""`make test-real`'s comparison can fail: each rule on literal decodes (tests/real/checks.py)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from tests.real.checks import Row, compare, table
from tests.real.decoded import Decoded, Track, _tracks

FRAMECRC = """#software: Lavf62.12.102
#tb 0: 1/25
#media_type 0: video
#tb 1: 1/48000
#media_type 1: audio
0,          0,          0,        1,   165888, 0x1
1,          0,          0,     1024,     4096, 0x2
0,          1,          1,        1,   165888, 0x3
1,       1024,       1024,     1024,     4096, 0x4
"""


def video(count: int, step: Fraction = Fraction(1, 25), start: Fraction = Fraction(0)) -> Track:
    times = tuple(start + i * step for i in range(count))
    return Track(times, times[-1] + step)


def audio(start: Fraction, seconds: Fraction) -> Track:
    return Track((start,), start + seconds)


SOURCE = Decoded(video(100), audio(Fraction(0), Fraction(4)), "")


def test_framecrc_lines_give_each_stream_its_times_and_end() -> None:
    tracks = _tracks(FRAMECRC)
    assert tracks[0].times == (0, Fraction(1, 25)) and tracks[0].end == Fraction(2, 25)
    assert tracks[1].times == (0, Fraction(1024, 48000)) and tracks[1].end == Fraction(2048, 48000)


def test_an_exact_output_passes() -> None:
    headers = {"container": 4.0, "video": 4.0, "audio": 4.0}
    row = compare("a.mp4", "file", SOURCE, SOURCE, headers)
    assert row.ok, row.problems
    assert row.frames == "100/100" and row.header_ms.startswith("+0.0")


@pytest.mark.parametrize(
    ("out", "headers", "problem"),
    [
        (Decoded(video(99), SOURCE.audio, ""), None, "99 frames, source 100"),
        (Decoded(Track((*video(99).times, Fraction(100, 25)), Fraction(101, 25)), SOURCE.audio, ""), None,
         "40.0 ms off its source time"),
        (Decoded(video(100), audio(Fraction(-83, 1000), Fraction(4)), ""), None, "audio starts -83.0 ms"),
        (Decoded(video(100), audio(Fraction(0), Fraction(41, 10)), ""), None, "audio lasts 4.1000 s"),
        (Decoded(video(100), None, ""), None, "audio missing"),
        (SOURCE, {"video": 4.0833}, "the video header says +83.3 ms"),
        (SOURCE, {"playlist": 4.2}, "the playlist header says +200.0 ms"),
        (Decoded(video(100), SOURCE.audio, "[h264 @ 0x1] error while decoding MB 3 4"), None, "decode warns"),
    ],
)  # fmt: skip
def test_each_departure_from_the_source_fails_and_says_what(out: Decoded, headers, problem: str) -> None:
    row = compare("a.mp4", "file", SOURCE, out, headers)
    assert not row.ok and problem in row.problems


def test_table_lines_up_one_row_per_output() -> None:
    text = table([Row("a.mp4", "file", True, frames="1/1"), Row("long_name.ogv", "cmaf 360p", False, problems="x")])
    lines = text.splitlines()
    assert len(lines) == 3 and lines[0].startswith("file ") and "FAIL" in lines[2]
    assert lines[1].index("file") == lines[2].index("cmaf 360p")
