"""The few-shot benchmark's bookkeeping: budgets, jobs, the summary table and the plot.

Nothing here trains a model; the benchmark itself runs under ``benchmarks/``.
"""

from __future__ import annotations

import doctest

import pytest

from benchmarks import bench_fewshot, plot_fewshot
from benchmarks.bench_fewshot import make_jobs, parse_config, setfit_budget, summarise


def _run(contender, seed, fit_s, accuracy, dataset="sst2", n=8):
    return {
        "dataset": dataset,
        "n_per_class": n,
        "seed": seed,
        "contender": contender,
        "fit_s": fit_s,
        "fit_cpu_s": 1.5 * fit_s if contender.startswith("setfit") else 2 * fit_s,
        "accuracy": accuracy,
        "most_frequent": 0.5,
    }


RUNS = [
    _run("setfit default", 0, 10.0, 0.60),
    _run("setfit default", 1, 14.0, 0.70),
    _run("setfit default", 2, 12.0, 0.66),
    _run("setfit ni=5", 0, 20.0, 0.62),
    _run("setfit ni=5", 1, 22.0, 0.64),
    _run("setfit ni=5", 2, 21.0, 0.63),
    _run("embkit default", 0, 6.0, 0.70),
    _run("embkit default", 1, 9.0, 0.68),
    _run("embkit default", 2, 8.0, 0.72),
]


@pytest.mark.parametrize("module", [bench_fewshot, plot_fewshot])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_setfit_budgets_and_jobs():
    assert setfit_budget("default") is None and setfit_budget("10") == 10
    with pytest.raises(ValueError, match="num_iterations >= 1"):
        setfit_budget("0")
    with pytest.raises(ValueError):
        setfit_budget("many")
    jobs = make_jobs(["setfit", "embkit-setfit", "frozen-lr"], ["default", "20"], ["default", "10"])
    assert jobs == [
        ("setfit default", "setfit", None),
        ("setfit ni=20", "setfit", 20),
        ("embkit default", "embkit-setfit", "default"),
        ("embkit 10", "embkit-setfit", "10"),
        ("frozen-lr", "frozen-lr", None),
    ]
    with pytest.raises(ValueError):  # a bad embkit setting is refused before any run
        make_jobs(["embkit-setfit"], [], ["ten"])


def test_parse_config_keeps_unnamed_parts_at_the_defaults():
    assert parse_config("default") == {}
    assert parse_config("20:1e-4") == {"n_pairs_per_example": 20, "learning_rate": 1e-4}
    assert parse_config("40:5e-5:in_batch:1:auto")["batch_size"] == "auto"


def test_summary_gives_medians_spread_and_the_ratio_to_setfit_defaults():
    rows = {r["contender"]: r for r in summarise(RUNS)}
    assert rows["setfit default"]["accuracy median"] == "0.660"
    assert rows["setfit default"]["min-max"] == "0.600-0.700"
    assert rows["setfit default"]["fit s (median)"] == "12.0"
    assert rows["setfit default"]["fit / reference"] == "1.00"
    assert rows["embkit default"]["reference"] == "setfit default"
    assert rows["setfit ni=5"]["fit / reference"] == "1.75"  # 21 / 12
    assert rows["embkit default"]["fit / reference"] == "0.67"  # 8 / 12
    assert rows["embkit default"]["accuracy median"] == "0.700"
    assert rows["embkit default"]["CPU / reference"] == "0.89"  # 16 / 18
    without_defaults = [r for r in RUNS if r["contender"] != "setfit default"]
    rows = {r["contender"]: r for r in summarise(without_defaults)}
    assert rows["embkit default"]["fit / reference"] == "0.38"  # 8 / 21
    assert rows["embkit default"]["reference"] == "setfit ni=5"


def test_curve_points_and_plot(tmp_path):
    points = plot_fewshot.curve_points(RUNS, "sst2", 8, "setfit")
    assert [p["label"] for p in points] == ["setfit default", "setfit ni=5"]  # by fit time
    assert points[0]["default"] and (points[0]["low"], points[0]["high"]) == (0.60, 0.70)
    assert plot_fewshot.curve_points(RUNS, "emotion", 8, "setfit") == []
    runs = RUNS + [_run(r["contender"], r["seed"], r["fit_s"], r["accuracy"], n=64) for r in RUNS]
    out = plot_fewshot.plot_runs(runs, tmp_path / "img" / "speed.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000


def test_plot_main_merges_result_files(tmp_path, capsys):
    import json

    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"runs": RUNS}))
    emotion = [_run(r["contender"], r["seed"], r["fit_s"], r["accuracy"], "emotion") for r in RUNS]
    second.write_text(json.dumps({"runs": emotion}))
    out = plot_fewshot.main([str(tmp_path / "both.png"), str(first), str(second)])
    table = capsys.readouterr().out
    assert out.exists() and "| emotion | 8 | embkit default |" in table
    assert "| sst2 | 8 | setfit default |" in table
    with pytest.raises(SystemExit, match="usage"):
        plot_fewshot.main([str(tmp_path / "x.png")])


def test_plot_main_joins_budgets_of_one_cell_from_two_runs(tmp_path, capsys):
    import json

    # a later run adds budgets to a cell (emotion N=8) and another N of sst2
    earlier = [r for r in RUNS if r["contender"] != "setfit ni=5"]
    later = [r for r in RUNS if r["contender"] == "setfit ni=5"]
    later += [_run(r["contender"], r["seed"], r["fit_s"], r["accuracy"], n=64) for r in RUNS]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"runs": earlier}))
    second.write_text(json.dumps({"runs": later}))
    plot_fewshot.main([str(tmp_path / "all.png"), str(first), str(second)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| sst2")]
    assert [row.split(" | ")[1:3] for row in rows] == [
        ["8", "setfit default"],
        ["8", "embkit default"],
        ["8", "setfit ni=5"],
        ["64", "setfit default"],
        ["64", "setfit ni=5"],
        ["64", "embkit default"],
    ]
    # the budget from the later run is divided by the defaults of the earlier one
    assert "| sst2 | 8 | setfit ni=5 | 3 | 0.630 |" in rows[2] and "| 1.75 |" in rows[2]
    points = plot_fewshot.curve_points(earlier + later, "sst2", 64, "setfit")
    assert [p["label"] for p in points] == ["setfit default", "setfit ni=5"]


def test_a_setfit_run_over_the_pair_cap_is_skipped_and_recorded(monkeypatch, capsys):
    # emotion-sized labels: SetFit's defaults at 64 per class make 122,880 pairs
    texts, labels = [f"t{i}" for i in range(384)], [str(i % 6) for i in range(384)]
    monkeypatch.setattr(bench_fewshot, "read_split", lambda name, split: (texts, labels))
    trained, saved = [], []

    def fake_setfit(model_path, X, y, X_test, seed, iterations):
        trained.append(iterations)
        return labels, 1.0, 0.1, {"fit_cpu_s": 2.0, "steps": 240}

    monkeypatch.setattr(bench_fewshot, "run_setfit", fake_setfit)
    monkeypatch.setattr(bench_fewshot, "warm_up", lambda *a: None)
    monkeypatch.setattr(bench_fewshot, "save_json", lambda result, name: saved.append(result))
    bench_fewshot.main(
        ["--datasets", "emotion", "--n", "64", "--seeds", "0", "--contenders", "setfit",
         "--setfit-iterations", "default", "5"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "skipped: setfit default on emotion, N=64, seed 0: 122,880 pairs" in out
    assert trained == [5]  # num_iterations=5 (3,840 pairs) is under the cap and runs
    assert [r["contender"] for r in saved[-1]["runs"]] == ["setfit ni=5"]
    assert saved[-1]["skipped"][0]["pairs"] == 122_880
    assert "| setfit ni=5 | 1.00 |" in out  # the table names the reference it divides by


def test_plot_main_counts_a_run_repeated_by_a_later_file_once(tmp_path, capsys):
    import json

    # the later file reruns the defaults beside a new budget, with other fit times
    repeat = [_run(r["contender"], r["seed"], 100.0, r["accuracy"]) for r in RUNS[:3]]
    new = [_run("setfit ni=20", s, 30.0, 0.7) for s in range(3)]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps({"runs": RUNS}))
    second.write_text(json.dumps({"runs": repeat + new}))
    plot_fewshot.main([str(tmp_path / "all.png"), str(first), str(second)])
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| sst2")]
    defaults = [row for row in rows if row.split(" | ")[2] == "setfit default"]
    # three seeds, fit time of the first file (median 12.0), not six runs or 100 s
    assert len(defaults) == 1 and "| setfit default | 3 |" in defaults[0]
    assert "| 12.0 |" in defaults[0] and "100.0" not in defaults[0]
    assert any("| setfit ni=20 | 3 |" in row for row in rows)
