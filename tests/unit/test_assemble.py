"""assemble: the layout of an output from its parts, part grouping, hash-checked building, and the output as
its bytes say it is. Hand-built fragments; no ffmpeg."""

from __future__ import annotations

import hashlib
import random
import struct
from dataclasses import replace

import pytest

from splitstitch import assemble, fmp4, fmp4_patch
from splitstitch.assemble import MIN_PART_BYTES, AudioFragment, Layout, Piece, VideoPart
from splitstitch.errors import SegmentMismatchError
from splitstitch.headers import header_checks
from tests.unit.mp4boxes import Sample, audio_init, fragment, traf, video_fragment, video_init

STEP = 3000  # one frame at 30 fps in a 90 kHz timescale
VIDEO_INIT = video_init(timescale=90000)
AUDIO_INIT = audio_init((1,), rate=48000, media_time=1024)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def segment(order: list[int], delay: int, durations: list[int] | None = None) -> bytes:
    """One segment's fragment: frames in decode order shown at `order` (frame numbers), IDR first."""
    durations = durations or [STEP] * len(order)
    samples = [
        Sample(d, 10 + i, (shown - i) * STEP + delay, i == 0)
        for i, (shown, d) in enumerate(zip(order, durations, strict=True))
    ]
    return video_fragment(1, 0, samples)


def part(index: int, data: bytes, start: int, duration: int, first_cts: int) -> VideoPart:
    (run,) = fmp4.fragments(data, fmp4.tracks(VIDEO_INIT))[0].runs
    return VideoPart(index, start, duration, first_cts, run.span, run.durations[-1], len(data), sha(data), "init")


# three segments: B-frame reordering (delay 1 frame), none (delay 2 frames), and a last one of 2 frames
SEGMENTS = [segment([0, 3, 1, 2], STEP), segment([0, 1, 2], 2 * STEP), segment([0, 1], 2 * STEP)]
PARTS = [part(0, SEGMENTS[0], 0, 4 * STEP, STEP), part(1, SEGMENTS[1], 4 * STEP, 3 * STEP, 2 * STEP),
         part(2, SEGMENTS[2], 7 * STEP, 2 * STEP, 2 * STEP)]  # fmt: skip
AUDIO = fragment(1, [traf(1, 0, [Sample(1024, 6)] * 2)]) + fragment(2, [traf(1, 2048, [Sample(1024, 6)] * 2)])


def audio_frags(starts: list[float]) -> list[AudioFragment]:
    size = len(AUDIO) // 2
    return [AudioFragment((n % 2) * size, size, sha(AUDIO[(n % 2) * size :][:size]), s) for n, s in enumerate(starts)]


def test_layout_shifts_every_segment_onto_one_timeline_with_one_edit() -> None:
    lay = assemble.layout(VIDEO_INIT, PARTS, index=False)
    assert lay.video_edit == 2 * STEP  # E = the largest first composition offset
    assert [p.patch for p in lay.pieces] == [
        fmp4_patch.Patch(decode_time_shift=0, cts_shift=STEP, first_sequence=1),
        fmp4_patch.Patch(decode_time_shift=4 * STEP, cts_shift=0, first_sequence=2),
        fmp4_patch.Patch(decode_time_shift=7 * STEP, cts_shift=0, first_sequence=3),
    ]
    assert [(p.kind, p.index, p.size, p.sha256) for p in lay.pieces] == [
        ("video", i, len(s), sha(s)) for i, s in enumerate(SEGMENTS)
    ]
    assert fmp4.tracks(lay.head)[0].edit_media_time == 2 * STEP
    assert lay.size == len(lay.head) + sum(map(len, SEGMENTS))


def test_written_output_shows_every_frame_once_on_the_source_timeline() -> None:
    lay = assemble.layout(VIDEO_INIT, PARTS, AUDIO_INIT, audio_frags([0.0, 0.2]))
    timeline = assemble.OutputTimeline(fmp4.tracks(lay.head))
    body = assemble.build_part(
        list(lay.pieces), lambda p: SEGMENTS[p.index] if p.kind == "video" else AUDIO[p.offset :][: p.size], timeline
    )
    info = assemble.output_info("out.mp4", lay.size, lay.head, timeline, "yuv420p", 8)
    assert info.frames and info.video
    assert info.frames.timestamps == tuple(range(0, 9 * STEP, STEP))
    assert info.frames.keyframes == (0, 4, 7)
    assert (info.video.codec, info.video.width, info.video.height, info.video.declared_frames) == ("h264", 320, 240, 9)
    assert info.audio[0].codec == "aac" and (info.audio[0].channels, info.audio[0].sample_rate) == (2, 48000)
    # audio: 8 samples of 1024 ticks, the first 1024 (priming) hidden by its edit list
    assert info.audio_extents == ((1, 0.0, 3 * 1024 / 48000),)
    assert timeline.fragments == 5
    assert [f.sequence for f in fmp4.fragments(body, fmp4.tracks(lay.head))] == [1, 2, 3, 4, 5]


def _sidx(lay: Layout) -> bytes:
    """The video track's sidx (the first one)."""
    box = next(b for b in fmp4.iter_boxes(lay.head) if b.type == "sidx")
    return lay.head[box.start : box.end]


def test_audio_fragments_go_after_the_segment_they_start_in_and_sidx_covers_them() -> None:
    # with the 20 ms delay the fragments start at 0.02, 0.12, 0.14, 0.22 and 0.52 s; segments end at 0.1333 s and
    # 0.2333 s, and the last segment takes every remaining audio fragment
    lay = assemble.layout(VIDEO_INIT, PARTS, AUDIO_INIT, audio_frags([0.0, 0.1, 0.12, 0.2, 0.5]), audio_delay=0.02)
    assert [(p.kind, p.index) for p in lay.pieces] == [
        ("video", 0), ("audio", 0), ("audio", 1), ("video", 1), ("audio", 2), ("audio", 3), ("video", 2), ("audio", 4),
    ]  # fmt: skip
    assert [p.patch.first_sequence for p in lay.pieces] == list(range(1, 9))
    audio_patch = lay.pieces[1].patch
    assert audio_patch.shifts == {} and audio_patch.track_ids == {1: 2} and audio_patch.cts_shift == 0
    # the 20 ms delay is an empty edit before the audio track's media (its samples keep their times)
    assert fmp4.tracks(lay.head)[1].edit_delay_s == 0.02
    sidx = _sidx(lay)
    boxes = [b for b in fmp4.iter_boxes(lay.head) if b.type == "sidx"]
    assert len(boxes) == 2 and lay.head.endswith(lay.head[boxes[1].start : boxes[1].end])  # video's, then audio's
    _, _, timescale, earliest, first_offset, _, count = struct.unpack_from(">IIIQQHH", sidx, 8)
    assert (timescale, earliest, first_offset, count) == (90000, 2 * STEP, boxes[1].size, 3)
    refs = [struct.unpack_from(">III", sidx, 40 + 12 * n)[:2] for n in range(count)]
    sizes = [p.size for p in lay.pieces]
    assert refs == [(sum(sizes[0:3]), 4 * STEP), (sum(sizes[3:6]), 3 * STEP), (sum(sizes[6:]), 2 * STEP)]
    assert len(lay.head) + sum(r[0] for r in refs) == lay.size
    mehd = fmp4.find(lay.head, "moov/mvex/mehd")[0]
    assert struct.unpack_from(">Q", lay.head, mehd.body + 4)[0] == 520  # ms: the last audio fragment's start


def test_last_duration_is_fixed_to_the_planned_end_or_refused() -> None:
    short = segment([0, 1], 2 * STEP, [STEP, 1000])  # the encoder guessed 1000 ticks for its last frame
    lay = assemble.layout(VIDEO_INIT, [*PARTS[:2], part(2, short, 7 * STEP, 2 * STEP, 2 * STEP)], index=False)
    assert [p.patch.last_duration for p in lay.pieces] == [None, None, STEP]
    long = segment([0, 1], 2 * STEP, [STEP, 2 * STEP])
    with pytest.raises(SegmentMismatchError, match="segment 00002 decodes 6000 ticks past its end"):
        assemble.layout(VIDEO_INIT, [*PARTS[:2], part(2, long, 7 * STEP, STEP, 2 * STEP)])


def test_segments_that_do_not_join_exactly_are_refused() -> None:
    gap = [PARTS[0], part(1, SEGMENTS[1], 5 * STEP, 3 * STEP, 2 * STEP)]
    with pytest.raises(SegmentMismatchError, match="segment 00000 does not end where segment 00001 starts"):
        assemble.layout(VIDEO_INIT, gap)
    other_init = [PARTS[0], replace(PARTS[1], init_sha256="other")]
    with pytest.raises(SegmentMismatchError, match="2 different inits"):
        assemble.layout(VIDEO_INIT, other_init)


def test_build_part_refuses_bytes_that_differ_from_what_was_checked() -> None:
    lay = assemble.layout(VIDEO_INIT, PARTS)
    flipped = bytearray(SEGMENTS[1])
    flipped[-3] ^= 1
    fetch = {0: SEGMENTS[0], 1: bytes(flipped), 2: SEGMENTS[2]}
    with pytest.raises(SegmentMismatchError, match="video piece 1: stored bytes differ"):
        assemble.build_part(list(lay.pieces), lambda p: fetch[p.index])
    with pytest.raises(SegmentMismatchError, match="stored bytes differ"):
        assemble.build_part([lay.pieces[0]], lambda p: SEGMENTS[0][:-1])
    two = SEGMENTS[0] + SEGMENTS[0]
    piece = Piece("video", 0, 0, len(two), sha(two), fmp4_patch.Patch())
    with pytest.raises(SegmentMismatchError, match="segment 00000: expected one fragment"):
        assemble.build_part([piece], lambda p: two)


def pieces(sizes: list[int]) -> Layout:
    return Layout(
        b"h" * 1000, tuple(Piece("video", i, 0, s, "", fmp4_patch.Patch()) for i, s in enumerate(sizes)), 0, ()
    )


MIB = 1 << 20


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([20 * MIB, 20 * MIB, MIB, 30 * MIB, 2 * MIB], [[0, 1], [2, 3, 4]]),
        ([40 * MIB, MIB], [[0, 1]]),  # a small tail joins the group before it
        ([MIB] * 3, [[0, 1, 2]]),
        ([33 * MIB, 6 * MIB], [[0], [1]]),
    ],
)
def test_group_parts(sizes: list[int], expected: list[list[int]]) -> None:
    assert [[p.index for p in g] for g in assemble.group_parts(pieces(sizes))] == expected


@pytest.mark.parametrize("seed", range(20))
def test_every_group_but_the_last_is_at_least_5_mib_and_order_is_kept(seed: int) -> None:
    rng = random.Random(seed)
    lay = pieces([rng.choice([rng.randint(1, MIB), rng.randint(MIB, 40 * MIB)]) for _ in range(rng.randint(1, 40))])
    target = rng.choice([MIN_PART_BYTES, 8 * MIB, 32 * MIB])
    groups = assemble.group_parts(lay, target)
    assert [p for g in groups for p in g] == list(lay.pieces)
    sizes = [sum(p.size for p in g) + (len(lay.head) if n == 0 else 0) for n, g in enumerate(groups)]
    assert all(size >= MIN_PART_BYTES for size in sizes[:-1]), sizes


def _assembled(audio_lengths: tuple[float, ...], audio_delay: float = 0.0) -> tuple[Layout, assemble.OutputTimeline]:
    size = len(AUDIO) // 2
    frags = [AudioFragment(0, size, sha(AUDIO[:size]), -1024 / 48000, 2048, 0),
             AudioFragment(size, size, sha(AUDIO[size:]), 1024 / 48000, 2048, 2048)]  # fmt: skip
    lay = assemble.layout(VIDEO_INIT, PARTS, AUDIO_INIT, frags, audio_delay, audio_lengths=audio_lengths)
    timeline = assemble.OutputTimeline(fmp4.tracks(lay.head))
    assemble.build_part(list(lay.pieces), lambda p: SEGMENTS[p.index] if p.kind == "video" else AUDIO[p.offset :][: p.size],
                        timeline)  # fmt: skip
    return lay, timeline


def _durations(head: bytes) -> dict[str, object]:
    (mvhd,) = fmp4.find(head, "moov/mvhd")
    (mehd,) = fmp4.find(head, "moov/mvex/mehd")
    tkhds = [struct.unpack_from(">I", head, b.body + 20)[0] for b in fmp4.find(head, "moov/trak/tkhd")]
    edits = [(round(t.edit_delay_s * 1000), round(t.edit_duration_s * 1000)) for t in fmp4.tracks(head)]
    return {"mvhd": struct.unpack_from(">I", head, mvhd.body + 16)[0],
            "mehd": struct.unpack_from(">Q", head, mehd.body + 4)[0], "tkhd": tkhds, "edits": edits}  # fmt: skip


def test_each_track_states_its_own_length_and_the_movie_its_longest() -> None:
    # video: 9 frames of 1/30 s = 300 ms; audio: 3072 samples after the 1024 of priming = 64 ms decoded, of
    # which the source presents 50 ms (the rest is the last frame's padding)
    lay, timeline = _assembled((0.05,))
    assert _durations(lay.head) == {"mvhd": 300, "mehd": 300, "tkhd": [300, 50], "edits": [(0, 300), (0, 50)]}
    out = assemble.output_info("o.mp4", lay.size, lay.head, timeline, "yuv420p", 8)
    assert out.audio_extents == ((1, 0.0, 0.05),)  # as heard: the edit list ends it
    assert [c.name for c in header_checks(lay.head, timeline, (0.05,)) if not c.ok] == []
    # a header that says less than the source presents, or more than decodes, fails
    assert [c.name for c in header_checks(lay.head, timeline, (0.06,)) if not c.ok] == ["headers_audio0"]
    longer, timeline = _assembled((1.0,))  # more than was written: the edit stops at the samples (64 ms)
    assert _durations(longer.head)["edits"] == [(0, 300), (0, 64)]
    assert [c.name for c in header_checks(longer.head, timeline, (1.0,)) if not c.ok] == []


def test_late_audio_ends_the_movie_after_its_delay() -> None:
    lay, timeline = _assembled((0.05,), audio_delay=0.28)
    assert _durations(lay.head) == {"mvhd": 330, "mehd": 330, "tkhd": [300, 330], "edits": [(0, 300), (280, 50)]}
    assert [c.name for c in header_checks(lay.head, timeline, (0.05,)) if not c.ok] == []
