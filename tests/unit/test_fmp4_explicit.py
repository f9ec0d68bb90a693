"""fmp4_explicit: every way ISO BMFF stores a sample's duration, size and flags (trex defaults, tfhd defaults,
per-sample trun fields, first_sample_flags, several truns in one traf, a traf whose data follows the previous
traf's) rewritten to one value per sample in each trun, so that the last sample's duration can be set in place.

The fragments are built by hand (tests/unit/mp4boxes.py), each sample's bytes a pattern of its own, so the test
sees that every rewritten data offset still points at the samples it described."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from splitstitch import fmp4, fmp4_explicit, fmp4_patch
from splitstitch.fmp4 import Mp4Error
from splitstitch.fmp4_patch import Patch
from tests.unit.mp4boxes import (
    NON_SYNC,
    Sample,
    audio_entry,
    box,
    full,
    init,
    tfdt,
    tfhd,
    trak,
    trex,
    trun,
    video_entry,
)  # fmt: skip

VIDEO_TRAK = trak(1, "vide", 15360, video_entry(320, 240))
AUDIO_TRAK = trak(2, "soun", 48000, audio_entry(2, 48000))
PLAIN_INIT = init([VIDEO_TRAK], [trex(1)])
TREX_INIT = init([VIDEO_TRAK], [trex(1, duration=512, size=0, flags=NON_SYNC)])
AV_INIT = init([VIDEO_TRAK, AUDIO_TRAK], [trex(1), trex(2)])
SIZES = (10, 20, 30, 40)


def payload(sizes: tuple[int, ...]) -> bytes:
    """Sample k's bytes are k + 1 repeated: a misplaced data offset shows as the wrong pattern."""
    return b"".join(bytes([k + 1]) * size for k, size in enumerate(sizes))


def moof_mdat(trafs: Callable[[int], list[bytes]], data: bytes, sequence: int = 1) -> bytes:
    """moof + mdat, where `trafs(offset)` builds the trafs given the mdat payload's offset from the moof."""

    def moof(offset: int) -> bytes:
        return box("moof", full("mfhd", 0, 0, struct.pack(">I", sequence)) + b"".join(trafs(offset)))

    return moof(len(moof(0)) + 8) + box("mdat", data)


def samples(cts: tuple[int, ...] = (0, 0, 0, 0)) -> list[Sample]:
    return [Sample(0, size, c, i == 0) for i, (size, c) in enumerate(zip(SIZES, cts, strict=True))]


# Each case: (init, fragment, expected (durations, sizes, cts, sync) per track in moof order).
def trex_defaults() -> tuple[bytes, bytes, list[tuple]]:
    def trafs(off: int) -> list[bytes]:
        return [box("traf", tfhd(1) + tfdt(0) + trun(samples(), fields=("size",), data_offset=off, first_flags=0))]

    return TREX_INIT, moof_mdat(trafs, payload(SIZES)), [((512,) * 4, SIZES, (0,) * 4, (True, False, False, False))]


def tfhd_defaults() -> tuple[bytes, bytes, list[tuple]]:
    """What ffmpeg writes for a constant frame rate: duration and flags in the tfhd, sizes and offsets per sample."""
    cts = (1024, 2048, 0, 512)

    def trafs(off: int) -> list[bytes]:
        run = trun(samples(cts), fields=("size", "cts"), data_offset=off, first_flags=0)
        return [box("traf", tfhd(1, duration=512, flags=NON_SYNC) + tfdt(9000) + run)]

    return PLAIN_INIT, moof_mdat(trafs, payload(SIZES)), [((512,) * 4, SIZES, cts, (True, False, False, False))]


def tfhd_everything() -> tuple[bytes, bytes, list[tuple]]:
    """tfhd defaults override the trex's; the trun stores nothing per sample."""

    def trafs(off: int) -> list[bytes]:
        run = trun([Sample(0, 0)] * 3, fields=(), data_offset=off)
        return [box("traf", tfhd(1, duration=500, size=16, flags=0) + tfdt(0) + run)]

    return TREX_INIT, moof_mdat(trafs, payload((16, 16, 16))), [((500,) * 3, (16,) * 3, (0,) * 3, (True,) * 3)]


def several_truns() -> tuple[bytes, bytes, list[tuple]]:
    """Two truns in one traf: the second has no data offset, so its data follows the first's."""

    def trafs(off: int) -> list[bytes]:
        first = trun(samples()[:2], fields=("size",), data_offset=off, first_flags=0)
        second = trun(samples()[2:], fields=("size",), data_offset=None)
        return [box("traf", tfhd(1, duration=512, flags=NON_SYNC) + tfdt(0) + first + second)]

    return PLAIN_INIT, moof_mdat(trafs, payload(SIZES)), [((512,) * 4, SIZES, (0,) * 4, (True, False, False, False))]


def two_trafs_chained() -> tuple[bytes, bytes, list[tuple]]:
    """No default-base-is-moof: the second traf's data starts where the first traf's data ended."""
    audio = (6, 7)

    def trafs(off: int) -> list[bytes]:
        video = trun(samples(), fields=("size",), data_offset=off, first_flags=0)
        sound = trun([Sample(0, s) for s in audio], fields=("size",), data_offset=None)
        return [box("traf", tfhd(1, duration=512, flags=NON_SYNC, base_is_moof=False) + tfdt(0) + video),
                box("traf", tfhd(2, duration=1024, base_is_moof=False) + tfdt(0) + sound)]  # fmt: skip

    expected = [((512,) * 4, SIZES, (0,) * 4, (True, False, False, False)), ((1024,) * 2, audio, (0, 0), (True, True))]
    return AV_INIT, moof_mdat(trafs, payload(SIZES + audio)), expected


CASES = [trex_defaults, tfhd_defaults, tfhd_everything, several_truns, two_trafs_chained]


def facts(data: bytes, init_bytes: bytes) -> list[tuple]:
    runs = [r for f in fmp4.fragments(data, fmp4.tracks(init_bytes)) for r in f.runs]
    return [(r.durations, r.sizes, r.cts, r.sync) for r in runs]


def placed_bytes(data: bytes) -> list[bytes]:
    """Every sample's bytes, read through the rewritten boxes: each trun's data offset from its moof."""
    out = []
    for moof in (b for b in fmp4.iter_boxes(data) if b.type == "moof"):
        for traf in fmp4.find(data, "traf", moof.body, moof.end):
            (header,) = fmp4.find(data, "tfhd", traf.body, traf.end)
            assert fmp4.version_flags(data, header)[1] & 0x2003B == 0x20000  # base is the moof, no defaults
            for run in fmp4.find(data, "trun", traf.body, traf.end):
                _, flags = fmp4.version_flags(data, run)
                assert flags == 0xF01  # data offset, then duration, size, flags and offset of every sample
                count, offset = struct.unpack_from(">Ii", data, run.body + 4)
                position = moof.start + offset
                for n in range(count):
                    size = struct.unpack_from(">I", data, run.body + 12 + 16 * n + 4)[0]
                    out.append(data[position : position + size])
                    position += size
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_every_storage_becomes_per_sample_fields_with_the_same_samples(case) -> None:
    init_bytes, data, expected = case()
    assert facts(data, init_bytes) == expected  # what the reader makes of the original
    rewritten = fmp4_explicit.explicit_samples(data, fmp4.tracks(init_bytes))
    assert facts(rewritten, init_bytes) == expected
    sizes = [s for _, track_sizes, _, _ in expected for s in track_sizes]
    assert placed_bytes(rewritten) == [bytes([k + 1]) * s for k, s in enumerate(sizes)]
    mdat = lambda d: next(d[b.start :] for b in fmp4.iter_boxes(d) if b.type == "mdat")  # noqa: E731
    assert mdat(rewritten) == mdat(data)  # the media is not touched
    assert fmp4_explicit.explicit_samples(rewritten, fmp4.tracks(init_bytes)) == rewritten  # nothing left to do


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_the_last_duration_can_then_be_set_in_place(case) -> None:
    init_bytes, data, expected = case()
    rewritten = fmp4_explicit.explicit_samples(data, fmp4.tracks(init_bytes))
    patched = fmp4_patch.patch_fragments(rewritten, Patch(last_duration=777, decode_time_shift=100))
    assert len(patched) == len(rewritten)
    got = facts(patched, init_bytes)
    *before, (durations, sizes, cts, sync) = expected
    assert got == [*before, ((*durations[:-1], 777), sizes, cts, sync)]


def test_fragments_that_store_every_field_are_returned_unchanged() -> None:
    def trafs(off: int) -> list[bytes]:
        return [box("traf", tfhd(1) + tfdt(0) + trun([Sample(512, s, 0, i == 0) for i, s in enumerate(SIZES)],
                                                     data_offset=off))]  # fmt: skip

    data = moof_mdat(trafs, payload(SIZES))
    assert fmp4_explicit.explicit_samples(data, fmp4.tracks(PLAIN_INIT)) == data


def test_only_the_moofs_that_need_it_are_rebuilt() -> None:
    _, first, _ = tfhd_defaults()
    explicit = fmp4_explicit.explicit_samples(first, fmp4.tracks(PLAIN_INIT))
    _, second, _ = several_truns()
    both = fmp4_explicit.explicit_samples(explicit + second, fmp4.tracks(PLAIN_INIT))
    assert both.startswith(explicit)
    assert both[len(explicit) :] == fmp4_explicit.explicit_samples(second, fmp4.tracks(PLAIN_INIT))


def test_what_cannot_be_moved_is_refused() -> None:
    def absolute(off: int) -> list[bytes]:
        return [box("traf", tfhd(1, duration=512, base_offset=0) + tfdt(0) + trun(samples(), fields=("size",),
                                                                                data_offset=off))]  # fmt: skip

    with pytest.raises(Mp4Error, match="absolute base data offset"):
        fmp4_explicit.explicit_samples(moof_mdat(absolute, payload(SIZES)), fmp4.tracks(PLAIN_INIT))

    def inside(off: int) -> list[bytes]:
        return [box("traf", tfhd(1, duration=512) + tfdt(0) + trun(samples(), fields=("size",), data_offset=8))]

    with pytest.raises(Mp4Error, match="before the moof's end"):
        fmp4_explicit.explicit_samples(moof_mdat(inside, payload(SIZES)), fmp4.tracks(PLAIN_INIT))
