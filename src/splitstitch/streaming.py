"""The finish stage of a streaming job: no stitch. Every encoded segment of every rung becomes a CMAF media
segment as it is (patched in place onto the rung's timeline), every audio fragment an audio segment, and
HLS playlists and a DASH MPD are written over the same files. Everything is verified from the bytes
written, per rung: frames and timestamps against the source, segment durations against the plan, one
init per rung, and every URI of every manifest present.

    <out>/master.m3u8  manifest.mpd  video/<rung>/{init.mp4, 00000.m4s, ..., playlist.m3u8}
                                     audio/<name>/{init.mp4, 00000.m4s, ..., playlist.m3u8}

(HLS: the playlists, no MPD; DASH: the MPD, no playlists; CMAF: both over the same files.)
"""

from __future__ import annotations

import hashlib
import itertools
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

from splitstitch import audio as audio_names
from splitstitch import fmp4, fmp4_patch, package
from splitstitch.assemble import OutputTimeline, output_info, sample_entry, track_extent
from splitstitch.audio import AudioPlan, AudioResult
from splitstitch.encode import EncodedSegment, fragment_name, init_name, result_name
from splitstitch.errors import SegmentMismatchError
from splitstitch.fmp4_init import TrackEdit, build_init
from splitstitch.job import Job
from splitstitch.ladder import Rung
from splitstitch.plan import Segment
from splitstitch.stages import RESULT_READERS
from splitstitch.storage import Storage, get_json
from splitstitch.verify import AUDIO_TOLERANCE_S, HEARD_TOLERANCE_S, Check, Verification, compare

MASTER, MPD, PLAYLIST = "master.m3u8", "manifest.mpd", "playlist.m3u8"


class Writer(Protocol):
    """Where the package's files go (a local folder, or keys under outputs/<job>/)."""

    threads: int  # segments published at once

    def write(self, name: str, data: bytes) -> None: ...

    def read(self, name: str) -> bytes: ...

    def publish(self, store: Storage, stored: str, name: str, result: EncodedSegment) -> bytes:
        """Put a stored segment (checked by its encoder) at `name`, proving the bytes are the ones checked;
        returns at least its moof and the header of its mdat (a copy in S3 is not read back whole)."""
        ...


@dataclass(frozen=True)
class Packaged:
    verification: Verification
    videos: tuple[package.Rendition, ...]
    audios: tuple[package.Rendition, ...]
    encoded: tuple[EncodedSegment, ...]
    files: tuple[str, ...]
    size: int
    entry: str  # the master playlist (HLS, CMAF) or the MPD (DASH)


def segment_uri(index: int) -> str:
    return f"{index:05d}.m4s"


def _rung(job: Job, rung: Rung, store: Storage, writer: Writer, published: dict[str, int]) -> tuple[package.Rendition, list[Check], list[EncodedSegment]]:  # fmt: skip
    """One rung's init and segments, written and parsed; its checks against the source and the plan."""
    assert job.info.video and job.info.frames
    with ThreadPoolExecutor(max_workers=RESULT_READERS) as pool:  # one request each: in the cloud, at once
        encoded = list(pool.map(lambda s: EncodedSegment.from_dict(get_json(store, result_name(s.index, rung.name))),
                                job.plan.segments))  # fmt: skip
    if len({e.init_sha256 for e in encoded}) != 1:
        raise SegmentMismatchError(f"rung {rung.name}: segments were encoded with different inits")
    video_init = store.get_bytes(init_name(rung.name))
    total = int((job.info.frames.end() - job.info.frames.timestamps[0]) * job.info.video.time_base * job.timescale)
    init, _ = build_init(video_init, TrackEdit(None), duration=round(total / job.timescale * 1000))
    folder = f"video/{rung.name}"
    writer.write(f"{folder}/init.mp4", init)
    published[f"{folder}/init.mp4"] = len(init)
    tracks = fmp4.tracks(init)
    timeline, segments, checks = OutputTimeline(tracks), [], []

    def publish(pair: tuple[Segment, EncodedSegment]) -> tuple[fmp4.Run, ...]:
        segment, result = pair
        if not result.placed:
            raise SegmentMismatchError(f"rung {rung.name} segment {segment.name}: not placed by its encoder")
        name = f"{folder}/{segment_uri(segment.index)}"
        head = writer.publish(store, fragment_name(segment.index, rung.name), name, result)
        return fmp4.head_runs(head, result.bytes, tracks)

    with ThreadPoolExecutor(max_workers=max(1, writer.threads)) as pool:
        runs = list(pool.map(publish, zip(job.plan.segments, encoded, strict=True)))
    for segment, result, segment_runs in zip(job.plan.segments, encoded, runs, strict=True):
        place = job.placement(segment.index)
        timeline.runs.setdefault(1, []).extend(segment_runs)
        timeline.fragments += 1
        if segment_runs[0].decode_time != place.start or sum(r.span for r in segment_runs) != place.duration:
            checks.append(Check(f"{rung.name}_segment_{segment.name}", False, "does not span its planned time"))
        published[f"{folder}/{segment_uri(segment.index)}"] = result.bytes
        segments.append(package.MediaSegment(segment_uri(segment.index), place.start, place.duration, result.bytes))
    out = output_info(folder, 0, init, timeline, job.output_pix_fmt, job.output_bit_depth)
    for c in compare(job.info, out, None):
        if c.name != "audio_tracks":
            checks.append(Check(f"{rung.name}_{c.name}", c.ok, c.detail))
    checks.append(Check(f"{rung.name}_segments", not any(not c.ok for c in checks if "_segment_" in c.name),
                        f"{len(segments)} segments, each its planned duration, decode times continuous"))  # fmt: skip
    assert out.video
    rate = Fraction(job.info.frames.count, 1) / Fraction(job.info.video_seconds()).limit_denominator(100000)
    stamps = job.info.frames.timestamps
    step = min((b - a for a, b in itertools.pairwise(stamps)), default=job.info.frames.last_duration)
    rendition = package.Rendition("video", rung.name, folder, "init.mp4", package.codec_string(init), job.timescale,
                                  tuple(segments), out.video.width, out.video.height, rate.limit_denominator(1001),
                                  max_frame_rate=1 / (step * job.info.video.time_base))  # fmt: skip
    return rendition, checks, encoded


def _audio(job: Job, plan: AudioPlan, store: Storage, writer: Writer, published: dict[str, int]) -> tuple[package.Rendition, list[Check]]:  # fmt: skip
    result = AudioResult.from_dict(get_json(store, audio_names.result_name(plan.name)))
    init = store.get_bytes(audio_names.init_name(plan.name))
    tracks = fmp4.tracks(init)
    folder = f"audio/{plan.name}"
    writer.write(f"{folder}/init.mp4", init)
    published[f"{folder}/init.mp4"] = len(init)

    def publish(n: int) -> bytes:
        frag = result.fragments[n]
        raw = store.get_bytes(audio_names.fragments_name(plan.name), frag.offset, frag.size)
        if hashlib.sha256(raw).hexdigest() != frag.sha256:
            raise SegmentMismatchError(f"audio {plan.name} fragment {n}: stored bytes differ from what was checked")
        data = fmp4_patch.patch_fragments(raw, fmp4_patch.Patch(first_sequence=n + 1))
        writer.write(f"{folder}/{segment_uri(n)}", data)
        return data

    with ThreadPoolExecutor(max_workers=max(1, writer.threads)) as pool:
        written = list(pool.map(publish, range(len(result.fragments))))
    timeline, segments = OutputTimeline(tracks), []
    for n, data in enumerate(written):
        timeline.add(data)
        run = timeline.runs[tracks[0].track_id][-1]
        published[f"{folder}/{segment_uri(n)}"] = len(data)
        segments.append(package.MediaSegment(segment_uri(n), run.decode_time, run.span, len(data)))
    _, channels, rate = sample_entry(init, tracks[0].track_id)
    checks = [Check(f"{plan.name}_decodes_cleanly", True, f"decoded by the audio job: {result.check}")]
    # a rendition starts with the video (audio before it trimmed, a later start padded with silence) and
    # ends where the source's audio ends, relative to the video
    assert job.info.frames
    extent = job.info.audio_extent(plan.stream_indexes[0])
    got = track_extent(timeline.runs.get(tracks[0].track_id, []), tracks[0])
    if extent is None or got is None:
        checks.append(Check(f"{plan.name}_present", False, "no audio samples"))
    else:
        expected_end = extent[1] - job.info.video_start()
        tick = float(next(a.time_base for a in job.info.audio if a.index == plan.stream_indexes[0]))
        checks += [
            Check(f"{plan.name}_start", abs(got[0]) <= AUDIO_TOLERANCE_S, f"starts {got[0] * 1000:+.1f} ms from the video"),
            Check(f"{plan.name}_end_drift", abs(got[1] - expected_end) <= AUDIO_TOLERANCE_S,
                  f"ends at {got[1]:.4f} s, source {expected_end:.4f} s ({(got[1] - expected_end) * 1000:+.1f} ms)"),
            Check(f"{plan.name}_channels", channels == plan.channels, f"{channels} channels, planned {plan.channels}"),
            # as heard: the rendition's samples (priming skipped, the last one cut to the source's end)
            Check(f"{plan.name}_as_heard", max(abs(got[0]), abs(got[1] - expected_end)) <= HEARD_TOLERANCE_S + tick,
                  f"presents {got[0] * 1000:+.2f} ms to {got[1]:.4f} s from the video, source to {expected_end:.4f} s"),
        ]  # fmt: skip
    rendition = package.Rendition("audio", plan.name, folder, "init.mp4", package.codec_string(init),
                                  tracks[0].timescale, tuple(segments), channels=channels, sample_rate=rate)  # fmt: skip
    return rendition, checks


def manifest_uris(name: str, text: str) -> list[str]:
    """URIs a playlist or MPD refers to, relative to the output folder."""
    folder = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
    if name.endswith(".m3u8"):
        uris = [line for line in text.splitlines() if line and not line.startswith("#")]
        uris += re.findall(r'URI="([^"]+)"', text)
        return [folder + u for u in uris]
    root = ET.fromstring(text)
    ns = {"d": "urn:mpeg:dash:schema:mpd:2011"}
    found = []
    for rep in root.iterfind(".//d:Representation", ns):
        template = rep.find("d:SegmentTemplate", ns)
        assert template is not None
        found.append(template.attrib["initialization"])
        number = int(template.attrib.get("startNumber", "1"))
        for s in template.iterfind("d:SegmentTimeline/d:S", ns):
            for _ in range(int(s.attrib.get("r", "0")) + 1):
                found.append(
                    re.sub(r"\$Number%0(\d+)d\$", lambda m, n=number: f"{n:0{m.group(1)}d}", template.attrib["media"])
                )
                number += 1
    return found


def finish_streaming(job: Job, store: Storage, writer: Writer, entry: str | None = None) -> Packaged:
    """Write the package and verify it from what was written; `entry` names the master playlist or MPD."""
    master = entry if entry and entry.endswith(".m3u8") else MASTER
    mpd_name = entry if entry and entry.endswith(".mpd") else MPD
    written: dict[str, int] = {}

    def write(name: str, data: bytes) -> None:
        writer.write(name, data)
        written[name] = len(data)

    videos, audios, checks, encoded = [], [], [], []
    for rung in job.rungs:
        rendition, rung_checks, rung_encoded = _rung(job, rung, store, writer, written)
        videos.append(rendition)
        checks += rung_checks
        encoded += rung_encoded
    for plan in job.renditions:
        rendition, audio_checks = _audio(job, plan, store, writer, written)
        audios.append(rendition)
        checks += audio_checks
    manifests = []
    if job.settings.streaming in ("hls", "cmaf"):
        for r in [*videos, *audios]:
            write(f"{r.folder}/{PLAYLIST}", package.media_playlist(r).encode())
        write(master, package.master_playlist(videos, audios).encode())
        manifests += [master, *(f"{r.folder}/{PLAYLIST}" for r in [*videos, *audios])]
    if job.settings.streaming in ("dash", "cmaf"):
        write(mpd_name, package.mpd(videos, audios).encode())
        manifests.append(mpd_name)
    missing = []
    for name in manifests:
        text = writer.read(name).decode()
        missing += [u for u in manifest_uris(name, text) if u not in written]
    checks.append(Check("manifests", not missing, f"{len(manifests)} manifests parse; " + (
        f"missing {missing[0]}" if missing else "every URI in them was written")))  # fmt: skip
    return Packaged(Verification(tuple(checks)), tuple(videos), tuple(audios), tuple(encoded), tuple(written),
                    sum(written.values()), master if job.settings.streaming != "dash" else mpd_name)  # fmt: skip
