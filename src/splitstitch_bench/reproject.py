"""`splitstitch bench model --from RESULTS.json`: every figure of a bench JSON computed again from the
measurements it holds (its samples and measured runs), without measuring anything. A changed model, template,
calibration or assumption (`--set NAME=VALUE`) is seen in seconds; the tests use it on the committed results.

A results JSON keeps what each row measured (`samples`, `measured`) and describes its scaled source
(`source`); the frame index of that source is rebuilt as a constant-rate one with a keyframe every
`talk.GOP_S` (what `talk.make_source` writes), so the planner cuts the job as the measuring run did.
"""

from __future__ import annotations

import copy
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from splitstitch.errors import UsageError
from splitstitch.frames import FrameIndex
from splitstitch.media import AudioInfo, MediaInfo, VideoInfo
from splitstitch.plan import plan_segments
from splitstitch.settings import Settings
from splitstitch.stages import RESULT_READERS
from splitstitch_bench import project, sweep, talk
from splitstitch_bench.catalog import CASES, HEADLINE, Network, RuntimeSpec, parse_runtimes, set_assumption
from splitstitch_bench.cpufit import Sample, summarize, validate
from splitstitch_bench.runner import Item, Measured
from splitstitch_bench.stack import Stack
from splitstitch_cloud.finish import USAGE_READERS

ROW_REQUEST_S = 0.03  # s3_request_s of the headline case in every results file (old "nominal", now "middle")
EXTRA_ROWS = {"10GB-4K-2h": talk.TalkRow("10GB-4K-2h", "3840x2160", 7200, "mp4", 10000, 0, 0, 0, 0, 30)}


def source_info(src: dict[str, Any], container: str) -> MediaInfo:
    """The scaled source as probed, from its description in the results (`report.describe`)."""
    v = src["video"]
    rate = Fraction(v["frame_rate"])
    tb = Fraction(1, 90000)
    step = int(Fraction(90000) / rate)
    video = VideoInfo(0, v["codec"], v["width"], v["height"], v["pix_fmt"], 8, tb, rate, v["rotation"], v["frames"])
    audio = tuple(AudioInfo(a["index"], a["codec"], a["channels"], a["channel_layout"], a["sample_rate"], 0.0,
                            v["duration_s"]) for a in src["audio"])  # fmt: skip
    count, end = v["frames"], round(v["duration_s"] / tb)
    keys = tuple(range(0, count, max(1, round(talk.GOP_S * rate))))
    frames = FrameIndex(tuple(i * step for i in range(count)), end - (count - 1) * step, keys, keys, True)
    return MediaInfo(src["path"], src["bytes"], src["format"], src["duration_s"], 0.0, video, audio, frames,
                     src["bytes"], tuple((a.index, 0.0, src["duration_s"]) for a in audio))  # fmt: skip


def measured_row(row: dict[str, Any], settings: Settings, stack: Stack, full_length: bool) -> Measured:
    """One results row as the measuring run held it (what the projection reads of it)."""
    talk_row = next((r for r in talk.TALK_ROWS if r.name == row["name"]), EXTRA_ROWS.get(row["name"]))
    container = talk_row.container if talk_row else ("mkv" if "matroska" in row["source"]["format"] else "mp4")
    info = source_info(row["source"], container)
    real_s, real_b = row["real"]["seconds"], row["real"]["bytes"]
    full = talk.full_info(info, real_s, real_b) if talk_row else info
    item = Item(row["name"], Path(row["source"]["path"]), real_s, real_b, container, talk_row)
    lam = next((e for e in row["runtimes"] if e.get("how") == "modeled"), None)
    if lam is None:
        raise UsageError(f"--from: row {row['name']} has no modeled Lambda entry to read its output bitrate from")
    # the finish stage moves the output: int(output_bps / 8 * seconds) bytes
    output_bps = lam["model"]["stages"]["finish"]["bytes_in"] * 8 / (real_s if full_length else info.video_seconds())
    assert info.frames
    return Measured(
        item, info, full, plan_segments(full, settings, stack.deployment.fanout()), row["plan_full"]["plan_s"],
        info.frames.count + talk.audio_packets(info.video_seconds(), info.audio),
        [Sample(**s) for s in row["samples"]], finish_gets(row, lam["model"]), row["measured"],
        output_bps=output_bps, errors=row.get("errors", []),
    )  # fmt: skip


def finish_gets(row: dict[str, Any], job: dict[str, Any]) -> float:
    """The finish stage's storage reads per segment (measured): kept in the row, or read back from the modeled
    finish's small GETs, (gets / RESULT_READERS + 1 / USAGE_READERS) x segments x request latency."""
    if "finish_gets_per_segment" in row:
        return float(row["finish_gets_per_segment"])
    n, req = job["notes"]["segments"], ROW_REQUEST_S
    small = job["stages"]["finish"]["parts"]["small_gets"]
    return round((small / (n * req) - 1 / USAGE_READERS) * RESULT_READERS, 2)


def cases_with(sets: dict[str, str], calibration: dict[str, Any] | None) -> dict[str, Network]:
    """The three cases with a calibration's measured values, then `--set` overrides, applied to every case (a
    measured or chosen value has no band of its own)."""
    out = {}
    for name, net in CASES.items():
        for key, value in ((calibration or {}).get("assumptions") or {}).items():
            net = set_assumption(net, key, str(value))
        for key, value in sets.items():
            net = set_assumption(net, key, value)
        out[name] = net
    return out


def specs_of(doc: dict[str, Any]) -> list[RuntimeSpec]:
    """The runtimes the results were made with (plus the new-account Lambda row)."""
    names = [e["name"].split(" (")[0] for e in doc["rows"][0]["runtimes"]]
    if "lambda" in names and "lambda:new-account" not in names:
        names.append("lambda:new-account")
    return parse_runtimes(",".join(dict.fromkeys(names)))


def model(doc: dict[str, Any], stack: Stack, sets: dict[str, str] | None = None,
          calibration: dict[str, Any] | None = None, runtimes: str | None = None) -> dict[str, Any]:  # fmt: skip
    """`doc` with every modeled figure computed again; measured figures and samples kept as they were."""
    doc = copy.deepcopy(doc)
    raw = doc["settings"]
    settings = Settings(codec=raw["codec"], crf=raw.get("crf"), preset=raw["preset"])
    full = doc["full_length"]
    cases = cases_with(sets or {}, calibration)
    specs = parse_runtimes(runtimes) if runtimes else specs_of(doc)
    measured = [measured_row(r, settings, stack, full) for r in doc["rows"]]
    fits = project.fit_all(measured, stack.deployment.scan_parallel)
    pairs = []
    for r, m in zip(doc["rows"], measured, strict=True):
        mine = specs if m.item.row is None or m.item.row.lambda_s else [s for s in specs if s.kind == "lambda"]
        r["runtimes"] = project.runtimes(m, fits, stack, settings, mine, full, cases)
        r["finish_gets_per_segment"] = m.finish_gets_per_segment
        r["plan_full"] |= {"segments": len(m.plan_full.segments), "target_s": m.plan_full.target_seconds,
                           "reason": m.plan_full.reason}  # fmt: skip
        pairs.append((m, r["runtimes"]))
    checks = validate([s for m in measured for s in m.samples], fits, doc["machine"]["cpus"])
    jobs = [c for c in doc["validation"]["checks"] if c["stage"].startswith("job:")]  # measured whole jobs: kept
    doc["validation"] = {"checks": [c.to_dict() for c in checks] + jobs, "summary": summarize(checks)
                         + [s for s in doc["validation"]["summary"] if s["stage"] == "job"]}  # fmt: skip
    sweep_rows = [m for m in measured if m.item.name in ("100MB-720p", "1GB-MKV-720p")] or measured[:1]
    doc |= {
        "assumptions": {k: v.to_dict() for k, v in cases.items()}, "headline": HEADLINE,
        "fits": {f"{k[0]}:{k[1]}" if k[1] else k[0]: f.to_dict() for k, f in fits.items()},
        "targets": project.targets(pairs),
        "sweeps": [sweep.sweeps(m, fits, stack, settings, full, cases[HEADLINE]) for m in sweep_rows],
        "stack": doc["stack"] | {"template": stack.template, "max_concurrency": stack.max_concurrency,
                                 "memory_mb": {k: f.memory_mb for k, f in stack.functions.items()},
                                 "arch": stack.functions["encode_segment"].arch, "ephemeral_mb": stack.ephemeral(),
                                 "reserved_encode": stack.functions["encode_segment"].reserved,
                                 "child_execution_type": stack.child_execution_type, "preset": stack.preset},
        "reprojected": {"sets": sets or {}, "calibration": calibration,
                        "note": "every modeled figure re-projected from this file's measurements (bench model)"},
    }  # fmt: skip
    return doc


def load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} {path}: no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path}: not JSON ({exc})") from None


def parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for text in items:
        name, sep, value = text.partition("=")
        if not sep or not name or not value:
            raise UsageError(f"--set {text!r}: expected NAME=VALUE")
        set_assumption(CASES[HEADLINE], name, value)  # a clear error for an unknown name or a bad value
        out[name] = value
    return out
