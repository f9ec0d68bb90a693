"""Verify an output against its source: the rules on two probes (source and output), and decode checks.

`compare()` is pure: it takes the two probes and returns named checks, so each rule is unit-tested on
its own. A failed check is an error for the caller, never a warning.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from splitstitch.binaries import AV1_DECODER_ENV, binaries, decoder_ffmpeg
from splitstitch.errors import ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.media import MediaInfo, probe_frames, probe_streams
from splitstitch.source import MediaSource

if TYPE_CHECKING:
    from splitstitch.audio import AudioPlan

log = logging.getLogger(__name__)

AUDIO_TOLERANCE_S = 0.020
# Audio as heard (the output's samples after its edit list: priming skipped, padding hidden) against the
# source's: the edit lengths are rounded to the output's 1 ms movie tick (0.5 ms at most), and a start is
# placed to the sample; 1 ms holds both, plus one tick of the source's audio time base (Matroska and WebM
# state times in milliseconds, so the source's own extent is known to 1 ms only).
HEARD_TOLERANCE_S = 0.001
TIMESTAMP_TOLERANCE_S = 0.002  # output time bases (1 ms in Matroska) may round each stamp by up to 0.5 ms


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Verification:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def failed(self) -> list[str]:
        return [f"{c.name}: {c.detail}" for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def _video_checks(src: MediaInfo, out: MediaInfo) -> list[Check]:
    assert src.video and src.frames
    if not out.video or not out.frames:
        return [Check("video_present", False, "output has no video frames")]
    vfr = src.frames.is_vfr()
    allowed = 1 if vfr else 0
    diff = out.frames.count - src.frames.count
    checks = [
        Check("video_frames", abs(diff) <= allowed, f"{out.frames.count} frames, source {src.frames.count}"
              + (" (VFR: one frame allowed)" if vfr else "")),
    ]  # fmt: skip
    s_tb, o_tb = src.video.time_base, out.video.time_base
    s0, o0 = src.frames.timestamps[0], out.frames.timestamps[0]
    worst = max(
        (abs(float((o - o0) * o_tb) - float((s - s0) * s_tb))
         for s, o in zip(src.frames.timestamps, out.frames.timestamps, strict=False)),
        default=0.0,
    )  # fmt: skip
    checks.append(
        Check(
            "frame_timestamps",
            worst <= TIMESTAMP_TOLERANCE_S,
            f"worst frame off its source time by {worst * 1000:.3f} ms",
        )
    )
    frame = float(src.frames.last_duration * s_tb)
    d_src, d_out = src.video_seconds(), out.video_seconds()
    checks.append(
        Check(
            "video_duration",
            abs(d_out - d_src) <= frame + 1e-6,
            f"{d_out:.4f} s, source {d_src:.4f} s (one frame {frame:.4f} s)",
        )
    )
    sw, sh = src.video.display_size
    ow, oh = out.video.display_size
    same_shape = (sw > sh) == (ow > oh) and (sw == sh) == (ow == oh)
    aspect_ok = abs((ow / oh) / (sw / sh) - 1) < 0.02
    checks.append(Check("orientation", same_shape and aspect_ok,
                        f"displayed {ow}x{oh} (rotation {out.video.rotation}), source displays {sw}x{sh}"))  # fmt: skip
    return checks


def _same_layout(a: str | None, b: str | None) -> bool:
    """Layouts must match where both files name one (some containers store only a channel count)."""
    return a is None or b is None or a == b


def _audio_checks(src: MediaInfo, out: MediaInfo, plan: AudioPlan | None, heard: bool) -> list[Check]:
    wanted = len(plan.stream_indexes) if plan else 0
    checks = [Check("audio_tracks", len(out.audio) == wanted, f"{len(out.audio)} audio tracks, expected {wanted}")]
    if not plan or len(out.audio) != wanted or not out.frames:
        return checks
    v_src, v_out = src.video_start(), out.video_start()
    for n, (index, track) in enumerate(zip(plan.stream_indexes, out.audio, strict=True)):
        src_track = next(a for a in src.audio if a.index == index)
        s_ext, o_ext = src.audio_extent(index), out.audio_extent(track.index)
        if s_ext is None or o_ext is None:
            checks.append(Check(f"audio{n}_present", False, "no audio packets"))
            continue
        exp_start, exp_end = max(s_ext[0] - v_src, 0.0), s_ext[1] - v_src
        got_start, got_end = o_ext[0] - v_out, o_ext[1] - v_out
        exp_len, got_len = exp_end - exp_start, got_end - got_start
        checks += [
            Check(f"audio{n}_duration", abs(got_len - exp_len) <= AUDIO_TOLERANCE_S, f"{got_len:.4f} s, expected {exp_len:.4f} s"),
            Check(f"audio{n}_start_offset", abs(got_start - exp_start) <= AUDIO_TOLERANCE_S,
                  f"starts {got_start * 1000:+.1f} ms from the video, source {exp_start * 1000:+.1f} ms"),
            Check(f"audio{n}_end_drift", abs(got_end - exp_end) <= AUDIO_TOLERANCE_S,
                  f"audio end vs video start {got_end:.4f} s, source {exp_end:.4f} s ({(got_end - exp_end) * 1000:+.1f} ms)"),
            Check(f"audio{n}_channels", track.channels == src_track.channels and _same_layout(track.channel_layout, src_track.channel_layout),
                  f"{track.channels} channels ({track.channel_layout}), source {src_track.channels} ({src_track.channel_layout})"),
        ]  # fmt: skip
        if heard:
            off = max(abs(got_start - exp_start), abs(got_len - exp_len))
            tolerance = HEARD_TOLERANCE_S + float(src_track.time_base)  # Matroska states milliseconds
            checks.append(Check(f"audio{n}_as_heard", off <= tolerance,
                                f"presents {got_len:.4f} s from {got_start * 1000:+.2f} ms, source {exp_len:.4f} s "
                                f"from {exp_start * 1000:+.2f} ms (worst {off * 1000:.2f} ms off)"))  # fmt: skip
    return checks


def compare(src: MediaInfo, out: MediaInfo, plan: AudioPlan | None, heard: bool = True) -> list[Check]:
    """`heard`: the output's audio extents are what it presents after its edit lists (the structural parse),
    so they must match the source's to the millisecond; ffprobe's packets of a fragmented output are not."""
    return _video_checks(src, out) + _audio_checks(src, out, plan, heard)


def decode_args(path: Path, maps: tuple[str, ...] = ("0:v", "0:a?"), frames: int | None = None) -> list[str]:
    mapping = [arg for m in maps for arg in ("-map", m)]
    limit = ["-frames:v", str(frames)] if frames else []
    return ["-protocol_whitelist", "file", "-i", f"file:{path.resolve()}", *mapping, *limit, "-f", "null", "-"]


def decode_check(
    path: Path,
    video_codec: str,
    *,
    maps: tuple[str, ...] = ("0:v", "0:a?"),
    name: str = "decodes_cleanly",
    frames: int | None = None,
    timeout: float = 3600.0,
) -> Check:
    """Decode the mapped streams (the first `frames` video frames, or all); any warning or error from the
    decoders fails (damage hides at `-v error`)."""
    program = decoder_ffmpeg(video_codec) if "0:v" in maps else binaries().ffmpeg
    if program is None:
        return Check(name, False, f"no {video_codec} decoder: set {AV1_DECODER_ENV} or install imageio-ffmpeg")
    try:
        stderr = run_ffmpeg(
            decode_args(path, maps, frames), timeout=timeout, loglevel="warning", program=program
        ).stderr.strip()
    except ToolError as exc:
        return Check(name, False, str(exc))
    first = stderr.splitlines()[0] if stderr else ""
    what = f"first {frames} frames decoded" if frames else "decoded in full"
    return Check(name, not stderr, first or f"{what}, no decoder warnings or errors")


def probe_output(path: Path) -> MediaInfo:
    """The written output as ffprobe sees it (independent of the structural parse)."""
    source = MediaSource.local(path)
    return probe_frames(probe_streams(source), source)


def report_checks(checks: list[Check]) -> Verification:
    for c in checks:
        log.info("verify %-26s %s  %s", c.name, "ok" if c.ok else "FAILED", c.detail)
    return Verification(tuple(checks))
