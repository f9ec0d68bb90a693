"""The pipeline against one ffmpeg command, same binary, same settings, measured in the same run.

60 s 720p30 H.264+AAC clip (splitstitch.samples.make_clip); h264, CRF 23, preset medium. Prints each
target with PASS or MISS and writes bench/results/compare_single.json. Nothing is hard-coded: a missed
target prints MISS.

    python bench/compare_single.py [--seconds 60] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

from splitstitch.benchmark.measure import single_command_args
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.pipeline import transcode
from splitstitch.samples import make_clip
from splitstitch.settings import Settings

RESULTS = Path(__file__).resolve().parent / "results"
PSNR_AVERAGE = re.compile(r"PSNR .*?average:([0-9.]+|inf)")
OVERHEAD_STAGES = ("probe", "plan", "split", "audio", "stitch", "verify")


def psnr(encoded: Path, source: Path) -> float:
    """Average PSNR (all planes) of `encoded` against `source`, frame by frame."""
    done = run_ffmpeg(["-i", f"file:{encoded}", "-i", f"file:{source}", "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"],
                      loglevel="info")  # fmt: skip
    found = PSNR_AVERAGE.findall(done.stderr)
    if not found:
        raise RuntimeError("psnr filter printed no average")
    return float(found[-1])


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--output", type=Path, default=RESULTS / "compare_single.json")
    args = parser.parse_args(argv)
    settings = Settings(codec="h264", crf=23, preset="medium")
    with tempfile.TemporaryDirectory(prefix="splitstitch-compare-") as tmp:
        work = Path(tmp)
        source = make_clip(work / "clip60.mp4", args.seconds)
        load_before = os.getloadavg()[0]

        started = time.perf_counter()
        run_ffmpeg(single_command_args(source, settings, work / "single.mp4"))
        single_s = time.perf_counter() - started

        started = time.perf_counter()
        result = transcode(source, work / "pipeline.mp4", settings, workers=args.workers, work_root=work)
        pipeline_s = time.perf_counter() - started
        load_after = os.getloadavg()[0]

        psnr_single, psnr_pipeline = psnr(work / "single.mp4", source), psnr(work / "pipeline.mp4", source)
        size_single, size_pipeline = (work / "single.mp4").stat().st_size, (work / "pipeline.mp4").stat().st_size

    t = result.report["timings_s"]
    overhead = sum(t[s] for s in OVERHEAD_STAGES)
    decode_checks = sum(s.get("decode_check_seconds", 0.0) for s in result.report["plan"]["segments"])
    ratio = pipeline_s / single_s
    psnr_delta = psnr_pipeline - psnr_single
    size_delta = size_pipeline / size_single - 1
    share = overhead / t["total"]
    targets = {
        "wall_ratio": {"value": round(ratio, 4), "target": "<= 1.05", "pass": ratio <= 1.05},
        "psnr_delta_db": {"value": round(psnr_delta, 3), "target": "|x| <= 0.05", "pass": abs(psnr_delta) <= 0.05},
        "size_delta": {"value": round(size_delta, 4), "target": "|x| <= 0.02", "pass": abs(size_delta) <= 0.02},
        "overhead_share": {"value": round(share, 4), "target": "<= 0.05", "pass": share <= 0.05},
    }
    print(f"clip: {args.seconds:g} s 1280x720 30 fps H.264+AAC (make_clip); h264 crf 23 preset medium; "
          f"{args.workers} workers; load {load_before:.1f} -> {load_after:.1f}")  # fmt: skip
    print(f"single ffmpeg : {single_s:7.2f} s  PSNR {psnr_single:6.3f} dB  {size_single:>10,} bytes")
    print(f"splitstitch   : {pipeline_s:7.2f} s  PSNR {psnr_pipeline:6.3f} dB  {size_pipeline:>10,} bytes  "
          f"({len(result.report['plan']['segments'])} segments, {result.report['plan']['split_path']} split)")  # fmt: skip
    print("stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items())
          + f"; per-segment decode checks inside encode {decode_checks:.2f}")  # fmt: skip
    print(f"wall-time ratio           {ratio:7.3f}   target <= 1.05        {verdict(ratio <= 1.05)}")
    print(f"PSNR pipeline - single    {psnr_delta:+7.3f} dB target within 0.05 {verdict(abs(psnr_delta) <= 0.05)}")
    print(f"size difference           {size_delta:+7.2%}   target within 2%    {verdict(abs(size_delta) <= 0.02)}")
    print(f"probe+plan+split+audio+stitch+verify share {share:6.2%} target <= 5% {verdict(share <= 0.05)}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "clip": {"seconds": args.seconds, "size": "1280x720", "rate": 30}, "settings": settings.to_dict(),
        "workers": args.workers, "load_1min": [round(load_before, 2), round(load_after, 2)],
        "single": {"seconds": round(single_s, 3), "psnr_db": psnr_single, "bytes": size_single,
                   "command": ["ffmpeg", *single_command_args(Path("SRC"), settings, Path("OUT.mp4"))]},
        "pipeline": {"seconds": round(pipeline_s, 3), "psnr_db": psnr_pipeline, "bytes": size_pipeline,
                     "timings_s": t, "segment_decode_checks_s": round(decode_checks, 3)},
        "targets": targets,
    }  # fmt: skip
    args.output.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
