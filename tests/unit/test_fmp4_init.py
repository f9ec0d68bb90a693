"""fmp4_init: the merged init (track IDs, edit lists, mehd) and the sidx, read back field by field."""

from __future__ import annotations

import struct

import pytest

from splitstitch import fmp4
from splitstitch.fmp4 import Mp4Error
from splitstitch.fmp4_init import SidxReference, TrackEdit, build_init, build_sidx, elst, movie_timescale
from tests.unit.mp4boxes import audio_init, box, ftyp, init, trak, trex, video_entry, video_init
from tests.unit.mp4boxes import elst as hand_elst


def elst_entries(data: bytes) -> list[tuple[int, int, int]]:
    """(version, segment_duration, media_time) of every track's single edit, in track order."""
    out = []
    for box_ in fmp4.find(data, "moov/trak/edts/elst"):
        version = data[box_.body]
        count, duration, media_time = struct.unpack_from(">IQq" if version else ">IIi", data, box_.body + 4)
        assert count == 1
        out.append((version, duration, media_time))
    return out


def test_video_becomes_track_1_and_audio_tracks_follow_with_their_edits() -> None:
    video = video_init(track_id=5, edit=hand_elst(99))
    audio = audio_init((1, 2), media_time=1024)
    data, mapping = build_init(video, TrackEdit(2048), audio, (TrackEdit(1024), TrackEdit(2112)), duration=4000)
    assert mapping == {1: 2, 2: 3}
    assert data.startswith(ftyp())
    assert [(t.track_id, t.handler, t.timescale, t.edit_media_time) for t in fmp4.tracks(data)] == [
        (1, "vide", 90000, 2048), (2, "soun", 48000, 1024), (3, "soun", 48000, 2112),
    ]  # fmt: skip
    # one edit per track (the video's old edit list replaced, not kept beside the new one), each `duration` long
    assert elst_entries(data) == [(0, 4000, 2048), (0, 4000, 1024), (0, 4000, 2112)]
    trex_ids = [struct.unpack_from(">I", data, b.body + 4)[0] for b in fmp4.find(data, "moov/mvex/trex")]
    assert trex_ids == [1, 2, 3]
    (mvhd,) = fmp4.find(data, "moov/mvhd")
    assert struct.unpack_from(">I", data, mvhd.end - 4)[0] == 4  # next_track_ID
    (mehd,) = fmp4.find(data, "moov/mvex/mehd")
    assert data[mehd.body] == 1 and struct.unpack_from(">Q", data, mehd.body + 4)[0] == 4000
    assert movie_timescale(data) == 1000


def test_audio_trex_defaults_travel_with_their_renumbered_track() -> None:
    audio = init([trak(7, "soun", 44100, b""), trak(3, "soun", 44100, b"")], [trex(3, duration=1), trex(7, duration=2)])
    data, mapping = build_init(video_init(), TrackEdit(0), audio, (TrackEdit(None), TrackEdit(None)))
    assert mapping == {7: 2, 3: 3}
    assert [(t.track_id, t.default_duration) for t in fmp4.tracks(data)] == [(1, 0), (2, 2), (3, 1)]


def test_no_edit_writes_no_edit_list_and_removes_an_old_one() -> None:
    data, mapping = build_init(video_init(edit=hand_elst(512)), TrackEdit(None))
    assert mapping == {} and elst_entries(data) == []
    assert [t.track_id for t in fmp4.tracks(data)] == [1]
    (mvhd,) = fmp4.find(data, "moov/mvhd")
    assert struct.unpack_from(">I", data, mvhd.end - 4)[0] == 2


def test_edit_needs_version_1_beyond_32_bits() -> None:
    assert elst(5, 10) == hand_elst(5, duration=10)
    big = elst(2**31, 10)
    assert big == hand_elst(2**31, version=1, duration=10)
    (parsed,) = fmp4.tracks(init([trak(1, "vide", 90000, video_entry(2, 2), big)], [trex(1)]))
    assert parsed.edit_media_time == 2**31


@pytest.mark.parametrize(
    ("video", "audio", "edits", "message"),
    [
        (init([trak(1, "vide", 1, b""), trak(2, "vide", 1, b"")], [trex(1)]), None, (), "video init has 2 tracks"),
        (video_init(), audio_init((1, 2)), (TrackEdit(0),), "1 audio edits for 2 audio tracks"),
        (video_init(), audio_init() + box("moov"), (TrackEdit(0),), "audio init has 2 moov boxes"),
        (ftyp(), None, (), "video init has 0 moov boxes"),
    ],
)
def test_inits_that_cannot_be_merged_are_refused(video: bytes, audio: bytes | None, edits: tuple, message: str) -> None:
    with pytest.raises(Mp4Error, match=message):
        build_init(video, TrackEdit(0), audio, edits)


def test_sidx_fields() -> None:
    refs = [SidxReference(1000, 270000), SidxReference(2**31 - 1, 135000, starts_with_sap=False)]
    data = build_sidx(1, 90000, 6000, refs)
    (sidx,) = fmp4.iter_boxes(data)
    assert (sidx.type, sidx.size) == ("sidx", len(data))
    version_flags, ref_id, timescale, earliest, first_offset, reserved, count = struct.unpack_from(
        ">IIIQQHH", data, sidx.body
    )
    assert (version_flags, ref_id, timescale, earliest, first_offset, reserved, count) == (
        1 << 24,
        1,
        90000,
        6000,
        0,
        0,
        2,
    )
    entries = [struct.unpack_from(">III", data, sidx.body + 32 + 12 * n) for n in range(count)]
    # reference_type 0 (media) | size; duration; starts_with_SAP | SAP type 1 | delta 0
    assert entries == [(1000, 270000, 0x90000000), (2**31 - 1, 135000, 0)]
    assert sidx.body + 32 + 12 * count == sidx.end


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ([SidxReference(2**31, 1)], "too large for a sidx reference"),
        ([SidxReference(1, 1)] * 2**16, "do not fit one sidx"),
    ],
)
def test_sidx_refuses_what_its_fields_cannot_hold(refs: list[SidxReference], message: str) -> None:
    with pytest.raises(Mp4Error, match=message):
        build_sidx(1, 90000, 0, refs)
