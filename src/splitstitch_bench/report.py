"""What `splitstitch bench` prints: every table as text (the JSON holds the same figures)."""

from __future__ import annotations

from typing import Any

from splitstitch_bench.catalog import MEDIACONVERT_PER_MIN, MEDIACONVERT_SOURCE, SOURCES


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def runtime_table(row: dict[str, Any]) -> str:
    lines = [f"{'runtime':<30} {'seconds':>9} {'band (opt..pess)':>18} {'$ / job':>9} {'$ / out min':>11}  how"]
    for e in row["runtimes"]:
        band = f"{e['band_s'][0]:.1f}..{e['band_s'][1]:.1f}" if e.get("band_s") else ""
        how = {"modeled": "MODELED", "emulated": "emulated"}.get(e["how"], e["how"])
        lines.append(f"{e['name']:<30} {_s(e['seconds']):>9} {band:>18} {_usd(e['usd']):>9} {_usd(e['usd_per_min']):>11}"
                     f"  {how}: {e['label']}{'; ' + e['note'] if e.get('note') else ''}")  # fmt: skip
    return "\n".join(lines)


def stage_table(job: dict[str, Any]) -> str:
    """Per-stage seconds and bytes moved of one modeled Lambda job."""
    lines = [f"  {'stage':<8} {'seconds':>8} {'MB in':>9} {'MB out':>9}  parts (s)"]
    for name, st in job["stages"].items():
        parts = ", ".join(f"{k} {v:g}" for k, v in st["parts"].items())
        lines.append(
            f"  {name:<8} {st['seconds']:>8.1f} {st['bytes_in'] / 1e6:>9.1f} {st['bytes_out'] / 1e6:>9.1f}  {parts}"
        )
    n = job["notes"]
    lines.append(f"  {n['segments']} segments, {n['waves']} wave(s) of up to {n['concurrency']}, {n['encoder_threads']} "
                 f"encoder thread(s), critical branch: {n['critical_branch']}; total {job['seconds']:.1f} s "
                 f"(MODELED), ${job['cost']['usd']['total']:.5f}")  # fmt: skip
    return "\n".join(lines)


def talk_table(rows: list[dict[str, Any]]) -> str:
    """Ours beside the talk's three columns, at the real sizes."""
    names = [e["name"] for e in rows[0]["runtimes"]] if rows else []
    head = f"{'talk job':<32} {'talk: lambda':>12} {'t2.large':>9} {'laptop':>7} | " + " ".join(
        f"{n[:22]:>22}" for n in names
    )
    lines = [head]
    for r in rows:
        t = r.get("talk")
        talk_cols = (
            f"{t['lambda_s']:>12g} {t['t2_large_s']:>9g} {t['laptop_s']:>7g}" if t else f"{'':>12} {'':>9} {'':>7}"
        )
        ours = " ".join(f"{_s(e['seconds']) + ('*' if e['how'] == 'modeled' else ''):>22}" for e in r["runtimes"])
        lines.append(f"{r['label']:<32} {talk_cols} | {ours}")
    lines.append("* MODELED (the deployed stack); laptop/local projected from measurements at the stated scale; "
                 "ec2 emulated on this CPU")  # fmt: skip
    return "\n".join(lines)


def cost_table(rows: list[dict[str, Any]]) -> str:
    basic, pro = MEDIACONVERT_PER_MIN["basic"], MEDIACONVERT_PER_MIN["professional"]
    lines = [f"$ per output minute (MediaConvert HD AVC: basic ${basic}, professional ${pro}; {MEDIACONVERT_SOURCE})"]
    for r in rows:
        cells = [f"{e['name']} {_usd(e['usd_per_min'])}" for e in r["runtimes"] if e["usd_per_min"] is not None]
        lines.append(f"  {r['label']:<32} " + "; ".join(cells))
    return "\n".join(lines)


def targets_table(targets: list[dict[str, Any]]) -> str:
    lines = ["issue 8 targets (modeled Lambda, deployed template):"]
    for t in targets:
        cost = ""
        if "usd_per_min" in t:
            cost = f"; ${t['usd_per_min']:.4f}/min vs <= ${t['cost_target']} {'pass' if t['cost_pass'] else 'MISS'}"
        lines.append(f"  {t['row']:<22} talk {t['talk_lambda_s']:>5g} s, target {t['target_s']:>5g} s: modeled "
                     f"{t['modeled_s']:.1f} s ({t['band_s'][0]:.1f}..{t['band_s'][1]:.1f}) "
                     f"{'pass' if t['pass'] else 'MISS'}{cost}")  # fmt: skip
        if "why" in t:
            lines.append(f"      why: {t['why']}")
    return "\n".join(lines)


def validation_table(val: dict[str, Any]) -> str:
    lines = ["validation (predicted from the fits alone vs measured wall time here; error = (pred - meas) / meas):"]
    for s in val["summary"]:
        lines.append(f"  {s['stage']:<7} {s['config']:<44} n={s['n']:<3} median {s['median_error']:+.1%} "
                     f"(range {s['min_error']:+.1%} .. {s['max_error']:+.1%})")  # fmt: skip
    return "\n".join(lines)


def fits_table(fits: dict[str, Any]) -> str:
    lines = [
        "fits at 1 vCPU, 1 thread (wall = a + b * work); e = speed a second thread adds (2 threads on 2 vCPUs), "
        "r2 = CPU at 2 threads / 1 thread:"
    ]
    units = {
        "encode": "s per video s",
        "scan": "s per packet",
        "audio": "s per source s",
        "finish": "s per output byte",
    }
    for key, f in fits.items():
        stage = key.split(":")[0]
        lines.append(f"  {key:<28} a {f['a_s']:.3f} s, b {f['b_s_per_unit']:.4g} {units.get(stage, '')}, r2 "
                     f"{f['thread_cost_2']:.2f}, e {f['efficiency']:.2f}, {f['points']} points")  # fmt: skip
    return "\n".join(lines)


def assumptions_table(assumptions: dict[str, Any]) -> str:
    lines = ["modeled assumptions (middle, the headline; band = optimistic .. pessimistic), each with its source:"]
    middle, opt, pess = assumptions["middle"], assumptions["optimistic"], assumptions["pessimistic"]
    for key, source in SOURCES.items():
        lines.append(f"  {key:<19} {middle[key]!s:>7} ({opt[key]!s} .. {pess[key]!s})  {source}")
    return "\n".join(lines)


def stream_table(entry: dict[str, Any]) -> str:
    """One streaming row: its ladder (measured bitrates), runtimes, modeled stages and the fits' validation."""
    rungs = ", ".join(f"{r['name']} {r['measured_bps'] / 1e6:.2f} Mb/s (cap {r['maxrate_kbps']} kb/s)"
                      for r in entry["rungs"])  # fmt: skip
    lines = [f"ladder {entry['ladder']} ({entry['format']}): {rungs}; {entry['renditions']} audio rendition(s)",
             runtime_table(entry)]  # fmt: skip
    lam = next((e for e in entry["runtimes"] if e["how"] == "modeled"), None)
    if lam:
        lines.append(stage_table(lam["model"]))
        n = lam["model"]["notes"]
        lines.append(f"  {n['map_items']} Map items ({n['segments']} segments x {len(n['rungs'])} rungs)")
    for s in entry["validation"]["summary"]:
        lines.append(f"  validation {s['stage']} at {s['config']}: median error {s['median_error']:+.1%} "
                     f"({s['min_error']:+.1%}..{s['max_error']:+.1%}, n={s['n']})")  # fmt: skip
    lines += [f"  left out: {e[:300]}" for e in entry["errors"]]
    return "\n".join(lines)
