"""Markdown tables from a bench JSON, for the README and docs/bench.md (so no figure is typed by hand):

python -m splitstitch_bench.markdown bench/results/talk-full.json      # print every table
python -m splitstitch_bench.markdown --update README.md docs/bench.md  # rewrite their marked tables

A marked table sits between `<!-- bench TABLE JSON -->` and `<!-- /bench -->`; a test checks that the
documents match their JSON.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _cell(e: dict[str, Any]) -> str:
    if e["seconds"] is None:
        return "-"
    band = f" ({e['band_s'][0]:,.0f}-{e['band_s'][1]:,.0f})" if e.get("band_s") else ""
    mark = " *modeled*" if e["how"] == "modeled" else ""
    return f"{_s(e['seconds'])}{band}{mark}"


def talk(doc: dict[str, Any]) -> str:
    names = [e["name"] for e in doc["rows"][0]["runtimes"]]
    head = "| job (real size) | measured here on | talk: Lambda / t2.large / laptop s | " + " | ".join(names) + " |"
    lines = [head, "|" + "---|" * (3 + len(names))]
    for r in doc["rows"]:
        t = r["talk"]
        talk_cols = f"{t['lambda_s']:g} / {t['t2_large_s']:g} / {t['laptop_s']:g}" if t else "-"
        cells = {e["name"]: _cell(e) for e in r["runtimes"]}
        src = r["source"]
        lines.append(f"| {r['label']} | {src['duration_s']:.1f} s, {src['bytes'] / 1e6:.1f} MB, "
                     f"{src['bitrate_bps'] / 1e6:.2f} Mb/s (scale {r['scale']:.3g}) | {talk_cols} | "
                     + " | ".join(cells.get(n, "-") for n in names) + " |")  # fmt: skip
    return "\n".join(lines)


def stages(doc: dict[str, Any]) -> str:
    lines = ["| job | segments | prepare s (MB in) | encode s (MB in / out) | audio s (MB in) | finish s (MB moved) | "
             "total s | $ | $ / out min |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in doc["rows"]:
        lam = next((e for e in r["runtimes"] if e["how"] == "modeled"), None)
        if not lam:
            continue
        st, n = lam["model"]["stages"], lam["model"]["notes"]
        lines.append(
            f"| {r['label']} | {n['segments']} ({n['waves']} wave{'s' if n['waves'] > 1 else ''}) | "
            f"{st['prepare']['seconds']:.1f} ({st['prepare']['bytes_in'] / 1e6:,.0f}) | "
            f"{st['encode']['seconds']:.1f} ({st['encode']['bytes_in'] / 1e6:,.0f} / {st['encode']['bytes_out'] / 1e6:,.0f}) | "
            f"{st['audio']['seconds']:.1f} ({st['audio']['bytes_in'] / 1e6:,.0f}) | "
            f"{st['finish']['seconds']:.1f} ({2 * st['finish']['bytes_in'] / 1e6:,.0f}) | {lam['seconds']:.1f} | "
            f"{lam['usd']:.4f} | {lam['usd_per_min']:.4f} |"
        )  # fmt: skip
    return "\n".join(lines)


def targets(doc: dict[str, Any]) -> str:
    lines = ["| talk job | talk Lambda s | target s | modeled s (band) | | $ / out min (target 0.003) |",
             "|---|---:|---:|---:|---|---:|"]  # fmt: skip
    for t in (t for t in doc["targets"] if t["talk_lambda_s"]):
        cost = f"{t['usd_per_min']:.4f} {'pass' if t['cost_pass'] else 'MISS'}" if "usd_per_min" in t else ""
        lines.append(f"| {t['row']} | {t['talk_lambda_s']:g} | {t['target_s']:g} | {t['modeled_s']:.1f} "
                     f"({t['band_s'][0]:.0f}-{t['band_s'][1]:.0f}) | {'pass' if t['pass'] else 'MISS'} | {cost} |")  # fmt: skip
    misses = [t for t in doc["targets"] if "why" in t and t["talk_lambda_s"]]
    if misses:
        lines.append("")
        lines += [f"- **{t['row']}**: {t['why']}" for t in misses]
    return "\n".join(lines)


def validation(doc: dict[str, Any]) -> str:
    lines = ["| stage | configuration | n | median error | range |", "|---|---|---:|---:|---|"]
    for s in doc["validation"]["summary"]:
        lines.append(f"| {s['stage']} | {s['config']} | {s['n']} | {s['median_error']:+.1%} | "
                     f"{s['min_error']:+.1%} .. {s['max_error']:+.1%} |")  # fmt: skip
    return "\n".join(lines)


def costs(doc: dict[str, Any]) -> str:
    names = [e["name"] for e in doc["rows"][0]["runtimes"] if e["usd_per_min"] is not None]
    lines = ["| job | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for r in doc["rows"]:
        cells = {e["name"]: f"{e['usd_per_min']:.4f}" for e in r["runtimes"] if e["usd_per_min"] is not None}
        lines.append(f"| {r['label']} | " + " | ".join(cells.get(n, "-") for n in names) + " |")
    return "\n".join(lines)


def sweeps(doc: dict[str, Any]) -> str:
    out = []
    for sw in doc["sweeps"]:
        mem = " | ".join(f"{p['memory_mb']}: {p['seconds']:,.0f} s ${p['usd_per_min']:.4f}" for p in sw["memory"])
        minutes = next(r["real"]["seconds"] for r in doc["rows"] if r["name"] == sw["row"]) / 60
        seg = ", ".join(f"{p['segments']} seg {p['seconds']:,.0f} s ${p['usd'] / minutes:.4f}" for p in sw["segments"])
        wav = ", ".join(f"cap {p['cap']} ({p['waves']} waves) {p['seconds']:,.0f} s" for p in sw["waves"])
        out.append(f"- {sw['row']}, memory (MB: s, $/min): {mem}\n- {sw['row']}, segments (s, $/min): {seg}\n- {sw['row']}, "
                   f"Map cap with the plan fixed: {wav}")  # fmt: skip
    return "\n".join(out)


def streaming(doc: dict[str, Any]) -> str:
    """The streaming job (`--ladder`): its rungs' measured bitrates, the runs and the model, per row."""
    lines = ["| job | ladder (measured Mb/s) | local executor s | local stack s | Lambda s (band) | Map items (waves) | "
             "encode / audio / package s | $ | $ / out min |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for e in doc.get("streaming", []):
        rungs = ", ".join(f"{r['name']} {r['measured_bps'] / 1e6:.2f}" for r in e["rungs"])
        runs = {r["name"]: r for r in e["runtimes"]}
        ran = [f"{r['seconds']:,.1f} *{r['how']}*" if r else "-" for r in (runs.get("local"),
               next((v for k, v in runs.items() if k.startswith("aws:")), None))]  # fmt: skip
        lam = runs.get("lambda")
        if lam is None:
            lines.append(f"| {e['name']} | {rungs} | {ran[0]} | {ran[1]} | - | - | - | - | - |")
            continue
        n, st = lam["model"]["notes"], lam["model"]["stages"]
        lines.append(f"| {e['name']} | {rungs} | {ran[0]} | {ran[1]} | {lam['seconds']:.1f} ({lam['band_s'][0]:.1f}-"
                     f"{lam['band_s'][1]:.1f}) *modeled* | {n['map_items']} ({n['waves']}) | "
                     f"{st['encode']['seconds']:.1f} / {st['audio']['seconds']:.1f} / {st['finish']['seconds']:.1f} | "
                     f"{lam['usd']:.4f} | {lam['usd_per_min']:.4f} |")  # fmt: skip
    checks = [(e["name"], s) for e in doc.get("streaming", []) for s in e["validation"]["summary"]]
    if checks:
        lines += ["", "| job | streaming fit validated | configuration | n | median error | range |",
                  "|---|---|---|---:|---:|---|"]  # fmt: skip
        lines += [f"| {name} | {s['stage']} | {s['config']} | {s['n']} | {s['median_error']:+.1%} | "
                  f"{s['min_error']:+.1%} .. {s['max_error']:+.1%} |" for name, s in checks]  # fmt: skip
    return "\n".join(lines)


def fits(doc: dict[str, Any]) -> str:
    lines = ["| stage | a (s) | b (s per unit) | points | e | r2 |", "|---|---:|---:|---:|---:|---:|"]
    for name, f in doc["fits"].items():
        lines.append(f"| {name} | {f['a_s']:.3f} | {f['b_s_per_unit']:.4g} | {f['points']} | "
                     f"{f['efficiency']:.2f} | {f['thread_cost_2']:.2f} |")  # fmt: skip
    return "\n".join(lines)


TABLES = {"talk": talk, "stages": stages, "targets": targets, "costs": costs, "validation": validation,
          "fits": fits, "sweeps": sweeps, "streaming": streaming}  # fmt: skip
MARKED = re.compile(r"(<!-- bench (\w+) (\S+) -->\n)(.*?)(<!-- /bench -->)", re.S)


def update(text: str, root: Path) -> str:
    """`text` with every marked table rendered again from its JSON (paths relative to `root`)."""
    docs: dict[str, dict[str, Any]] = {}

    def render(m: re.Match[str]) -> str:
        doc = docs.setdefault(m[3], json.loads((root / m[3]).read_text()))
        return f"{m[1]}{TABLES[m[2]](doc)}\n{m[5]}"

    return MARKED.sub(render, text)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[0] == "--update":
        for name in args[1:]:
            path = Path(name)
            path.write_text(update(path.read_text(), Path.cwd()))
        return 0
    doc = json.loads(Path(args[0]).read_text())
    for title, render in TABLES.items():
        print(f"<!-- {title} -->\n{render(doc)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
