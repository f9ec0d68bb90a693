"""retime: a segment's decode durations fitted to its planned span, on literal numbers and hand-built boxes."""

from __future__ import annotations

import itertools
import struct

import pytest

from splitstitch import fmp4, retime
from tests.unit.mp4boxes import Sample, box, fragment, full, tfdt, tfhd, trun, video_init


@pytest.mark.parametrize(
    ("durations", "target", "expected"),
    [
        ((3, 3, 3), 9, (3, 3, 3)),  # already the plan: untouched
        ((3, 3, 3), 12, (3, 3, 6)),  # short: the last sample lasts longer
        ((3, 3, 3), 8, (3, 3, 2)),  # a little long: the last sample absorbs it
        # x264 medium on a 10-tick first frame: its long step twice in decode order, the longest steps shortened
        ((10, 3, 10, 3, 3, 3), 20, (4, 3, 4, 3, 3, 3)),
        ((5, 1, 5) + (1,) * 23, 30, (3, 1, 3) + (1,) * 23),  # AVI at 1/30 s: dropped frames held
        ((7, 7, 1), 12, (6, 5, 1)),  # capped at 6, one more tick off the later one
        ((3, 3, 3), 3, (1, 1, 1)),
    ],
)
def test_fit_durations(durations: tuple[int, ...], target: int, expected: tuple[int, ...]) -> None:
    fitted = retime.fit_durations(durations, target)
    assert fitted == expected
    assert sum(fitted) == target and min(fitted) >= 1


def test_fit_never_moves_a_decode_time_later_when_shortening() -> None:
    durations, target = (9, 2, 9, 2, 2, 2, 2, 2), 21
    fitted = retime.fit_durations(durations, target)
    old = list(itertools.accumulate(durations))
    new = list(itertools.accumulate(fitted))
    assert all(n <= o for n, o in zip(new, old, strict=True))


def test_unfittable_says_why() -> None:
    with pytest.raises(retime.UnfittableError, match="3 frames cannot last 2 ticks"):
        retime.fit_durations((3, 3, 3), 2)


def _segment(samples: list[Sample], fields: tuple[str, ...], default: int | None) -> bytes:
    """One moof + mdat as an encoder writes it, its trun's data offset pointing at the mdat's first byte."""
    payload = bytes(range(sum(s.size for s in samples)))

    def moof(offset: int) -> bytes:
        traf = box("traf", tfhd(1, duration=default) + tfdt(0) + trun(samples, 0, fields, data_offset=offset))
        return box("moof", full("mfhd", 0, 0, struct.pack(">I", 1)) + traf)

    size = len(moof(0))
    return moof(size + 8) + box("mdat", payload)


@pytest.mark.parametrize("fields", [("duration", "size", "flags", "cts"), ("size", "flags")])
def test_rewrite_keeps_presentation_and_media(fields: tuple[str, ...]) -> None:
    """Held first frame (decode steps 10, 3, 10, 3...): refitted, every sample presents when it did, the media
    bytes are where the data offset says, whether the encoder stored durations and offsets or defaults."""
    steps = (10, 3, 10, 3, 3, 3) if "duration" in fields else (3,) * 6
    cts = (13, 20, 3, 10, 3, 3) if "cts" in fields else (0,) * 6
    samples = [Sample(d, 4 + i, c, i == 0) for i, (d, c) in enumerate(zip(steps, cts, strict=True))]
    data = _segment(samples, fields, None if "duration" in fields else 3)
    init = video_init()
    tracks = fmp4.tracks(init)
    (run,) = fmp4.fragments(data, tracks)[0].runs
    target = sum(steps) - 12 if "duration" in fields else sum(steps) + 5
    durations = retime.fit_durations(run.durations, target)
    out = retime.rewrite_samples(data, durations, retime.refit_offsets(run, durations))
    assert retime.explicit(out) and retime.explicit(data) == ("cts" in fields)
    (new,) = fmp4.fragments(out, tracks)[0].runs
    assert new.durations == durations and new.span == target
    assert new.presentation_times() == run.presentation_times()
    assert new.sizes == run.sizes and new.sync == run.sync
    moof = next(fmp4.iter_boxes(out))
    trun_box = fmp4.find(out, "moof/traf/trun")[0]
    offset = struct.unpack_from(">i", out, trun_box.body + 8)[0]
    assert offset == moof.size + 8  # the mdat's payload, wherever the grown moof ends
    assert out[offset:] == data[-sum(s.size for s in samples) :]


def test_rewrite_counts_samples() -> None:
    data = fragment(1, [box("traf", tfhd(1) + tfdt(0) + trun([Sample(3, 4)] * 2))], 8)
    with pytest.raises(fmp4.Mp4Error, match="more samples"):
        retime.rewrite_samples(data, (3,), (0,))
    with pytest.raises(fmp4.Mp4Error, match="fewer samples"):
        retime.rewrite_samples(data, (3, 3, 3), (0, 0, 0))
