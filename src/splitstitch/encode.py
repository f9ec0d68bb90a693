"""Encode one video segment straight from the source: seek to a keyframe at or before the segment, decode,
keep exactly `[start_pts, end_pts)` with `trim`, and encode video only (starting with an IDR frame, closed
GOP, identical parameters in every segment, source timestamps kept relative to the segment's first frame)
into a fragmented MP4 whose fragments the finish stage concatenates.

The argv builder is pure; `encode_segment` runs it and checks the result: exactly the planned frames, an
IDR first, one video track in the planned timescale, and a decode of the segment with no warnings
(`verify="full"`), or of its first frames, where a join can break (`verify="joins"`): a decoder crossing a
join meets an IDR with the same parameter sets and starts afresh, so what it decodes after the join is what
a fresh decoder of the segment decodes.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from splitstitch import fmp4, fmp4_explicit, fmp4_patch
from splitstitch.codecs import ENCODER, PROBE_CODEC, SVT_PRESET, VP9_CPU_USED, codec_tag
from splitstitch.command import compile_args, filter_chain, input_stream
from splitstitch.errors import SegmentMismatchError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import VideoInfo
from splitstitch.plan import SEEK_EPSILON_S, Segment
from splitstitch.settings import Settings
from splitstitch.source import MediaSource
from splitstitch.verify import decode_check

log = logging.getLogger(__name__)

VerifyMode = Literal["full", "joins"]
ROTATION_FILTERS = {90: "transpose=cclock", 180: "hflip,vflip", 270: "transpose=clock"}
FRAGMENTED = "+empty_moov+default_base_moof+frag_custom"  # one init with no samples, then the fragments
# Containers whose index (MP4/MOV moov) holds every stream's parameters: a remote encoder skips probing packets
# at the file's start (otherwise one 4 MiB range request there per encoder, far from its segment).
INDEXED_CONTAINERS = {"mov"}


def _folder(rung: str | None) -> str:
    return f"segments/{rung}" if rung else "segments"


def fragment_name(index: int, rung: str | None = None) -> str:
    """The stored fragments of segment `index` (moof + mdat), locally and under the cloud's work/<job>/."""
    return f"{_folder(rung)}/{index:05d}.m4s"


def result_name(index: int, rung: str | None = None) -> str:
    return f"{_folder(rung)}/{index:05d}.json"


def init_name(rung: str | None = None) -> str:
    """Segment 0's init; every other segment's init must hash the same."""
    return f"{_folder(rung)}/init.mp4"


INIT_NAME = init_name()


def item_name(task: SegmentTask) -> str:
    """What a segment's encode is called in logs, usage and error records: 00003, or 720p-00003 on a rung."""
    return f"{task.rung}-{task.segment.index:05d}" if task.rung else f"{task.segment.index:05d}"


@dataclass(frozen=True)
class Placement:
    """Where a streaming segment sits on its rung's timeline (in the video timescale): the encoder writes
    the final CMAF media segment itself, so the finish stage only checks and publishes it."""

    start: int
    duration: int
    sequence: int

    def patch(self, first_cts: int, span: int, last_duration: int, last_cts: int = 0) -> fmp4_patch.Patch:
        """CMAF: no edit list; the first frame presents at the segment's decode time (negative composition
        offsets after it); the last sample ends where the next segment starts."""
        last, later = fmp4_patch.segment_end(span, self.duration, last_duration, first_cts, last_cts)
        if last is not None and last <= 0:
            raise SegmentMismatchError(f"segment decodes {span - self.duration} ticks past its planned end")
        return fmp4_patch.Patch(decode_time_shift=self.start, cts_shift=-first_cts, first_sequence=self.sequence,
                          trun_version=1, last_duration=last, last_decodes_later=later)  # fmt: skip


@dataclass(frozen=True)
class SegmentTask:
    """Everything one encoder needs, self-contained (in the cloud it is one Distributed Map item)."""

    segment: Segment
    video: VideoInfo
    source_start: float  # the container's start time: `-ss` is relative to it
    settings: Settings
    threads: int
    timescale: int  # output video track timescale (the source time base's denominator)
    verify: VerifyMode = "full"
    rung: str | None = None  # streaming: which rung of the ladder (settings carry its height and cap)
    placement: Placement | None = None  # streaming: the encoder writes the final media segment
    container: str = ""  # the source's probed format name ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm"...)

    def to_dict(self) -> dict[str, Any]:
        return {"segment": asdict(self.segment), "video": self.video.to_dict(), "source_start": self.source_start,
                "settings": self.settings.to_dict(), "threads": self.threads, "timescale": self.timescale,
                "verify": self.verify, "rung": self.rung, "container": self.container,
                "placement": asdict(self.placement) if self.placement else None}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SegmentTask:
        return cls(Segment(**d["segment"]), VideoInfo.from_dict(d["video"]), d["source_start"],
                   Settings.from_dict(d["settings"]), d["threads"], d["timescale"], d.get("verify", "full"),
                   d.get("rung"), Placement(**d["placement"]) if d.get("placement") else None,
                   d.get("container", ""))  # fmt: skip


@dataclass(frozen=True)
class EncodedSegment:
    index: int
    frames: int
    bytes: int  # of the stored fragments
    sha256: str  # of the stored fragments
    init_sha256: str
    first_cts: int  # composition offset of the first sample: the encoder's reordering delay
    span: int  # sum of the sample durations (decode span), in `timescale`
    last_duration: int  # of the last sample in decode order
    timescale: int
    seconds: float  # encode wall seconds
    check_seconds: float  # the decode check's wall seconds
    check: str  # what the decode check covered
    placed: bool = False  # the stored bytes are the final media segment (streaming), not raw fragments
    md5: str = ""  # of the stored bytes: what S3 reports as the ETag of a single-part object and its copies
    last_cts: int = 0  # composition offset of the last sample in decode order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EncodedSegment:
        return cls(**d)


def output_pix_fmt(settings: Settings, video: VideoInfo) -> str:
    """8-bit 4:2:0 for H.264 (what players decode); 10-bit kept for the newer codecs."""
    if settings.codec != "h264" and video.bit_depth > 8:
        return "yuv420p10le"
    return "yuv420p"


def geometry_filters(settings: Settings, video: VideoInfo) -> list[str]:
    """Rotation baked into the pixels (the output carries no display matrix), then size.

    `--height` (and a ladder rung) names the short side of the displayed picture, as "720p" does: a portrait
    1080x1920 at 720 becomes 720x1280. No upscaling: a height above the source's short side keeps the source
    size. 4:2:0 needs even sizes: odd dimensions lose their last row/column by crop rather than a resample of
    the whole picture.
    """
    filters = [ROTATION_FILTERS[video.rotation]] if video.rotation in ROTATION_FILTERS else []
    display_width, display_height = video.display_size
    if settings.height and settings.height < min(display_width, display_height):
        short = settings.height - settings.height % 2
        filters.append(f"scale=-2:{short}" if display_height <= display_width else f"scale={short}:-2")
    elif video.width % 2 or video.height % 2:
        filters.append("crop=trunc(iw/2)*2:trunc(ih/2)*2:0:0")
    return filters


def encoder_options(settings: Settings, video: VideoInfo, threads: int) -> dict[str, str | int | None]:
    crf, preset = settings.effective_crf, settings.preset
    options: dict[str, str | int | None] = {"c:v": ENCODER[settings.codec]}
    if settings.codec == "h264":
        options |= {"preset": preset, "crf": crf, "x264-params": "open-gop=0"}
    elif settings.codec == "h265":
        pools = f"pools={threads}:frame-threads={threads}"
        options |= {"preset": preset, "crf": crf, "x265-params": f"{pools}:open-gop=0:log-level=error"}
    elif settings.codec == "vp9":
        cap = f"{settings.maxrate_kbps}k" if settings.maxrate_kbps else 0  # constrained quality under a cap
        options |= {"crf": crf, "b:v": cap, "deadline": "good", "cpu-used": VP9_CPU_USED[preset], "row-mt": 0}
    else:
        options |= {"crf": crf, "preset": SVT_PRESET[preset], "svtav1-params": f"lp={threads}"}
    if settings.maxrate_kbps:
        options |= {"maxrate": f"{settings.maxrate_kbps}k", "bufsize": f"{2 * settings.maxrate_kbps}k"}
    tag = codec_tag(settings.codec, "mp4")
    return options | {"threads": threads, "pix_fmt": output_pix_fmt(settings, video)} | ({"tag:v": tag} if tag else {})


def timescale_of(time_base: Fraction) -> int:
    """An MP4 timescale that holds every source timestamp exactly (1001/30000 -> 30000)."""
    return time_base.denominator


def seek_seconds(segment: Segment, time_base: Fraction, source_start: float) -> float | None:
    if segment.seek_pts is None:
        return None
    seconds = float(segment.seek_pts * time_base) - source_start - SEEK_EPSILON_S
    return seconds if seconds > 0 else None


def encode_args(task: SegmentTask, source: MediaSource, output: Path) -> list[str]:
    """argv (without the program) that encodes the task's segment of `source` to `output`."""
    segment, video = task.segment, task.video
    in_opts: dict[str, str | int | float | None] = {"threads": 1, "noautorotate": None}
    if (source.is_remote or source.partial) and task.container.split(",")[0] in INDEXED_CONTAINERS:
        in_opts["probesize"] = 32  # the moov describes every stream: no packets read at the file's start
    seek = seek_seconds(segment, video.time_base, task.source_start)
    if seek is not None:
        in_opts |= {"noaccurate_seek": None, "ss": f"{seek:.6f}"}
    stream = input_stream(source, in_opts | {"copyts": None})[str(video.index)]
    end = f":end_pts={segment.end_pts}" if segment.end_pts is not None else ""
    trim = f"trim=start_pts={segment.start_pts}{end}"
    vf = filter_chain(trim, "setpts=PTS-STARTPTS", *geometry_filters(task.settings, video))
    options = {
        # only the planned video stream: no chapter track, no metadata (finish carries those, not the segments)
        "an": None, "sn": None, "dn": None, "map_chapters": -1, "map_metadata": -1, "vf": vf,
        **encoder_options(task.settings, video, task.threads),
        "fps_mode": "passthrough", "enc_time_base:v": "demux", "video_track_timescale": task.timescale,
        "movflags": FRAGMENTED, "fflags": "+bitexact", "f": "mp4",
    }  # fmt: skip
    if source.partial:  # past its range the copy holds zeros: stop at the segment's last frame, and let the
        # packets of zeros that the demuxer reads ahead fail to decode (they are past the segment, never shown)
        options |= {"frames:v": segment.frames, "max_error_rate": 1}
    return compile_args(stream, output=output, options=options)


def check_fragments(task: SegmentTask, split: fmp4.Split) -> fmp4.Run:
    """The encoded segment holds exactly the planned frames, on one video track, IDR first."""
    name = task.segment.name
    tracks = fmp4.tracks(split.init)
    if len(tracks) != 1 or tracks[0].handler != "vide" or tracks[0].timescale != task.timescale:
        raise SegmentMismatchError(f"segment {name}: expected one video track at timescale {task.timescale}")
    runs = [run for f in fmp4.fragments(split.fragments, tracks) for run in f.runs]
    samples = sum(len(r.durations) for r in runs)
    if samples != task.segment.frames:
        raise SegmentMismatchError(f"segment {name}: encoded {samples} frames, planned {task.segment.frames}")
    if not runs[0].sync[0]:
        raise SegmentMismatchError(f"segment {name}: does not start with a keyframe")
    merged = fmp4.Run(tracks[0].track_id, runs[0].decode_time, tuple(d for r in runs for d in r.durations),
                      tuple(s for r in runs for s in r.sizes), tuple(c for r in runs for c in r.cts),
                      tuple(s for r in runs for s in r.sync))  # fmt: skip
    return merged


JOIN_FRAMES = 16  # x264/x265 reorder at most 16 frames: these cover the IDR and its first B-pyramid


def join_frames(frames: int) -> int | None:
    """How much of a segment `verify="joins"` decodes: its start, where a join can break (None: all of it)."""
    return JOIN_FRAMES if frames > JOIN_FRAMES else None


def encode_segment(
    task: SegmentTask, source: MediaSource, work: Path, timeout: float = 3600.0,
    on_progress: Callable[[float], None] | None = None,
) -> tuple[EncodedSegment, Path, bytes]:  # fmt: skip
    """Encode and check one segment; returns its result, the file of its fragments and its init bytes."""
    segment = task.segment
    tag = f"{task.rung}_{segment.name}" if task.rung else segment.name
    output = work / f"encoded_{tag}.mp4"
    started = time.perf_counter()
    run_ffmpeg(encode_args(task, source, output), timeout=timeout, on_progress=on_progress)
    seconds = time.perf_counter() - started
    split = fmp4.split_file(output.read_bytes())
    run = check_fragments(task, split)
    check_started = time.perf_counter()
    frames = None if task.verify == "full" else join_frames(segment.frames)
    check = decode_check(output, PROBE_CODEC[task.settings.codec], maps=("0:v",), frames=frames)
    if not check.ok:
        raise SegmentMismatchError(f"segment {segment.name} does not decode cleanly: {check.detail}")
    check_seconds = time.perf_counter() - check_started
    # stored with every sample's duration in its trun, so that placing the segment can end it exactly
    data = fmp4_explicit.explicit_samples(split.fragments, fmp4.tracks(split.init))
    if task.placement is not None:
        data = fmp4_patch.patch_fragments(
            data, task.placement.patch(run.cts[0], run.span, run.durations[-1], run.cts[-1])
        )
    fragments = work / f"fragments_{tag}.m4s"
    fragments.write_bytes(data)
    output.unlink()
    result = EncodedSegment(
        index=segment.index, frames=segment.frames, bytes=len(data), sha256=hashlib.sha256(data).hexdigest(),
        init_sha256=hashlib.sha256(split.init).hexdigest(), first_cts=run.cts[0], span=run.span,
        last_duration=run.durations[-1], timescale=task.timescale, seconds=round(seconds, 3),
        check_seconds=round(check_seconds, 3), check=check.detail, placed=task.placement is not None,
        md5=hashlib.md5(data, usedforsecurity=False).hexdigest(), last_cts=run.cts[-1],
    )  # fmt: skip
    log.info("segment %s: %d frames in %.2f s, checked in %.2f s", segment.name, segment.frames, seconds, check_seconds)
    return result, fragments, split.init
