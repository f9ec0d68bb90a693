"""The pipeline's four stages, the one stage graph every executor runs:

    prepare ──► encode_segment(i) for every segment ─┐
            └─► encode_audio (once, whole file) ──────┴─► finish

The local runner (`pipeline.transcode`) schedules them on a thread pool over a work folder; the Lambda
handlers run one stage each over S3; the benchmark's model times the same graph. Stages talk only through
the job value and a `Storage` (names relative to the job), never through paths or S3 keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from splitstitch import assemble
from splitstitch import audio as audio_names
from splitstitch.audio import AudioPlan, AudioResult, plan_audio, plan_renditions
from splitstitch.audio import encode_audio as run_audio_job
from splitstitch.codecs import OutputFormat
from splitstitch.depth import TONEMAP_FILTERS, Depth, plan_depth
from splitstitch.encode import EncodedSegment, SegmentTask, fragment_name, init_name, result_name
from splitstitch.encode import encode_segment as run_segment_job
from splitstitch.errors import SegmentMismatchError, UsageError
from splitstitch.ffmpeg import ffmpeg_filters
from splitstitch.inputs import Limits, open_source, rebuild_timeline
from splitstitch.interlace import detect as detect_interlace
from splitstitch.job import Job
from splitstitch.ladder import plan_ladder
from splitstitch.media import MediaInfo
from splitstitch.plan import Fanout, plan_segments
from splitstitch.progress import Reporter
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.storage import Storage, get_json, put_json
from splitstitch.verify import Check, Verification, compare, depth_check, probe_written

log = logging.getLogger(__name__)
RESULT_READERS = 32  # segment results read at once by the finish stage


STREAM_SEGMENT_S = 6.0  # HLS/DASH segment length when none is asked for (Apple's authoring guidance: 6 s)
# what the report takes from the probe of the written bytes
WRITTEN_FIELDS = ("pix_fmt", "bit_depth", "profile", "color_primaries", "color_transfer", "color_space",
                  "color_range", "side_data")  # fmt: skip
REBUILT = "source/timeline"  # + the copy's extension: a source whose timestamps restart, on one timeline


def prepare(
    job_id: str, source: MediaSource, settings: Settings, output: OutputFormat, fanout: Fanout, *,
    store: Storage, work: Path, limits: Limits | None = None, head: bytes | None = None, scan_parallel: int = 1,
) -> Job:  # fmt: skip
    """Probe and plan; nothing is copied, except a source whose timestamps restart or jump, which is
    rebuilt on one timeline into `store` for the encoders. Raises InputError for a source to refuse."""
    info = open_source(source, limits, head, scan_parallel)
    check_depth(settings, info)
    info, copy = rebuild_timeline(info, source, work, limits)
    rebuilt = None
    if copy is not None:
        rebuilt = REBUILT + copy.suffix
        store.put_file(rebuilt, copy)
    interlace = detect_interlace(info, source, settings.deinterlace)
    if settings.streaming:  # one segment length for every rung, what HLS/DASH players expect
        planned = replace(settings, segment_seconds=settings.segment_seconds or STREAM_SEGMENT_S)
        plan = plan_segments(info, planned, fanout)
        assert info.video
        rungs = plan_ladder(settings.ladder, info.video.display_size, settings.codec)
        renditions = plan_renditions(info, settings, plan.target_seconds)
        return Job(job_id, source.name, settings, output, info, plan, None, fanout, rebuilt, rungs, renditions,
                   interlace=interlace)  # fmt: skip
    plan = plan_segments(info, settings, fanout)
    audio = plan_audio(info, settings, output, plan.target_seconds)
    return Job(job_id, source.name, settings, output, info, plan, audio, fanout, rebuilt, interlace=interlace)


def check_depth(settings: Settings, info: MediaInfo) -> Depth:
    """What the output keeps of the source's depth: refuses HDR into 8-bit without --tonemap (UsageError), or
    --tonemap with an ffmpeg that lacks its filters; says in the log when the depth is reduced."""
    assert info.video
    depth = plan_depth(settings, info.video)
    if depth.tonemap:
        available = ffmpeg_filters()
        missing = [f for f in TONEMAP_FILTERS if f not in available]
        if missing:
            raise UsageError(f"--tonemap: this ffmpeg has no {' or '.join(missing)} filter, which tone mapping needs")
    if depth.note():
        log.warning("%s: %s", info.path, depth.note())
    return depth


def encode_segment(
    task: SegmentTask,
    source: MediaSource,
    store: Storage,
    work: Path,
    on_progress: Reporter | None = None,
    timeout: float = 3600.0,
) -> EncodedSegment:
    """Encode and check one segment; store its fragments (and, for segment 0, the init) and its result.
    `timeout`: seconds the encode may take (a ToolError with `timed_out` after that)."""
    result, fragments, init = run_segment_job(task, source, work, timeout, on_progress=on_progress)
    store.put_file(fragment_name(result.index, task.rung), fragments)
    if result.index == 0:
        store.put_bytes(init_name(task.rung), init)
    put_json(store, result_name(result.index, task.rung), result.to_dict())  # last: marks the segment done
    return result


def encode_audio(
    plan: AudioPlan, source: MediaSource, store: Storage, work: Path, on_progress: Reporter | None = None
) -> AudioResult:
    result, fragments, init = run_audio_job(plan, source, work, on_progress=on_progress)
    store.put_file(audio_names.fragments_name(plan.name), fragments)
    store.put_bytes(audio_names.init_name(plan.name), init)
    put_json(store, audio_names.result_name(plan.name), result.to_dict())
    return result


class Sink(Protocol):
    """Where the output's bytes go: part `i` (0-based, in order) is `build(i)`; parts may be built at once.
    Once every part is built, `commit()` says whether the output may appear (False: discard it all)."""

    def write_parts(self, count: int, build: Callable[[int], bytes], commit: Callable[[], bool]) -> bool: ...


@dataclass(frozen=True)
class Finished:
    verification: Verification
    output: MediaInfo  # the output as its bytes say it is
    encoded: tuple[EncodedSegment, ...]
    audio: AudioResult | None
    size: int
    parts: int


def video_parts(job: Job, encoded: list[EncodedSegment]) -> list[assemble.VideoPart]:
    """Each segment's place on the output timeline, in the video track's timescale."""
    assert job.info.frames and job.info.video
    ticks = job.info.video.time_base * job.timescale  # source ticks -> timescale ticks (an integer)
    first, end = job.info.frames.timestamps[0], job.info.frames.end()
    parts = []
    for segment, result in zip(job.plan.segments, encoded, strict=True):
        if result.frames != segment.frames or result.timescale != job.timescale:
            raise SegmentMismatchError(f"segment {segment.name}: result does not match the plan")
        stop = segment.end_pts if segment.end_pts is not None else end
        parts.append(assemble.VideoPart(
            segment.index, int((segment.start_pts - first) * ticks), int((stop - segment.start_pts) * ticks),
            result.first_cts, result.span, result.last_duration, result.bytes, result.sha256, result.init_sha256,
            result.last_cts,
        ))  # fmt: skip
    return parts


def finish(job: Job, store: Storage, sink: Sink, name: str) -> Finished:
    """Assemble the output from the stored fragments into `sink` and verify it from the bytes written."""
    with ThreadPoolExecutor(max_workers=RESULT_READERS) as pool:  # one request each: in the cloud, at once
        encoded = list(
            pool.map(lambda s: EncodedSegment.from_dict(get_json(store, result_name(s.index))), job.plan.segments)
        )
    audio = AudioResult.from_dict(get_json(store, audio_names.result_name())) if job.audio else None
    video_init = store.get_bytes(init_name())
    audio_init = store.get_bytes(audio_names.init_name()) if job.audio else None
    lay = assemble.layout(video_init, video_parts(job, encoded), audio_init, list(audio.fragments) if audio else None,
                          job.audio.delay_s if job.audio else 0.0)  # fmt: skip
    groups = assemble.group_parts(lay)
    init_tracks = assemble.fmp4.tracks(lay.head)
    timelines = {i: assemble.OutputTimeline(init_tracks) for i in range(len(groups))}

    def fetch(piece: assemble.Piece) -> bytes:
        if piece.kind == "video":
            return store.get_bytes(fragment_name(piece.index))
        return store.get_bytes(audio_names.fragments_name(), piece.offset, piece.size)

    def build(i: int) -> bytes:
        data = assemble.build_part(groups[i], fetch, timelines[i])
        return lay.head + data if i == 0 else data

    verdict: dict[str, Any] = {}

    def commit() -> bool:
        """Every part is built: verify the output from what was written, before it may appear."""
        timeline = assemble.OutputTimeline(init_tracks)
        for i in range(len(groups)):
            for track, runs in timelines[i].runs.items():
                timeline.runs.setdefault(track, []).extend(runs)
            timeline.fragments += timelines[i].fragments
        out = assemble.output_info(name, lay.size, lay.head, timeline, job.output_pix_fmt, job.output_bit_depth)
        written = probe_written(lay.head, store.get_bytes(fragment_name(0)))
        if out.video and written:  # the report describes the file as written, not as planned
            out = replace(out, video=replace(out.video, **{k: getattr(written, k) for k in WRITTEN_FIELDS}))
        checks = [*compare(job.info, out, job.audio), *structure_checks(job, encoded, audio, timeline)]
        if out.video:
            checks.append(depth_check(job.depth, out.video))
        verdict.update(out=out, verification=Verification(tuple(checks)))
        return verdict["verification"].ok

    sink.write_parts(len(groups), build, commit)
    return Finished(verdict["verification"], verdict["out"], tuple(encoded), audio, lay.size, len(groups))


def structure_checks(
    job: Job, encoded: list[EncodedSegment], audio: AudioResult | None, timeline: assemble.OutputTimeline
) -> list[Check]:
    """What the structural proof rests on, each as a named check in the report."""
    joins = len(encoded) - 1
    checks = [
        Check("video_is_checked_segments", True,
              f"{len(encoded)} segments' fragments written byte for byte (SHA-256 equal to what each encoder "
              f"checked), one shared init, {timeline.fragments} fragments parsed from the output"),
        # an encoder stores its result only after its decode check passed (it raises otherwise)
        Check("segments_decode", True,
              f"every segment decoded by its encoder from its IDR ({job.settings.verify}: "
              f"{encoded[0].check if encoded else 'none'}); {joins} joins start fresh on an IDR with identical "
              "parameters"),
    ]  # fmt: skip
    if audio is not None:
        checks.append(Check("audio_decodes_cleanly", True, f"decoded by the audio job: {audio.check}"))
    return checks
