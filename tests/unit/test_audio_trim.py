"""Audio is trimmed on decoded samples, never by an input seek; where a track starts comes from its packets."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from splitstitch.audio import audio_args, plan_audio, track_start
from splitstitch.codecs import output_format
from splitstitch.frames import extent_of
from splitstitch.media import AudioInfo
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from tests.unit.factories import audio, frames, media

MP4 = output_format("h264", Path("o.mp4"))
SRC = MediaSource("file:/in/src.mp4", "/in/src.mp4", 1000)


def test_audio_before_the_video_is_cut_at_a_sample_count_without_an_input_seek() -> None:
    # video from 0.04 s (frame index in 1/90000), audio from 0: 1920 samples at 48 kHz precede the video
    info = media(frame_index=frames(start=3600), audios=(audio(start=0.0),), extents=((1, 0.0, 10.0),))
    plan = plan_audio(info, Settings(), MP4)
    assert plan and plan.mode == "encode" and plan.trim_start_s == 0.04 and plan.delay_s == 0.0
    assert audio_args(plan, SRC, Path("/w/audio.mp4")) == [
        "-protocol_whitelist", "file", "-threads", "1", "-i", "file:/in/src.mp4",
        "-filter_complex", "[0:1]atrim=start_pts=1920[s0];[s0]asetpts=PTS-1920[s1];[s1]atrim=end_sample=478080[s2]",
        "-map", "[s2]",
        "-f", "mp4", "-b:a:0", "128k", "-c:a", "aac", "-dn", "-frag_duration", "10000000", "-map_metadata", "-1",
        "-movflags", "+frag_custom+delay_moov+default_base_moof", "-sn", "-vn", "/w/audio.mp4",
    ]  # fmt: skip


def test_each_track_is_cut_at_the_same_instant_in_its_own_samples() -> None:
    # the file starts at 1.0 s (ffmpeg's decoded timeline starts there); video at 1.5 s; a 44.1 kHz track
    # from 1.0 s and a 48 kHz track from 1.7 s: both cut 0.5 s into the timeline and moved back by as much,
    # so the second keeps its 0.2 s offset to the video.
    first = AudioInfo(1, "aac", 2, "stereo", 44100, 1.0, 9.0, Fraction(1, 44100))
    late = AudioInfo(2, "ac3", 2, "stereo", 48000, 1.7, 8.0, Fraction(1, 48000))
    info = replace(media(frame_index=frames(start=135000), audios=(first, late)), start_time=1.0)
    plan = plan_audio(info, Settings(audio_tracks="all"), MP4)
    assert plan and plan.trim_start_s == 0.5 and plan.stream_indexes == (1, 2)
    args = audio_args(plan, SRC, Path("/w/a.m4a"))
    assert "-ss" not in args
    assert args[args.index("-filter_complex") + 1] == (
        "[0:1]atrim=start_pts=22050[s0];[s0]asetpts=PTS-22050[s1];"
        "[0:2]atrim=start_pts=24000[s2];[s2]asetpts=PTS-24000[s3]"
    )
    assert args[args.index("-map") : args.index("-map") + 4] == ["-map", "[s1]", "-map", "[s3]"]


def test_later_audio_is_delayed_at_mux_and_starts_at_zero_when_encoded() -> None:
    info = media(audios=(audio(codec="ac3", start=0.25),), extents=((1, 0.25, 10.0),))
    plan = plan_audio(info, Settings(), MP4)
    assert plan and plan.mode == "encode" and plan.delay_s == 0.25 and plan.trim_start_s == 0.0
    args = audio_args(plan, SRC, Path("/w/a.m4a"))
    # it stops where the source's presentation ends (9.75 s of 48 kHz samples): an encode drops the padding
    assert args[args.index("-filter_complex") + 1] == "[0:1]asetpts=PTS-STARTPTS[s0];[s0]atrim=end_sample=468000[s1]"
    # AAC that would fit is encoded too: the audio job's output must start at 0, and a copied stream keeps its
    # own start (ffmpeg writes it as an empty edit of the audio job's output)
    late_aac = plan_audio(media(audios=(audio(start=0.25),)), Settings(), MP4)
    assert late_aac and late_aac.mode == "encode" and late_aac.delay_s == 0.25
    aligned = plan_audio(media(audios=(audio(start=0.0),)), Settings(), MP4)
    assert aligned and aligned.mode == "copy"
    assert "-filter_complex" not in audio_args(aligned, SRC, Path("/w/a.m4a"))


def test_where_a_track_starts_comes_from_its_packets() -> None:
    # AVI: ffprobe says every stream starts at 0; the audio's index (dwStart) starts it at 0.3 s
    avi = media(frame_index=frames(start=3600), audios=(audio(codec="ac3", start=0.0),), extents=((1, 0.3, 4.3),))
    assert track_start(avi, avi.audio[0]) == 0.3
    plan = plan_audio(avi, Settings(), MP4)
    assert plan and plan.trim_start_s == 0.0 and plan.delay_s == 0.26
    # not scanned: ffprobe's stream start time, then the file's
    assert track_start(media(audios=(audio(start=0.5),)), audio(start=0.5)) == 0.5
    unknown = AudioInfo(1, "aac", 2, None, 48000, None, None)
    assert track_start(media(audios=(unknown,)), unknown) == 0.0


def test_audio_extent_never_starts_before_its_first_packet() -> None:
    rows = [("7200", "768", "K__", "100", "768"), ("7968", "768", "K__", "900", "768")]  # pts in bytes
    assert extent_of(rows, Fraction(1, 24000), start_time=0.0) == (0.3, 8736 / 24000)
