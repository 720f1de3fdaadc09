"""Plots a confab-bench results file: throughput per workload (with the ceiling) and
latency percentiles per workload, as PNGs. Used by scripts/bench."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results, out = sys.argv[1], sys.argv[2]
rows = json.load(open(results))["rows"]
names = [r["workload"] for r in rows]

fig, ax = plt.subplots(figsize=(9, 4.5))
bars = ax.bar(names, [r["rps"] for r in rows], color=["#888"] + ["#1a5fb4"] * (len(rows) - 1))
for b, r in zip(bars, rows):
    ax.annotate(f'{r["rps"]:.0f}\n×{r["ratio_to_ceiling"]:.2f}', (b.get_x() + b.get_width() / 2, b.get_height()),
                ha="center", va="bottom", fontsize=8)
ax.set_ylabel("requests / s")
ax.set_title("Throughput per workload (ratio to the ceiling server)")
fig.tight_layout()
fig.savefig(f"{out}/throughput.png", dpi=120)

fig, ax = plt.subplots(figsize=(9, 4.5))
width = 0.2
for i, (key, label) in enumerate([("p50_us", "p50"), ("p90_us", "p90"), ("p99_us", "p99"), ("p999_us", "p99.9")]):
    ax.bar([x + (i - 1.5) * width for x in range(len(rows))], [r[key] / 1000 for r in rows], width, label=label)
ax.set_xticks(range(len(rows)), names)
ax.set_ylabel("latency, ms")
ax.set_yscale("log")
ax.legend()
ax.set_title("Latency percentiles per workload")
fig.tight_layout()
fig.savefig(f"{out}/latency.png", dpi=120)
