"""Accuracy against fit time of the few-shot benchmark: one panel per data set and N.

Panels come in the order of the runs (the files in the order given), two a row.

One line per system (SetFit, embkit) through its pair budgets, ordered by median fit time;
a point is the median over seeds of both accuracy and fit time, with the seeds' accuracy
range as an error bar. SetFit at its defaults and embkit at its defaults are marked with a
star; settings that change more than the budget (labels with a colon, e.g. ``embkit
40:5e-5``) are open squares off the line.

    python -m benchmarks.plot_fewshot docs/img/fewshot_speed.png \
        benchmarks/results/fewshot_budgets_sst2.json \
        benchmarks/results/fewshot_budgets_sst2_n64.json \
        benchmarks/results/fewshot_budgets_emotion.json \
        benchmarks/results/fewshot_budgets_emotion_sweep.json \
        benchmarks/results/fewshot_budgets_emotion_n64.json

draws the runs of one or several result files of ``benchmarks.bench_fewshot`` and prints
their summary table (``bench_fewshot --plot`` draws the runs of that one run). A run that a
later file repeats (same data set, N, seed and contender, e.g. a reference budget run
again beside new ones) counts once: the first file's run is kept.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

SYSTEMS = {"setfit": ("SetFit 1.2.0", "tab:orange"), "embkit": ("embkit", "tab:blue")}


def curve_points(runs: list[dict[str, Any]], dataset: str, n: int, system: str) -> list[dict]:
    """Median fit time and accuracy (and accuracy range) of each budget of one system.

    >>> runs = [
    ...     {"dataset": "d", "n_per_class": 8, "contender": c, "fit_s": t, "accuracy": a}
    ...     for c, t, a in [("setfit default", 4.0, 0.6), ("setfit default", 6.0, 0.8),
    ...                     ("setfit ni=5", 2.0, 0.5), ("embkit default", 1.0, 0.7)]
    ... ]
    >>> [(p["label"], p["fit_s"], p["accuracy"]) for p in curve_points(runs, "d", 8, "setfit")]
    [('setfit ni=5', 2.0, 0.5), ('setfit default', 5.0, 0.7)]
    """
    group = [
        r
        for r in runs
        if r["dataset"] == dataset and r["n_per_class"] == n and r["contender"].split()[0] == system
    ]
    points = []
    for label in dict.fromkeys(r["contender"] for r in group):
        mine = [r for r in group if r["contender"] == label]
        accs = [r["accuracy"] for r in mine]
        points.append(
            {
                "label": label,
                "fit_s": statistics.median(r["fit_s"] for r in mine),
                "accuracy": statistics.median(accs),
                "low": min(accs),
                "high": max(accs),
                "default": label.endswith(" default"),
            }
        )
    return sorted(points, key=lambda p: p["fit_s"])


def first_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs without repeats of one (data set, N, seed, contender): the first one stays.

    >>> runs = [
    ...     {"dataset": "d", "n_per_class": 8, "seed": 0, "contender": "setfit ni=5", "fit_s": 2.0},
    ...     {"dataset": "d", "n_per_class": 8, "seed": 0, "contender": "setfit ni=5", "fit_s": 3.0},
    ...     {"dataset": "d", "n_per_class": 8, "seed": 1, "contender": "setfit ni=5", "fit_s": 4.0},
    ... ]
    >>> [r["fit_s"] for r in first_runs(runs)]
    [2.0, 4.0]
    """
    seen: dict[tuple, dict[str, Any]] = {}
    for r in runs:
        seen.setdefault((r["dataset"], r["n_per_class"], r["seed"], r["contender"]), r)
    return list(seen.values())


def plot_runs(runs: list[dict[str, Any]], path: str | Path) -> Path:
    """Draw the panels to ``path`` (PNG) and return it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # panels in the order the runs come (files in the order given): one data set's N together
    cells = list(dict.fromkeys((r["dataset"], r["n_per_class"]) for r in runs))
    cols = min(2, len(cells))
    rows = -(-len(cells) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 4.2 * rows), squeeze=False)
    for ax, (dataset, n) in zip(axes.flat, cells, strict=False):
        for system, (name, colour) in SYSTEMS.items():
            points = curve_points(runs, dataset, n, system)
            # settings beyond the pair budget (e.g. "embkit 40:5e-5") stand apart from the line
            line = [p for p in points if ":" not in p["label"]]
            apart = [p for p in points if ":" in p["label"]]
            for group, style in ((line, "-"), (apart, "none")):
                if not group:
                    continue
                ax.errorbar(
                    [p["fit_s"] for p in group],
                    [p["accuracy"] for p in group],
                    yerr=[
                        [p["accuracy"] - p["low"] for p in group],
                        [p["high"] - p["accuracy"] for p in group],
                    ],
                    color=colour,
                    linestyle=style,
                    marker="o" if style == "-" else "s",
                    mfc=colour if style == "-" else "white",
                    capsize=3,
                    alpha=0.9,
                    label=name if style == "-" else f"{name}, other settings",
                )
            for p in points:
                if p["default"]:
                    ax.scatter(
                        p["fit_s"],
                        p["accuracy"],
                        s=220,
                        marker="*",
                        color=colour,
                        edgecolor="black",
                        zorder=5,
                        label=f"{name} defaults",
                    )
                ax.annotate(
                    p["label"].split(" ", 1)[1],
                    (p["fit_s"], p["accuracy"]),
                    textcoords="offset points",
                    xytext=(5, 4),
                    fontsize=7,
                    color=colour,
                )
        ax.set_xscale("log")
        low, high = ax.get_xlim()
        ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000) if low <= t <= high]
        ax.minorticks_off()
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.set_title(f"{dataset}, N={n} per class")
        ax.set_xlabel("fit time, s (median of seeds, log scale)")
        ax.set_ylabel("test accuracy (median; bars: seed range)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(cells) :]:
        ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> Path:
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) < 2:
        raise SystemExit("usage: python -m benchmarks.plot_fewshot OUT.png RESULTS.json [...]")
    from benchmarks._common import markdown_table
    from benchmarks.bench_fewshot import summarise

    runs = [run for name in args[1:] for run in json.loads(Path(name).read_text())["runs"]]
    runs = first_runs(runs)
    print(markdown_table(summarise(runs)))
    out = plot_runs(runs, args[0])
    print(out)
    return out


if __name__ == "__main__":
    main()
