"""Turns the run records of load.py into a markdown report and a plot.

Every figure is the median over rounds. A ratio to nginx is paired: for each round, the
figure divided by nginx's figure in the same round and scenario (the two runs are seconds
apart), then the median of those quotients over rounds.
"""

import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

BEGIN = "<!-- load-results:begin -->"
END = "<!-- load-results:end -->"
PLOT_NAME = "benchmarks-req-per-cpu.png"

# (key, column title, format, lower is better)
METRICS = [
    ("rps", "req/s", "{:.0f}", False),
    ("p50_ms", "p50 ms", "{:.2f}", True),
    ("p99_ms", "p99 ms", "{:.2f}", True),
    ("cpu_s", "proxy CPU-s", "{:.2f}", True),
    ("req_per_cpu_s", "req/CPU-s", "{:.0f}", False),
    ("rss_mib", "peak RSS MiB", "{:.1f}", True),
]


def derive(record):
    r = dict(record)
    r["rps"] = r["requests"] / r["seconds"] if r["seconds"] else 0.0
    r["req_per_cpu_s"] = r["requests"] / r["cpu_s"] if r["cpu_s"] else float("nan")
    r["rss_mib"] = r["hwm_kb"] / 1024
    return r


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def fmt(template, value):
    return "–" if math.isnan(value) else template.format(value)


def summarise(records):
    """{(scenario, target): {metric: median}} and {(scenario, target): {metric: ratio}}."""
    runs = defaultdict(list)
    for record in map(derive, records):
        runs[(record["scenario"], record["target"])].append(record)
    medians, ratios = {}, {}
    for key, group in runs.items():
        medians[key] = {m: median([r[m] for r in group]) for m, *_ in METRICS}
        medians[key]["errors"] = sum(r["errors"] for r in group)
        medians[key]["rounds"] = len(group)
        medians[key]["gen_core_busy"] = median([r["gen_core_busy"] for r in group])
        medians[key]["proxy_core_busy"] = median([r["proxy_core_busy"] for r in group])
        base = {r["round"]: r for r in runs.get((key[0], "nginx"), [])}
        ratios[key] = {}
        for m, *_ in METRICS:
            quotients = [
                r[m] / base[r["round"]][m]
                for r in group
                if r["round"] in base and base[r["round"]][m] not in (0, 0.0)
            ]
            ratios[key][m] = median(quotients)
    return medians, ratios


def bound(row):
    """Which core limited the run: the proxy's, the generator's, or both."""
    proxy, gen = row["proxy_core_busy"] >= 90, row["gen_core_busy"] >= 90
    return {(True, False): "proxy", (True, True): "both", (False, True): "generator"}.get(
        (proxy, gen), "neither"
    )


def markdown(header, records, scenarios):
    medians, ratios = summarise(records)
    targets = sorted({t for _, t in medians}, key=lambda t: (t != "wicket", t != "nginx", t))
    lines = [
        f"Measured {header['date']} on {header['machine']}.",
        f"Proxy pinned to CPU {header['proxy_cpu']}; load generator and backend on CPU "
        f"{header['gen_cpu']}. {header['rounds']} interleaved rounds, {header['duration']} s "
        f"measured after {header['warmup']} s of warm-up, a fresh proxy process per run; "
        "medians over rounds.",
        "",
        "Versions: " + "; ".join(f"{k}: `{v}`" for k, v in header["versions"].items()),
        "",
        "| scenario | proxy | " + " | ".join(t for _, t, _, _ in METRICS) + " | errors | bound |",
        "|---|---|" + "---:|" * len(METRICS) + "---:|---|",
    ]
    for s, title in scenarios.items():
        for t in targets:
            row = medians.get((s, t))
            if row is None:
                continue
            cells = [fmt(f, row[m]) for m, _, f, _ in METRICS]
            lines.append(f"| {s}) {title} | {t} | " + " | ".join(cells)
                         + f" | {row['errors']} | {bound(row)} |")
    lines += [
        "",
        "Ratios to nginx (paired by round, median; for req/s and req/CPU-s higher is better, "
        "for the others lower is better):",
        "",
        "| scenario | proxy | " + " | ".join(f"{t} ×nginx" for _, t, _, _ in METRICS) + " |",
        "|---|---|" + "---:|" * len(METRICS),
    ]
    for s, title in scenarios.items():
        for t in targets:
            if t == "nginx" or (s, t) not in ratios:
                continue
            cells = [fmt("{:.2f}", ratios[(s, t)][m]) for m, *_ in METRICS]
            lines.append(f"| {s}) {title} | {t} | " + " | ".join(cells) + " |")
    if header["notes"]:
        lines += ["", "Notes:"] + [f"- {n}" for n in header["notes"]]
    return "\n".join(lines) + "\n"


def plot(records, scenarios, path):
    """Grouped bars of req/CPU-s per scenario per proxy; the whiskers span the rounds."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    runs = defaultdict(list)
    for record in map(derive, records):
        runs[(record["scenario"], record["target"])].append(record["req_per_cpu_s"])
    present = [s for s in scenarios if any(k[0] == s for k in runs)]
    targets = sorted({t for _, t in runs}, key=lambda t: (t != "wicket", t != "nginx", t))
    if not present or not targets:
        return False
    width = 0.8 / len(targets)
    fig, ax = plt.subplots(figsize=(10, 5))
    for i, t in enumerate(targets):
        xs, ys, lo, hi = [], [], [], []
        for j, s in enumerate(present):
            values = [v for v in runs.get((s, t), []) if not math.isnan(v)]
            if not values:
                continue
            m = statistics.median(values)
            xs.append(j + (i - (len(targets) - 1) / 2) * width)
            ys.append(m)
            lo.append(m - min(values))
            hi.append(max(values) - m)
        bars = ax.bar(xs, ys, width, yerr=[lo, hi], capsize=3, label=t)
        ax.bar_label(bars, fmt="%.0f", fontsize=7, padding=2)
    ax.set_xticks(range(len(present)))
    ax.set_xticklabels([f"{s}) {scenarios[s]}" for s in present], rotation=15, ha="right")
    ax.set_ylabel("requests per proxy CPU-second (median of rounds)")
    ax.set_title("Requests per proxy CPU-second, one core per proxy")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def publish(markdown_text, png, docs):
    """Replaces the results block of docs/benchmarks.md and copies the plot beside it."""
    doc = docs / "benchmarks.md"
    text = doc.read_text()
    block = f"{BEGIN}\n{markdown_text}\n![req/CPU-s per scenario per proxy]({PLOT_NAME})\n{END}"
    pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{doc} has no {BEGIN} … {END} block")
    doc.write_text(pattern.sub(lambda _: block, text))
    if png is not None:
        (docs / PLOT_NAME).write_bytes(Path(png).read_bytes())
