"""A streaming job on the deployed stack, modeled: the same stages as a single file (model.py), with

- Map items = segments x rungs, each rung's encode cost fitted from its own measurements (a 360p rung
  decodes the same source as the 720p one but encodes a quarter of the pixels), each writing its rung's bytes;
- one audio plan per rendition (AAC stereo; a second, 5.1, where the source has it), every one at once;
- a packaging finish instead of a stitch (`splitstitch.streaming.finish_streaming` through
  `splitstitch_cloud.storage.S3Writer`): each item's result read (32 at once), each media segment copied on
  the server (CopyObject, its ETag checked) and its head read back (32 at once), audio fragments read and
  written, the playlists and the MPD written and read back, the report and the status.

Pure arithmetic, no processes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from splitstitch.stages import RESULT_READERS
from splitstitch_bench import model
from splitstitch_bench.catalog import Network, lambda_vcpus
from splitstitch_cloud.finish import USAGE_READERS
from splitstitch_cloud.storage import S3Writer

WRITER_THREADS = S3Writer.threads  # segments copied at once by the deployed finish


@dataclass(frozen=True)
class RungCost:
    name: str
    encode: Callable[[float, float, int], float]  # wall s at (segment seconds, vcpus, threads)
    output_bps: float  # measured on the scaled source


@dataclass(frozen=True)
class Ladder:
    rungs: tuple[RungCost, ...]
    audio_renditions: int
    package_cpu: Callable[[int, float], float]  # wall s of the packaging finish's own CPU at (map items, vcpus)
    manifests: int  # playlists + master + MPD written (and read back)


def items(shape: model.Shape, ladder: Ladder, v_enc: float, speed: float = 1.0) -> list[model.MapItem]:
    """Every encode, longest segment first and each rung of it in turn (`Job.tasks()` order). Every rung of a
    segment reads the same range of the source."""
    return [model.MapItem(s, rung.encode(s, v_enc, shape.encoder_threads) / speed, model.encoder_read_bytes(shape, s),
                          int(rung.output_bps / 8 * s))
            for s in shape.segments for rung in ladder.rungs]  # fmt: skip


def finish(ladder: Ladder, video_bytes: int) -> model.FinishModel:
    """The packaging finish as deployed, for `lambda_job(finish=...)`."""

    def run(shape: model.Shape, costs: model.Costs, net: Network, v_fin: float, n: int) -> model.Finished:
        req, one = net.s3_request_s, model.streams_mb_s(net, 1)
        rungs = len(ladder.rungs)
        audio_fragments = ladder.audio_renditions * len(shape.segments)  # fragmented like the video
        audio_bytes = int(ladder.audio_renditions * shape.duration_s * 128_000 / 8 * 1.02)
        invocations = n + ladder.audio_renditions
        # each segment a server-side copy (its bytes at one stream's rate inside S3: assumed) and a head GET
        copy_s = 2 * n * req + video_bytes / one
        fin = model.Stage(bytes_in=audio_bytes, bytes_out=audio_bytes)
        fin.parts = {"cold_start": net.cold_start_s,
                     "small_gets": (n / RESULT_READERS + invocations / USAGE_READERS + rungs + ladder.audio_renditions) * req,
                     "copy_segments": copy_s / WRITER_THREADS,
                     "audio_segments": (2 * audio_fragments * req + 2 * audio_bytes / one) / WRITER_THREADS,
                     "manifests": 2 * ladder.manifests * req,
                     "package_verify_cpu": ladder.package_cpu(n, v_fin) / net.core_speed,
                     "report_status_cleanup": (4 + math.ceil(3 * n / 1000)) * req}  # fmt: skip
        fin.seconds = sum(fin.parts.values())
        puts = n + audio_fragments + rungs + ladder.audio_renditions + ladder.manifests + 2  # copies are PUT-priced
        gets = n + invocations + n + audio_fragments + rungs + ladder.audio_renditions + ladder.manifests
        return model.Finished(fin, fin.parts["package_verify_cpu"], puts, gets)

    return run


def lambda_stream_job(shape: model.Shape, costs: model.Costs, ladder: Ladder, net: Network, memory: model.Memory,
                      cap: int, scan_parallel: int, transitions: tuple[int, int]) -> model.JobModel:  # fmt: skip
    work = items(shape, ladder, lambda_vcpus(memory.encode), model.effective(net, memory).core_speed)
    video_bytes = sum(i.out_bytes for i in work)
    job = model.lambda_job(shape, costs, net, memory, cap, scan_parallel, transitions, work,
                           ladder.audio_renditions if shape.audio else 0, finish(ladder, video_bytes))  # fmt: skip
    job.notes |= {"rungs": [r.name for r in ladder.rungs], "segments": len(shape.segments), "map_items": len(work),
                  "audio_renditions": ladder.audio_renditions if shape.audio else 0}  # fmt: skip
    return job
