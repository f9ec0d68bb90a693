"""Check that an assembled MP4's headers state what its samples present: pure, from the bytes written.

A player takes a track's length from its edit list (`elst` segment_duration, and `tkhd`), the movie's from
`mvhd`/`mehd`. Each must agree with what decodes: the video to the end of its last frame (within one
movie tick of rounding); an audio track never longer than its samples after the priming its edit skips,
and as long as the source presents it (the padding of its last frame, and of the encoder's, hidden); the
movie as long as its longest track.
"""

from __future__ import annotations

import struct

from splitstitch import fmp4
from splitstitch.assemble import OutputTimeline
from splitstitch.verify import Check


def _full_box_duration(init: bytes, path: str, v0: int, v1: int, start: int = 0, end: int | None = None) -> int | None:
    """A duration field of the first box at `path`: at offset `v0` (32-bit) or `v1` (64-bit) of its body."""
    boxes = fmp4.find(init, path, start, end)
    if not boxes:
        return None
    box = boxes[0]
    if init[box.body]:
        return int(struct.unpack_from(">Q", init, box.body + v1)[0])
    return int(struct.unpack_from(">I", init, box.body + v0)[0])


def header_checks(init: bytes, timeline: OutputTimeline, expected: tuple[float, ...] = ()) -> list[Check]:
    """`expected`: per audio track, the seconds the source presents (its plan); the edit must state that, or
    what the samples decode to where they are shorter. Without it, at most one frame may be hidden."""
    scale = fmp4.movie_scale(init)
    tick = 1 / scale + 1e-9
    checks, ends = [], []
    audio_n = 0
    for trak, track in zip(fmp4.find(init, "moov/trak"), fmp4.tracks(init), strict=True):
        runs = timeline.runs.get(track.track_id, [])
        samples = [(pts, d) for r in runs for pts, d in zip(r.presentation_times(), r.durations, strict=True)]
        if not samples:
            continue
        decoded = (max(p + d for p, d in samples) - track.edit_media_time) / track.timescale
        stated = track.edit_duration_s
        tkhd = (_full_box_duration(init, "tkhd", 20, 28, trak.body, trak.end) or 0) / scale
        ends.append(track.edit_delay_s + (stated or decoded))
        if track.handler == "vide":
            ok = abs(stated - decoded) <= tick and abs(tkhd - track.edit_delay_s - stated) <= tick
            name, rule = "headers_video", "to the end of the last frame"
        else:
            frame = max(d for _, d in samples) / track.timescale
            ok = -tick <= decoded - stated and abs(tkhd - track.edit_delay_s - stated) <= tick
            if audio_n < len(expected):
                want = min(expected[audio_n], decoded)
                ok = ok and abs(stated - want) <= tick
                rule = f"the source presents {expected[audio_n]:.4f} s"
            else:
                ok = ok and decoded - stated < frame + tick
                rule = f"up to one frame ({frame * 1000:.1f} ms) of padding hidden"
            name = f"headers_audio{audio_n}"
            audio_n += 1
        checks.append(
            Check(
                name,
                ok,
                f"edit list presents {stated:.4f} s (tkhd {tkhd:.4f} s), samples decode {decoded:.4f} s ({rule})",
            )
        )
    movie = _full_box_duration(init, "moov/mvhd", 16, 24)
    fragmented = _full_box_duration(init, "moov/mvex/mehd", 4, 4)
    longest = max(ends, default=0.0)
    stated_movie = [v / scale for v in (movie, fragmented) if v is not None]
    checks.append(Check("headers_movie", all(abs(v - longest) <= tick for v in stated_movie),
                        f"mvhd/mehd {', '.join(f'{v:.4f}' for v in stated_movie)} s, longest track "
                        f"{longest:.4f} s"))  # fmt: skip
    return checks
