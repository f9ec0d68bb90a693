"""What the bench prints and writes: a table, the JSON document, a bar chart and a Lambda timeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from splitstitch.benchmark.talk import TalkRow


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.5f}"


def runtime_table(result: dict[str, Any]) -> str:
    head = f"{'runtime':<18} {'seconds':>9} {'x realtime':>10} {'vs laptop':>9} {'$ / job':>9} {'$ / out min':>11}  how"
    lines = [head, "-" * len(head)]
    for r in result["runtimes"]:
        lines.append(
            f"{r['name']:<18} {r['seconds']:>9.2f} {r['realtime_factor'] or 0:>10.2f} {r['speedup_vs_laptop'] or 0:>9.2f} "
            f"{_money(r['cost_usd']):>9} {_money(r['cost_per_output_minute_usd']):>11}  "
            f"{'measured' if r['measured'] else 'MODELED'}"
        )
    c = result["calibration"]
    lines.append(
        f"calibration: model {c['model_seconds']:.2f} s vs measured local {c['measured_seconds']:.2f} s, "
        f"error {c['error']:+.1%} -> {c['status'].upper()}"
        + ("" if c["status"] == "calibrated" else f" (outside ±{c['tolerance']:.0%}: modeled figures are not trusted)")
    )
    return "\n".join(lines)


HIDDEN = {"cost_breakdown", "thread_efficiency_probe", "notes", "share_rule", "price_source", "billing", "cpu_credits"}


def assumptions_text(result: dict[str, Any]) -> str:
    lines = []
    for r in result["runtimes"]:
        if r["measured"]:
            continue
        a = {k: v for k, v in r["assumptions"].items() if k not in HIDDEN}
        lines.append(f"{r['name']} (modeled): " + ", ".join(f"{k}={v}" for k, v in a.items()))
    return "\n".join(lines)


def talk_table(rows: list[tuple[TalkRow, dict[str, Any]]]) -> str:
    """Ours beside the talk's, in seconds and times realtime (our jobs are shorter: compare x realtime)."""
    names = [r["name"] for r in rows[0][1]["runtimes"]] if rows else []
    head = (
        f"{'talk job':<20} {'ours s':>7} | talk s (x rt): {'lambda':>14} {'t2.large':>14} {'laptop':>14} | ours s (x rt): "
        + " ".join(f"{n:>18}" for n in names)
    )
    lines = [head, "-" * len(head)]
    for row, result in rows:
        talk = " ".join(f"{s:>6.0f} ({row.realtime(s):>5.1f})" for s in (row.lambda_s, row.t2_large_s, row.laptop_s))
        ours = " ".join(
            f"{r['seconds']:>8.1f}{'*' if not r['measured'] else ' '}({r['realtime_factor']:>6.2f})"
            for r in result["runtimes"]
        )
        lines.append(
            f"{row.name:<20} {result['source']['duration_s']:>7.1f} |                {talk} |                {ours}"
        )
    lines.append("* modeled; x rt = source seconds per wall second")
    return "\n".join(lines)


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(results: list[dict[str, Any]], path: Path, labels: list[str] | None = None) -> None:
    """Seconds per runtime (hatched = modeled); one group per source."""
    plt = _pyplot()
    names = [r["name"] for r in results[0]["runtimes"]]
    labels = labels or [Path(res["source"]["path"]).name for res in results]
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(results) * len(names) / 2 + 3), 4), dpi=80)
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [g + i * width for g in range(len(results))]
        runs = [next(r for r in res["runtimes"] if r["name"] == name) for res in results]
        bars = ax.bar(xs, [r["seconds"] for r in runs], width, label=name)
        for bar, run in zip(bars, runs, strict=True):
            if not run["measured"]:
                bar.set_hatch("//")
    ax.set_xticks([g + 0.4 - width / 2 for g in range(len(results))], labels, fontsize=8)
    ax.set_ylabel("seconds (hatched: modeled)")
    if len(results) > 1:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")  # jobs differ by orders of magnitude; plain seconds on the ticks
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.legend(fontsize=8)
    ax.set_title("splitstitch bench: wall seconds per job")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


STAGE_COLOURS = {"prepare": "tab:gray", "split": "tab:orange", "encode": "tab:blue", "stitch": "tab:green"}


def timeline_chart(runtime: dict[str, Any], path: Path) -> None:
    """One row per concurrent Lambda: cold start, S3 transfer and compute of each modeled invocation."""
    plt = _pyplot()
    slots = runtime["timeline"]
    rows = {("encode", s["worker"]) if s["stage"] == "encode" else (s["stage"], 0) for s in slots}
    order = sorted(rows, key=lambda r: (list(STAGE_COLOURS).index(r[0]), r[1]))
    y = {r: i for i, r in enumerate(order)}
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.25 * len(order) + 1.5)), dpi=80)
    for s in slots:
        row = y[("encode", s["worker"]) if s["stage"] == "encode" else (s["stage"], 0)]
        t = s["start"]
        for part, colour in (
            ("cold_s", "tab:red"),
            ("transfer_s", "tab:purple"),
            ("compute_s", STAGE_COLOURS[s["stage"]]),
        ):
            if s[part] > 0:
                ax.barh(row, s[part], left=t, color=colour, edgecolor="white", linewidth=0.3)
                t += s[part]
    ax.set_yticks(range(len(order)), [f"{st} {w}" if st == "encode" else st for st, w in order], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (MODELED); red cold start, purple S3 transfer")
    ax.set_title(f"{runtime['name']}: modeled timeline, total {runtime['seconds']:.1f} s")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
