"""Probe parsing on literal ffprobe output."""

from __future__ import annotations

import json
from fractions import Fraction

from splitstitch.frames import extent_of, packet_rows, parse_frames, parse_packets
from splitstitch.media import MediaInfo, bit_depth_of, parse_streams, rotation_of
from tests.unit.factories import audio, frames, media, video


def rows(*packets: tuple[int | str, str]) -> list[tuple[str, str, str, str, str]]:
    return [(str(pts), "512", flags, str(100 * i), "100") for i, (pts, flags) in enumerate(packets)]


def test_closed_gop_keyframes_are_safe_cuts() -> None:
    # decode order I0 P3 B1 B2 | I4 P7 B5 B6  (pts in frames)
    index = parse_packets(rows((0, "K_"), (3, "__"), (1, "__"), (2, "__"), (4, "K_"), (7, "__"), (5, "__"), (6, "__")))
    assert index is not None
    assert index.timestamps == (0, 1, 2, 3, 4, 5, 6, 7)
    assert index.keyframes == (0, 4) and index.safe_cuts == (0, 4)


def test_open_gop_keyframe_with_leading_pictures_is_not_safe() -> None:
    # the second I (pts 6) is followed in decode order by B frames shown before it (4, 5)
    index = parse_packets(rows((0, "K_"), (3, "__"), (1, "__"), (2, "__"), (6, "K_"), (4, "__"), (5, "__"), (7, "__")))
    assert index is not None
    assert index.keyframes == (0, 6) and index.safe_cuts == (0,)


def test_packets_without_pts_or_discarded_need_the_decoder() -> None:
    assert parse_packets(rows((0, "K_"), ("N/A", "__"))) is None
    assert parse_packets(rows((0, "KD"), (1, "K_"))) is None


def test_empty_packets_are_held_frames() -> None:
    """Theora screencasts (recordMyDesktop, GNOME's recorder) write an empty packet for "the frame before stays
    on screen": the decoder outputs no frame for it, so it is no frame of the index; trailing ones hold the last."""
    packets = [(str(pts), "1", "K_" if pts == 0 else "__", str(100 * pts), "0" if pts in (3, 4, 5, 8, 9) else "50")
               for pts in range(10)]  # fmt: skip
    index = parse_packets(packets)
    assert index is not None
    assert index.timestamps == (0, 1, 2, 6, 7) and index.last_duration == 3  # frame 7 until the end of slot 9
    assert index.end() == 10 and index.is_vfr() and index.empty == 5


def test_frames_from_decoder_fill_missing_stamps() -> None:
    data = {"frames": [{"best_effort_timestamp": 1, "key_frame": 1}, {"best_effort_timestamp": 2, "key_frame": 0},
                       {"key_frame": 0}]}  # fmt: skip
    index = parse_frames(data)
    assert index and index.timestamps == (1, 2, 3) and index.keyframes == (0,) and not index.from_packets


def test_packet_rows_read_fields_in_any_order() -> None:
    text = "stream_index=0|pts=10|duration=5|size=7|pos=40|flags=K__|dts=8\nstream_index=1|flags=KD_|pts=-1024|duration=1024|pos=N/A|size=9\n"
    grouped = packet_rows(text)
    assert grouped[0] == [("10", "5", "K__", "40", "7", "8")]
    assert grouped[1] == [("-1024", "1024", "KD_", "N/A", "9", "N/A")]


def test_audio_extent_skips_priming() -> None:
    packets = [("-1024", "1024", "KD_", "0", "1"), ("0", "1024", "K__", "1", "1"), ("1024", "1024", "K__", "2", "1")]
    assert extent_of(packets, Fraction(1, 48000)) == (0.0, 2048 / 48000)
    mkv = [("-21", "21", "K__", "0", "1"), ("0", "21", "K__", "1", "1")]  # Matroska: priming as negative pts
    assert extent_of(mkv, Fraction(1, 1000), start_time=0.0) == (0.0, 0.021)


def test_vfr_detection() -> None:
    index = parse_packets(rows((0, "K_"), (10, "__"), (30, "__"), (40, "__"), (60, "__")))
    assert index and index.is_vfr()
    steady = parse_packets(rows((0, "K_"), (10, "__"), (20, "__"), (30, "__")))
    assert steady and not steady.is_vfr()


def test_rotation_and_bit_depth() -> None:
    assert rotation_of({"side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]}) == 270
    assert rotation_of({"side_data_list": [{"rotation": 90}]}) == 90
    assert rotation_of({"tags": {"rotate": "90"}}) == 270  # old tag is clockwise
    assert rotation_of({}) == 0
    assert bit_depth_of({"pix_fmt": "yuv420p10le"}) == 10
    assert bit_depth_of({"pix_fmt": "yuv420p", "bits_per_raw_sample": "8"}) == 8


def test_parse_streams_ignores_cover_art_and_types_fields() -> None:
    data = {
        "format": {"format_name": "mov,mp4", "duration": "4.0", "start_time": "0.0"},
        "streams": [
            {"index": 0, "codec_type": "video", "codec_name": "mjpeg", "disposition": {"attached_pic": 1}},
            {"index": 1, "codec_type": "audio", "codec_name": "aac", "channels": 2, "sample_rate": "48000",
             "time_base": "1/48000", "start_time": "0.0", "duration": "4.0"},
        ],
    }  # fmt: skip
    info = parse_streams("a.m4a", 10, data)
    assert info.video is None
    assert info.audio[0].channels == 2 and info.audio[0].time_base == Fraction(1, 48000)


def test_parse_streams_keeps_each_audio_tracks_language_tag() -> None:
    track = {"codec_type": "audio", "codec_name": "aac", "channels": 2, "sample_rate": "48000"}
    data = {"format": {"format_name": "matroska,webm"}, "streams": [
        {**track, "index": 0, "tags": {"language": "fre"}}, {**track, "index": 1, "tags": {"LANGUAGE": "ger"}},
        {**track, "index": 2}]}  # fmt: skip
    info = parse_streams("a.mkv", 10, data)
    assert [a.language for a in info.audio] == ["fre", "ger", None]
    assert MediaInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info


def test_media_info_round_trips_through_json() -> None:
    info = media(video_info=video(rotation=90, declared_frames=300), frame_index=frames(300, 3000, 60, safe=False),
                 audios=(audio(1), audio(2, "opus", 6, -0.02)), extents=((1, 0.0, 10.0), (2, -0.02, 9.98)))  # fmt: skip
    assert MediaInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
