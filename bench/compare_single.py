"""The pipeline against one ffmpeg command, same binary, same settings: medians of alternating pairs.

60 s 720p30 H.264+AAC clip (splitstitch.samples.make_clip); h264, CRF 23, preset medium. Each pair runs both,
the order alternating (single first, then pipeline first), so drifting machine load falls on both alike.
Prints every pair, the median wall and CPU ratios with their range, PSNR and size, each target with PASS
or MISS, and writes bench/results/compare_single.json. Other work on the machine shows in the spread.

    python bench/compare_single.py [--seconds 60] [--pairs 5] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
from pathlib import Path

from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.pipeline import transcode
from splitstitch.samples import make_clip
from splitstitch.settings import Settings
from splitstitch_bench.load import busy_fraction
from splitstitch_bench.measure import single_command_args, timed

RESULTS = Path(__file__).resolve().parent / "results"
PSNR_AVERAGE = re.compile(r"PSNR .*?average:([0-9.]+|inf)")
OVERHEAD_STAGES = ("prepare", "finish", "verify")  # serial; audio runs beside the segments


def psnr(encoded: Path, source: Path) -> float:
    done = run_ffmpeg(["-i", f"file:{encoded}", "-i", f"file:{source}", "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"],
                      loglevel="info")  # fmt: skip
    found = PSNR_AVERAGE.findall(done.stderr)
    if not found:
        raise RuntimeError("psnr filter printed no average")
    return float(found[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--output", type=Path, default=RESULTS / "compare_single.json")
    args = parser.parse_args(argv)
    settings = Settings(codec="h264", crf=23, preset="medium")
    pairs, loads = [], []
    with tempfile.TemporaryDirectory(prefix="splitstitch-compare-") as tmp:
        work = Path(tmp)
        source = make_clip(work / "clip.mp4", args.seconds)
        single_out, pipe_out = work / "single.mp4", work / "pipeline.mp4"

        def single() -> object:
            return run_ffmpeg(single_command_args(source, settings, single_out))

        def pipeline() -> object:
            return transcode(source, pipe_out, settings, workers=args.workers, work_root=work)

        for n in range(args.pairs):
            loads.append(round(os.getloadavg()[0], 2))
            order = (
                (("single", single), ("pipeline", pipeline))
                if n % 2 == 0
                else (("pipeline", pipeline), ("single", single))
            )
            pair = {}
            for name, run in order:
                result, t = timed(None, run)
                pair[name] = {"seconds": round(t.wall_s, 3), "cpu_s": round(t.cpu_s, 3)}
                if name == "pipeline":
                    pair["timings_s"] = result.report["timings_s"]  # type: ignore[attr-defined]
            pair["wall_ratio"] = round(pair["pipeline"]["seconds"] / pair["single"]["seconds"], 4)
            pair["cpu_ratio"] = round(pair["pipeline"]["cpu_s"] / pair["single"]["cpu_s"], 4)
            pairs.append(pair)
            print(f"pair {n + 1} ({order[0][0]} first): single {pair['single']['seconds']:.2f} s, pipeline "
                  f"{pair['pipeline']['seconds']:.2f} s, ratio {pair['wall_ratio']:.3f} (CPU {pair['cpu_ratio']:.3f}), "
                  f"load {loads[-1]}", flush=True)  # fmt: skip
        psnr_single, psnr_pipeline = psnr(single_out, source), psnr(pipe_out, source)
        size_single, size_pipeline = single_out.stat().st_size, pipe_out.stat().st_size
    wall, cpu = spread([p["wall_ratio"] for p in pairs]), spread([p["cpu_ratio"] for p in pairs])
    t = statistics.median([sum(p["timings_s"][s] for s in OVERHEAD_STAGES) / p["timings_s"]["total"] for p in pairs])
    psnr_delta, size_delta = psnr_pipeline - psnr_single, size_pipeline / size_single - 1
    targets = {
        "wall_ratio_median": {"value": wall["median"], "target": "<= 1.00", "pass": wall["median"] <= 1.00},
        "psnr_delta_db": {"value": round(psnr_delta, 3), "target": "|x| <= 0.05", "pass": abs(psnr_delta) <= 0.05},
        "size_delta": {"value": round(size_delta, 4), "target": "|x| <= 0.02", "pass": abs(size_delta) <= 0.02},
        "serial_share_median": {"value": round(t, 4), "target": "<= 0.05", "pass": t <= 0.05},
    }
    busy = busy_fraction()
    print(f"clip: {args.seconds:g} s 1280x720 30 fps H.264+AAC; h264 crf 23 preset medium; {args.workers} workers; "
          f"{args.pairs} alternating pairs; load {min(loads)}-{max(loads)}, CPUs {busy:.0%} busy after")  # fmt: skip
    print(f"wall ratio pipeline/single  median {wall['median']:.3f} (range {wall['min']:.3f}-{wall['max']:.3f})  "
          f"target <= 1.00  {verdict(targets['wall_ratio_median']['pass'])}")  # fmt: skip
    print(f"CPU ratio                   median {cpu['median']:.3f} (range {cpu['min']:.3f}-{cpu['max']:.3f})")
    print(f"PSNR pipeline - single      {psnr_delta:+.3f} dB ({psnr_pipeline:.3f} vs {psnr_single:.3f})  target within "
          f"0.05  {verdict(targets['psnr_delta_db']['pass'])}")  # fmt: skip
    print(f"size difference             {size_delta:+.2%} ({size_pipeline:,} vs {size_single:,} bytes)  target within 2%"
          f"  {verdict(targets['size_delta']['pass'])}")  # fmt: skip
    print(
        f"prepare+finish+verify share median {t:.2%}  target <= 5%  {verdict(targets['serial_share_median']['pass'])}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    doc = {"clip": {"seconds": args.seconds, "size": "1280x720", "rate": 30}, "settings": settings.to_dict(),
           "workers": args.workers, "load_1min": loads, "busy_after": round(busy, 3),
           "command": ["ffmpeg", *single_command_args(Path("SRC"), settings, Path("OUT.mp4"))],
           "pairs": pairs, "wall_ratio": wall, "cpu_ratio": cpu, "psnr_db": {"single": psnr_single, "pipeline": psnr_pipeline},
           "bytes": {"single": size_single, "pipeline": size_pipeline}, "targets": targets}  # fmt: skip
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
