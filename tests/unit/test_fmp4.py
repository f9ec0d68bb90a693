"""fmp4: box walking, init facts, fragment parsing and in-place patches, on hand-built boxes (no ffmpeg)."""

from __future__ import annotations

import struct

import pytest

from splitstitch import fmp4, fmp4_patch
from splitstitch.fmp4 import Mp4Error
from splitstitch.fmp4_patch import Patch
from tests.unit.mp4boxes import (
    Sample,
    audio_init,
    box,
    elst,
    fragment,
    full,
    gop,
    init,
    tfdt,
    tfhd,
    traf,
    trak,
    trex,
    trun,
    video_entry,
    video_fragment,
    video_init,
)  # fmt: skip

VIDEO = fmp4.tracks(video_init())


def parse(data: bytes, tracks: list[fmp4.TrackInfo] = VIDEO) -> list[fmp4.Fragment]:
    return fmp4.fragments(data, tracks)


# ------------------------------------------------------------------------------------------------ boxes


def test_iter_boxes_reads_sizes_types_and_64_bit_sizes() -> None:
    large = struct.pack(">I4sQ", 1, b"mdat", 16 + 5) + b"12345"
    data = box("free", b"ab") + large + box("skip")
    got = [(b.type, b.start, b.size, b.header) for b in fmp4.iter_boxes(data)]
    assert got == [("free", 0, 10, 8), ("mdat", 10, 21, 16), ("skip", 31, 8, 8)]
    assert next(b for b in fmp4.iter_boxes(data) if b.type == "mdat").body == 26


def test_size_zero_runs_to_the_end() -> None:
    data = box("ftyp", b"x") + struct.pack(">I4s", 0, b"mdat") + b"rest of file"
    assert [(b.type, b.size) for b in fmp4.iter_boxes(data)] == [("ftyp", 9), ("mdat", 20)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (struct.pack(">I4s", 4, b"free"), "claims 4 bytes"),  # smaller than its own header
        (struct.pack(">I4s", 100, b"moov") + bytes(10), "claims 100 bytes, 18 left"),  # past the end
        (struct.pack(">I4sQ", 1, b"mdat", 12) + bytes(4), "claims 12 bytes"),  # 64-bit size under 16
        (box("free") + b"\x00\x00\x00", "3 stray bytes at offset 8"),
    ],
)
def test_malformed_sizes_raise_mp4error(data: bytes, message: str) -> None:
    with pytest.raises(Mp4Error, match=message):
        list(fmp4.iter_boxes(data))


def test_a_child_box_may_not_overrun_its_parent() -> None:
    parent = box("moov", struct.pack(">I4s", 50, b"trak") + bytes(4))
    (moov,) = fmp4.iter_boxes(parent)
    with pytest.raises(Mp4Error):
        fmp4.children(parent, moov)


def test_find_follows_a_path_in_file_order() -> None:
    data = video_init(track_id=7) + box("free")
    (tkhd,) = fmp4.find(data, "moov/trak/tkhd")
    assert data[tkhd.start + 4 : tkhd.start + 8] == b"tkhd"
    assert [b.type for b in fmp4.find(data, "moov/mvex/trex")] == ["trex"]
    assert fmp4.find(data, "moov/trak/nope") == []


# --------------------------------------------------------------------------------------------- split_file


def test_split_file_keeps_init_and_fragments_and_drops_the_rest() -> None:
    head = video_init()
    frags = video_fragment(1, 0, gop(3)) + video_fragment(2, 9000, gop(2))
    assert fmp4.split_file(head + frags) == fmp4.Split(head, frags)
    dressed = head + box("free") + box("styp", b"msdh") + box("sidx", bytes(20)) + frags + box("mfra", bytes(8))
    assert fmp4.split_file(dressed) == fmp4.Split(head, frags)


@pytest.mark.parametrize("data", [video_init(), video_fragment(1, 0, gop(2)), b""])
def test_split_file_refuses_what_is_not_fragmented(data: bytes) -> None:
    with pytest.raises(Mp4Error, match="not a fragmented MP4"):
        fmp4.split_file(data)


# ------------------------------------------------------------------------------------------------- tracks


def test_tracks_read_ids_handlers_timescales_edits_and_trex_defaults() -> None:
    data = init(
        [trak(3, "vide", 15360, video_entry(64, 48), elst(1024)),
         trak(9, "soun", 44100, b"", elst(2**40, version=1), header_version=1)],
        [trex(9, duration=1024, size=6, flags=0x2000000), trex(3)],
    )  # fmt: skip
    assert fmp4.tracks(data) == [
        fmp4.TrackInfo(3, "vide", 15360, 1024),
        fmp4.TrackInfo(9, "soun", 44100, 2**40, default_duration=1024, default_size=6, default_flags=0x2000000),
    ]


def test_a_track_without_edit_list_starts_at_zero_and_a_broken_trak_is_refused() -> None:
    assert fmp4.tracks(video_init())[0].edit_media_time == 0
    with pytest.raises(Mp4Error, match="without tkhd, mdhd or hdlr"):
        fmp4.tracks(box("moov", box("trak", box("tkhd", bytes(84)))))


# ---------------------------------------------------------------------------------------------- fragments


def test_per_sample_fields_give_durations_sizes_offsets_and_sync() -> None:
    samples = [Sample(3000, 50, 6000, True), Sample(3000, 20, 12000, False), Sample(1500, 30, 0, False)]
    (frag,) = parse(video_fragment(4, 90000, samples))
    assert (frag.sequence, frag.start) == (4, 0)
    (run,) = frag.runs
    assert run == fmp4.Run(1, 90000, (3000, 3000, 1500), (50, 20, 30), (6000, 12000, 0), (True, False, False))
    assert run.span == 7500
    assert run.presentation_times() == [96000, 105000, 96000]
    assert frag.size == len(video_fragment(4, 90000, samples))


def test_trun_version_1_offsets_are_signed_and_version_0_unsigned() -> None:
    samples = [Sample(512, 1, -512), Sample(512, 1, 0)]
    v1 = fragment(1, [box("traf", tfhd(1) + tfdt(0) + trun(samples, version=1))])
    assert parse(v1)[0].runs[0].cts == (-512, 0)
    v0 = fragment(1, [box("traf", tfhd(1) + tfdt(0) + trun([Sample(512, 1, 2**31 + 5)], version=0))])
    assert parse(v0)[0].runs[0].cts == (2**31 + 5,)


def test_tfhd_defaults_override_trex_defaults_and_samples_override_both() -> None:
    tracks = fmp4.tracks(init([trak(1, "soun", 48000, b"")], [trex(1, duration=1024, size=9, flags=0x10000)]))
    only_counts = trun([Sample(0, 0)] * 3, fields=())
    from_trex = fragment(1, [box("traf", tfhd(1) + tfdt(0) + only_counts)])
    run = parse(from_trex, tracks)[0].runs[0]
    assert (run.durations, run.sizes, run.sync) == ((1024,) * 3, (9,) * 3, (False,) * 3)
    from_tfhd = fragment(
        1, [box("traf", tfhd(1, duration=960, size=4, flags=0, base_offset=0) + tfdt(0) + only_counts)]
    )
    run = parse(from_tfhd, tracks)[0].runs[0]
    assert (run.durations, run.sizes, run.sync) == ((960,) * 3, (4,) * 3, (True,) * 3)
    sizes_only = trun([Sample(0, 7), Sample(0, 8)], fields=("size",))
    run = parse(fragment(1, [box("traf", tfhd(1, duration=960) + tfdt(0) + sizes_only)]), tracks)[0].runs[0]
    assert (run.durations, run.sizes) == ((960, 960), (7, 8))


def test_first_sample_flags_apply_to_the_first_sample_only() -> None:
    tracks = fmp4.tracks(init([trak(1, "vide", 90000, b"")], [trex(1, flags=0x10000)]))
    data = fragment(1, [box("traf", tfhd(1) + tfdt(0) + trun([Sample(1, 1)] * 3, fields=("duration",), first_flags=0))])
    assert parse(data, tracks)[0].runs[0].sync == (True, False, False)


def test_several_trafs_and_fragments_and_a_version_0_tfdt() -> None:
    data = fragment(1, [traf(1, 0, gop(2)), traf(2, 480, [Sample(1024, 4)] * 2, tfdt_version=0)])
    data += fragment(2, [traf(1, 6000, gop(1))])
    frags = parse(data, [*VIDEO, *fmp4.tracks(audio_init((2,)))])
    assert [(f.sequence, [(r.track_id, r.decode_time, len(r.sizes)) for r in f.runs]) for f in frags] == [
        (1, [(1, 0, 2), (2, 480, 2)]), (2, [(1, 6000, 1)]),
    ]  # fmt: skip
    assert frags[1].start == frags[0].size and frags[1].start + frags[1].size == len(data)


def test_a_moof_without_its_mdat_is_refused() -> None:
    data = video_fragment(1, 0, gop(2))
    moof_only = data[: next(b for b in fmp4.iter_boxes(data) if b.type == "mdat").start]
    with pytest.raises(Mp4Error, match="not followed by an mdat"):
        parse(moof_only + box("free"))


# ----------------------------------------------------------------------------------------------- patching


def runs_of(data: bytes) -> list[fmp4.Run]:
    return [run for frag in parse(data, [*VIDEO, *fmp4.tracks(audio_init((2,)))]) for run in frag.runs]


def test_each_patch_field_changes_only_what_it_names() -> None:
    original = video_fragment(1, 0, gop(3)) + video_fragment(2, 9000, gop(2))
    cases = [
        (Patch(decode_time_shift=45000), [(45000, (6000,) * 3), (54000, (6000,) * 2)]),
        (Patch(cts_shift=1500), [(0, (7500,) * 3), (9000, (7500,) * 2)]),
    ]
    for patch, expected in cases:
        patched = fmp4_patch.patch_fragments(original, patch)
        assert len(patched) == len(original)
        got = runs_of(patched)
        assert [(r.decode_time, r.cts) for r in got] == expected
        assert [(r.durations, r.sizes, r.sync) for r in got] == [
            (r.durations, r.sizes, r.sync) for r in runs_of(original)
        ]
    renumbered = fmp4_patch.patch_fragments(original, Patch(first_sequence=41))
    assert [f.sequence for f in parse(renumbered)] == [41, 42]
    assert [f.sequence for f in parse(original)] == [1, 2]
    assert fmp4_patch.patch_fragments(original, Patch()) == original


def test_track_ids_and_per_track_shifts_follow_the_old_id() -> None:
    data = fragment(1, [traf(1, 100, gop(2)), traf(2, 200, [Sample(1024, 4)])])
    patched = fmp4_patch.patch_fragments(data, Patch(decode_time_shift=7, shifts={2: 1000}, track_ids={1: 5, 2: 3}))
    tracks = [fmp4.TrackInfo(5, "vide", 90000, 0), fmp4.TrackInfo(3, "soun", 48000, 0)]
    assert [(r.track_id, r.decode_time) for r in parse(patched, tracks)[0].runs] == [(5, 107), (3, 1200)]


def test_last_duration_sets_the_very_last_sample_of_the_last_fragment() -> None:
    data = video_fragment(1, 0, gop(3)) + video_fragment(2, 9000, gop(2))
    got = runs_of(fmp4_patch.patch_fragments(data, Patch(last_duration=1234)))
    assert [r.durations for r in got] == [(3000,) * 3, (3000, 1234)]


def test_trun_version_change_and_negative_offsets() -> None:
    data = video_fragment(1, 0, gop(3, delay=1000))
    v1 = fmp4_patch.patch_fragments(data, Patch(cts_shift=-1500, trun_version=1))
    assert runs_of(v1)[0].cts == (-500,) * 3
    with pytest.raises(Mp4Error, match="composition offset -500 < 0 needs trun version 1"):
        fmp4_patch.patch_fragments(data, Patch(cts_shift=-1500))
    back = fmp4_patch.patch_fragments(v1, Patch(cts_shift=1500, trun_version=0))
    assert back == data  # a round trip restores every byte


def test_patch_round_trips_to_the_original_bytes() -> None:
    data = fragment(3, [traf(1, 9000, gop(4)), traf(2, 48000, [Sample(1024, 4)] * 2)]) + video_fragment(
        4, 21000, gop(2)
    )
    there = fmp4_patch.patch_fragments(data, Patch(decode_time_shift=90000, cts_shift=3000, first_sequence=10,
                                             track_ids={1: 1, 2: 2}))  # fmt: skip
    assert there != data
    assert fmp4_patch.patch_fragments(there, Patch(decode_time_shift=-90000, cts_shift=-3000, first_sequence=3)) == data


@pytest.mark.parametrize(
    ("data", "patch", "message"),
    [
        (video_fragment(1, 0, gop(2)), Patch(decode_time_shift=-1), "tfdt -1 does not fit"),
        (fragment(1, [traf(1, 2**32 - 10, gop(1), tfdt_version=0)]), Patch(decode_time_shift=20), "does not fit a version 0"),
        (fragment(1, [box("traf", tfhd(1) + tfdt(0) + trun(gop(2), fields=("duration", "size")))]), Patch(cts_shift=1),
         "no composition offsets"),
        (fragment(1, [box("traf", tfhd(1, duration=5) + tfdt(0) + trun(gop(2), fields=("size",)))]),
         Patch(last_duration=9), "no per-sample durations"),
        (box("free"), Patch(last_duration=9), "no trun"),
    ],
)  # fmt: skip
def test_patches_that_cannot_be_written_are_refused(data: bytes, patch: Patch, message: str) -> None:
    with pytest.raises(Mp4Error, match=message):
        fmp4_patch.patch_fragments(data, patch)


def test_full_box_and_make_box_write_what_iter_boxes_reads() -> None:
    data = fmp4.full_box("tfdt", 1, 0, struct.pack(">Q", 5)) + fmp4.make_box("mdat", b"xy")
    assert data == full("tfdt", 1, 0, struct.pack(">Q", 5)) + box("mdat", b"xy")


def test_last_duration_reaches_the_last_trun_of_a_traf_with_several() -> None:
    """A traf may hold several truns (ffmpeg writes one per contiguous run of samples in the mdat)."""
    two_runs = box("traf", tfhd(1) + tfdt(0) + trun(gop(2)) + trun(gop(3)[1:]))
    data = fragment(1, [two_runs], payload=40)
    (run,) = parse(fmp4_patch.patch_fragments(data, Patch(last_duration=1234)))[0].runs
    assert run.durations == (3000, 3000, 3000, 1234)


@pytest.mark.parametrize(
    ("span", "duration", "last", "first_cts", "last_cts", "expected"),
    [
        (9000, 9000, 3000, 6000, 9000, (None, 0)),  # already exact
        (9000, 10000, 3000, 0, 0, (4000, 0)),  # no reordering: the last frame lasts longer
        (9000, 12000, 3000, 3000, 9000, (3000, 3000)),  # held before the last frame: it decodes later instead
        (9000, 15000, 3000, 3000, 6000, (6000, 3000)),  # later by at most its offset above the first's
        (9000, 8000, 3000, 3000, 9000, (2000, 0)),  # shorter: never decodes earlier
        (9000, 6000, 3000, 0, 0, (0, 0)),  # 3000 ticks past the end: the caller refuses it
    ],
)  # fmt: skip
def test_segment_end(span: int, duration: int, last: int, first_cts: int, last_cts: int, expected: tuple) -> None:
    assert fmp4_patch.segment_end(span, duration, last, first_cts, last_cts) == expected


def test_the_last_sample_can_decode_later_and_present_when_it_did() -> None:
    """Frames 0, 1, 2 and 4 (frame 3 held): the encoder spaced decode times evenly, so the last frame's offset
    is a frame above the others'. It decodes a frame later: the hold moves to the sample before it."""
    samples = [Sample(3000, 10, 3000, True), Sample(3000, 10, 3000, False), Sample(3000, 10, 3000, False),
               Sample(3000, 10, 6000, False)]  # fmt: skip
    data = video_fragment(1, 0, samples)
    (before,) = runs_of(data)
    (after,) = runs_of(fmp4_patch.patch_fragments(data, Patch(last_duration=3000, last_decodes_later=3000)))
    assert after.durations == (3000, 3000, 6000, 3000) and after.cts == (3000,) * 4
    assert after.presentation_times() == before.presentation_times() == [3000, 6000, 9000, 15000]
    with pytest.raises(Mp4Error, match="cannot decode later"):
        fmp4_patch.patch_fragments(video_fragment(1, 0, samples[:1]), Patch(last_duration=1, last_decodes_later=1))
    v0 = Patch(last_duration=3000, last_decodes_later=7000)
    with pytest.raises(Mp4Error, match="composition offset -1000 < 0 needs trun version 1"):
        fmp4_patch.patch_fragments(data, v0)
