"""The bench's charts (matplotlib, Agg): the talk's bars next to ours, modeled timelines, the memory sweep
and the scaling curves. Every modeled bar is hatched and says MODELED in its legend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TALK_COLS = (("lambda_s", "talk: Lambda", "#9ecae1"), ("t2_large_s", "talk: t2.large", "#bdbdbd"),
             ("laptop_s", "talk: laptop", "#fdd0a2"))  # fmt: skip
HOW_STYLE = {"modeled": "//", "emulated": "..", "projected": "", "measured": ""}
STAGE_COLOURS = {"prepare": "tab:gray", "encode": "tab:blue", "audio": "tab:olive", "finish": "tab:green"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_log(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "25" else ""))


def bars(doc: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    rows = doc["rows"]
    names = [e["name"] for e in rows[0]["runtimes"]]
    series = [(k, label, colour, None) for k, label, colour in TALK_COLS if any(r.get("talk") for r in rows)]
    series += [(n, n, None, n) for n in names]
    fig, ax = plt.subplots(figsize=(max(8, 1.9 * len(rows) + 2), 5.5), dpi=90)
    width = 0.85 / len(series)
    for i, (key, label, colour, runtime) in enumerate(series):
        xs, ys, errs, hatch = [], [], [[], []], ""
        for g, r in enumerate(rows):
            if runtime is None:
                value = (r.get("talk") or {}).get(key)
                lo = hi = value
            else:
                e = next((x for x in r["runtimes"] if x["name"] == runtime), None)
                if e is None:
                    continue
                value, hatch = e["seconds"], HOW_STYLE.get(e["how"], "")
                lo, hi = e.get("band_s") or (value, value)
                label = f"ours: {runtime} ({e['how'].upper() if e['how'] == 'modeled' else e['how']})"
            if value:
                xs.append(g + i * width)
                ys.append(value)
                errs[0].append(max(0.0, value - (lo or value)))
                errs[1].append(max(0.0, (hi or value) - value))
        if xs:
            ax.bar(xs, ys, width, label=label, color=colour, hatch=hatch, edgecolor="black", linewidth=0.4,
                   yerr=errs if any(errs[0] + errs[1]) else None, capsize=2)  # fmt: skip
    scale = doc.get("scale")
    labels = [r["label"].replace(" ", "\n", 2) + f"\nours measured on {r['source']['duration_s']:.0f} s, "
              f"{r['source']['bytes'] / 1e6:.1f} MB" + (f"\nscale {r['scale']:.3g}" if doc.get("full_length") else "")
              for r in rows]  # fmt: skip
    ax.set_xticks([g + 0.425 - width / 2 for g in range(len(rows))], labels, fontsize=7)
    _plain_log(ax)
    what = "real sizes and durations" if doc.get("full_length") else f"sources at scale {scale}"
    ax.set_ylabel("wall seconds (log); hatched // = MODELED, .. = emulated")
    ax.set_title(f"splitstitch bench, talk workload at {what}: the talk's bars beside ours", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def timeline(job: dict[str, Any], title: str, path: Path, max_rows: int = 60) -> None:
    """One row per concurrent Lambda (encode rows sampled when there are many): cold start, I/O, compute."""
    plt = _pyplot()
    slots = job["timeline"]
    enc_rows = sorted({s["row"] for s in slots if s["stage"] == "encode"})
    keep = set(enc_rows[:: max(1, len(enc_rows) // max_rows)])
    rows = [("prepare", 0), ("audio", 0), *(("encode", r) for r in sorted(keep)), ("finish", 0)]
    y = {r: i for i, r in enumerate(rows)}
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.09 * len(rows) + 2)), dpi=90)
    for s in slots:
        key = (s["stage"], s["row"])
        if key not in y:
            continue
        t = s["start"]
        for part, colour in (("cold_s", "tab:red"), ("io_s", "tab:purple"), ("compute_s", STAGE_COLOURS[s["stage"]])):
            if s[part] > 0:
                ax.barh(y[key], s[part], left=t, color=colour, height=0.8, linewidth=0)
                t += s[part]
    ax.set_yticks([y[r] for r in rows if r[0] != "encode"], [r[0] for r in rows if r[0] != "encode"], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (MODELED); red cold start, purple S3 I/O, colour compute")
    ax.set_title(f"{title}: {job['notes']['segments']} segments, total {job['seconds']:.1f} s (MODELED)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def memory(sweeps: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=90)
    for sw in sweeps:
        mb = [p["memory_mb"] for p in sw["memory"]]
        left.plot(mb, [p["seconds"] for p in sw["memory"]], marker="o", label=sw["row"])
        right.plot(mb, [p["usd_per_min"] for p in sw["memory"]], marker="o", label=sw["row"])
    for ax, what in ((left, "wall seconds (MODELED)"), (right, "$ per output minute (MODELED)")):
        ax.set_xscale("log")
        ax.set_xlabel("encode function memory, MB (template minimum 512)")
        ax.set_ylabel(what)
        ax.legend(fontsize=7)
    _plain_log(left)
    fig.suptitle("memory sweep of the deployed stack (other functions as in the template)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def scaling(sweeps: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=90)
    for sw in sweeps:
        left.plot(
            [p["segments"] for p in sw["segments"]], [p["seconds"] for p in sw["segments"]], marker="o", label=sw["row"]
        )
        right.plot([p["cap"] for p in sw["waves"]], [p["seconds"] for p in sw["waves"]], marker="o", label=sw["row"])
    left.set_xlabel("segments (planner filling MaxConcurrency, no wave share)")
    right.set_xlabel("MaxConcurrency, plan fixed (waves)")
    for ax in (left, right):
        ax.set_xscale("log")
        _plain_log(ax)
        ax.set_ylabel("wall seconds (MODELED)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
