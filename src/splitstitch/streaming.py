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
import os
import re
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

from splitstitch import audio as audio_names
from splitstitch import fmp4, package
from splitstitch.assemble import OutputTimeline, output_info, sample_entry, track_extent
from splitstitch.audio import AudioPlan, AudioResult
from splitstitch.binaries import decoder_ffmpeg
from splitstitch.encode import EncodedSegment, fragment_name, init_name, result_name
from splitstitch.errors import SegmentMismatchError, ToolError, UsageError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.fmp4_init import TrackEdit, build_init
from splitstitch.job import Job
from splitstitch.ladder import Rung
from splitstitch.storage import Storage, get_json
from splitstitch.verify import AUDIO_TOLERANCE_S, Check, Verification, compare

MASTER, MPD, PLAYLIST = "master.m3u8", "manifest.mpd", "playlist.m3u8"


class Writer(Protocol):
    """Where the package's files go (a local folder, or keys under outputs/<job>/)."""

    def write(self, name: str, data: bytes) -> None: ...


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


def _rung(job: Job, rung: Rung, store: Storage, write: Callable[[str, bytes], None]) -> tuple[package.Rendition, list[Check], list[EncodedSegment]]:  # fmt: skip
    """One rung's init and segments, written and parsed; its checks against the source and the plan."""
    assert job.info.video and job.info.frames
    encoded = [EncodedSegment.from_dict(get_json(store, result_name(s.index, rung.name))) for s in job.plan.segments]
    if len({e.init_sha256 for e in encoded}) != 1:
        raise SegmentMismatchError(f"rung {rung.name}: segments were encoded with different inits")
    video_init = store.get_bytes(init_name(rung.name))
    total = int((job.info.frames.end() - job.info.frames.timestamps[0]) * job.info.video.time_base * job.timescale)
    init, _ = build_init(video_init, TrackEdit(None), duration=round(total / job.timescale * 1000))
    folder = f"video/{rung.name}"
    write(f"{folder}/init.mp4", init)
    timeline, segments, checks = OutputTimeline(fmp4.tracks(init)), [], []
    for segment, result in zip(job.plan.segments, encoded, strict=True):
        data = store.get_bytes(fragment_name(segment.index, rung.name))
        if not result.placed or hashlib.sha256(data).hexdigest() != result.sha256:
            raise SegmentMismatchError(f"rung {rung.name} segment {segment.name}: stored bytes differ from what was checked")
        place = job.placement(segment.index)
        timeline.add(data)
        run = timeline.runs[1][-1]
        if run.decode_time != place.start or run.span != place.duration:
            checks.append(Check(f"{rung.name}_segment_{segment.name}", False, "does not span its planned time"))
        write(f"{folder}/{segment_uri(segment.index)}", data)
        segments.append(package.MediaSegment(segment_uri(segment.index), place.start, place.duration, len(data)))
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


def _audio(job: Job, plan: AudioPlan, store: Storage, write: Callable[[str, bytes], None]) -> tuple[package.Rendition, list[Check]]:  # fmt: skip
    result = AudioResult.from_dict(get_json(store, audio_names.result_name(plan.name)))
    init = store.get_bytes(audio_names.init_name(plan.name))
    tracks = fmp4.tracks(init)
    folder = f"audio/{plan.name}"
    write(f"{folder}/init.mp4", init)
    timeline, segments = OutputTimeline(tracks), []
    for n, frag in enumerate(result.fragments):
        raw = store.get_bytes(audio_names.fragments_name(plan.name), frag.offset, frag.size)
        if hashlib.sha256(raw).hexdigest() != frag.sha256:
            raise SegmentMismatchError(f"audio {plan.name} fragment {n}: stored bytes differ from what was checked")
        data = fmp4.patch_fragments(raw, fmp4.Patch(first_sequence=n + 1))
        timeline.add(data)
        run = timeline.runs[tracks[0].track_id][-1]
        write(f"{folder}/{segment_uri(n)}", data)
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
        checks += [
            Check(f"{plan.name}_start", abs(got[0]) <= AUDIO_TOLERANCE_S, f"starts {got[0] * 1000:+.1f} ms from the video"),
            Check(f"{plan.name}_end_drift", abs(got[1] - expected_end) <= AUDIO_TOLERANCE_S,
                  f"ends at {got[1]:.4f} s, source {expected_end:.4f} s ({(got[1] - expected_end) * 1000:+.1f} ms)"),
            Check(f"{plan.name}_channels", channels == plan.channels, f"{channels} channels, planned {plan.channels}"),
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
        rendition, rung_checks, rung_encoded = _rung(job, rung, store, write)
        videos.append(rendition)
        checks += rung_checks
        encoded += rung_encoded
    for plan in job.renditions:
        rendition, audio_checks = _audio(job, plan, store, write)
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
        text = writer_text(writer, name)
        missing += [u for u in manifest_uris(name, text) if u not in written]
    checks.append(Check("manifests", not missing, f"{len(manifests)} manifests parse; " + (
        f"missing {missing[0]}" if missing else "every URI in them was written")))  # fmt: skip
    return Packaged(Verification(tuple(checks)), tuple(videos), tuple(audios), tuple(encoded), tuple(written),
                    sum(written.values()), master if job.settings.streaming != "dash" else mpd_name)  # fmt: skip


def writer_text(writer: Writer, name: str) -> str:
    read = getattr(writer, "read", None)
    if read is None:
        raise TypeError("the writer cannot read back what it wrote")
    return read(name).decode()


class FolderWriter:
    """Files written into a folder (the caller moves the folder into place once it is verified)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, data: bytes) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def check_target(out: Path, force: bool, source: Path | None = None) -> None:
    """OUT is a folder that does not exist, is empty, or may be replaced (--force); never half-overwritten.
    Never one that holds the source or the current folder: replacing it would delete them."""
    where, here = out.resolve(), Path.cwd().resolve()
    if source is not None and where in source.resolve().parents:
        raise UsageError(f"{out}: holds the source {source}; choose another folder")
    if where == here:
        raise UsageError(f"{out}: is the current folder; name a folder for the package (e.g. -o out/stream.m3u8)")
    if where in here.parents:
        raise UsageError(f"{out}: holds the current folder; choose another folder")
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: is a file; streaming output goes into a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(f"{out}: folder is not empty (use --force to replace it)")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: folder {out.parent} does not exist")


def place(built: Path, out: Path) -> None:
    """Swap the verified folder in: the old one (if any) moves aside first and goes only once the new one is
    in place, so OUT is always either the old package or the new one."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        os.replace(out, old)
    try:
        os.replace(built, out)
    except BaseException:
        if old.exists():
            os.replace(old, out)  # the new one could not move in: the old one goes back
        raise
    shutil.rmtree(old, ignore_errors=True)


def _decode_args(folder: Path, packaged: Packaged, n: int, dash: bool) -> list[str]:
    if dash:
        mpd = next(f for f in packaged.files if f.endswith(".mpd"))
        return ["-protocol_whitelist", "file", "-i", f"file:{folder / mpd}", "-map", f"0:v:{n}"]
    playlist = folder / packaged.videos[n].folder / PLAYLIST
    return ["-protocol_whitelist", "file", "-i", f"file:{playlist}", "-map", "0:v:0"]


def playback_checks(folder: Path, packaged: Packaged, frames: int) -> list[Check]:
    """One playback check per kind of manifest written (HLS, DASH, or both for CMAF)."""
    kinds = [kind for kind, suffix in (("hls", ".m3u8"), ("dash", ".mpd")) if any(
        f.endswith(suffix) and "/" not in f for f in packaged.files)]  # fmt: skip
    return [playback_check(folder, packaged, frames, kind == "dash") for kind in kinds]


def playback_check(folder: Path, packaged: Packaged, frames: int, dash: bool) -> Check:
    """ffmpeg reading each rung as a player would decodes every frame with no warnings: the DASH demuxer (of
    the ffmpeg that has one, see binaries.py) reading the MPD, else the HLS demuxer reading the rung's media
    playlist. Not the master playlist: ffmpeg 8.1's HLS demuxer corrupts packets when it reads two
    fragmented-MP4 variants of one master at once, with ffmpeg's own HLS output too."""
    program = decoder_ffmpeg("dash") if dash else None
    problems = []
    for n, video in enumerate(packaged.videos):
        args = [*_decode_args(folder, packaged, n, dash), "-fps_mode", "passthrough", "-f", "framemd5", "-"]
        try:
            done = run_ffmpeg(args, loglevel="warning", timeout=3600, program=program)
        except ToolError as exc:
            problems.append(f"{video.name}: {exc}")
            continue
        got = sum(1 for line in done.stdout.splitlines() if line and not line.startswith("#"))
        warned = done.stderr.strip().splitlines()[:1]
        if got != frames or warned:
            problems.append(
                f"{video.name}: {got} frames decoded of {frames}" + (f", {warned[0][:100]}" if warned else "")
            )
    via = "the MPD" if dash else "each rung's media playlist"
    return Check(f"{'dash' if dash else 'hls'}_playback_decodes_every_frame", not problems,
                 problems[0] if problems else f"ffmpeg reading {via} decoded all {frames} frames of each of "
                 f"{len(packaged.videos)} rungs, no warnings")  # fmt: skip
