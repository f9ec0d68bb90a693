"""fmp4 parses what ffmpeg writes: every sample's decode/presentation time, duration, size and sync flag of an
ffmpeg-written fragmented MP4 equal what the tests' own ffprobe (`-show_packets`) reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from splitstitch import fmp4
from splitstitch.binaries import binaries

# movflags as the encoders and the audio job write them, plus several fragments per file and signed offsets
LAYOUTS = {
    "segment": ["-movflags", "+empty_moov+default_base_moof+frag_custom"],
    "audio_job": ["-movflags", "+frag_custom+delay_moov+default_base_moof", "-frag_duration", "500000"],
    "keyframes": ["-movflags", "+empty_moov+default_base_moof+frag_keyframe"],
    "negative_cts": ["-movflags", "+empty_moov+default_base_moof+frag_keyframe+negative_cts_offsets"],
}


def write(path: Path, layout: list[str]) -> Path:
    subprocess.run([binaries().ffmpeg, "-nostdin", "-v", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=30:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
                    "-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "15", "-c:a", "aac", *layout,
                    "-f", "mp4", str(path)], check=True, timeout=120)  # fmt: skip
    return path


def ffprobe_packets(path: Path) -> tuple[list[str], dict[int, list[dict]]]:
    out = subprocess.run([binaries().ffprobe, "-v", "error", "-show_entries",
                          "stream=index,time_base:packet=stream_index,pts,dts,duration,size,flags", "-of", "json",
                          str(path)], capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    data = json.loads(out)
    packets: dict[int, list[dict]] = {}
    for p in data["packets"]:
        packets.setdefault(p["stream_index"], []).append(p)
    return [s["time_base"] for s in data["streams"]], packets


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_sample_matches_ffprobe(layout: str, tmp_path: Path) -> None:
    path = write(tmp_path / f"{layout}.mp4", LAYOUTS[layout])
    split = fmp4.split_file(path.read_bytes())
    tracks = fmp4.tracks(split.init)
    frags = fmp4.fragments(split.fragments, tracks)
    assert len(frags) >= (1 if layout == "segment" else 3)
    time_bases, packets = ffprobe_packets(path)
    assert [t.handler for t in tracks] == ["vide", "soun"]
    for stream, track in enumerate(tracks):
        assert time_bases[stream] == f"1/{track.timescale}"
        runs = [run for frag in frags for run in frag.runs if run.track_id == track.track_id]
        samples = []
        for run in runs:
            dts = run.decode_time
            for duration, size, cts, sync in zip(run.durations, run.sizes, run.cts, run.sync, strict=True):
                samples.append((dts, dts + cts, duration, size, sync))
                dts += duration
        # ffmpeg's demuxer presents an edit list's media_time as time 0, and delays presentation by the most
        # negative composition offset (its dts_shift) so that no pts precedes its dts
        shift = max(0, -min(run_cts for run in runs for run_cts in run.cts))
        expected = [(d - track.edit_media_time, p - track.edit_media_time + shift, dur, size, sync)
                    for d, p, dur, size, sync in samples]  # fmt: skip
        got = [(int(p["dts"]), int(p["pts"]), int(p["duration"]), int(p["size"]), "K" in p["flags"])
               for p in packets[stream]]  # fmt: skip
        assert len(got) == len(expected) > 30
        assert got == expected
    if layout == "negative_cts":
        assert min(c for f in frags for r in f.runs for c in r.cts) < 0  # the signed (trun v1) case was exercised
    if layout == "audio_job":
        assert all(t.edit_media_time > 0 for t in tracks)  # the edit-list case was exercised
