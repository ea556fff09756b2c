"""``embkit simulate``: learning curves per strategy and seed, a picture, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embkit.cli import main

ROOT = Path(__file__).resolve().parents[2]
# one review in the file is longer than MiniLM's window: the encoder warns, as it should
pytestmark = pytest.mark.filterwarnings("default::embkit.TextTruncatedWarning")


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    lines = (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text("\n".join(lines[:80]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("cache"))


def test_simulate_writes_curves_and_picture(capsys, data_file, cache, tmp_path):
    import matplotlib.image

    out = tmp_path / "sim"
    argv = [
        "simulate",
        str(data_file),
        "--strategy",
        "random",
        "margin",
        "coreset",
        "--budget",
        "30",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--cache",
        cache,
        "--quiet",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    curves = json.loads((out / "curves.json").read_text())
    assert [(c["strategy"], c["seed"]) for c in curves] == [
        (s, k) for s in ("random", "margin", "coreset") for k in (0, 1)
    ]
    assert all(c["n_labels"] == [10, 20, 30] for c in curves)
    assert all(0 <= a <= 1 for c in curves for a in c["accuracy"])
    # the same seed gives the same seed set: random and margin agree after the first round
    assert curves[0]["accuracy"][0] == curves[2]["accuracy"][0]
    header = printed.splitlines()[0].split()
    assert header == ["labels", "random", "margin", "coreset"]
    assert "strategy: margin  seeds: 2  area (mean ± sd):" in printed
    image = matplotlib.image.imread(out / "learning_curves.png")
    assert image.shape[0] > 100 and image.std() > 0.01


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--strategy", "clever", "--budget", "20"], "unknown strategy 'clever'"),
        (["--budget", "65"], "--budget 65 is larger than the 64 training texts"),
        (["--budget", "20", "--initial", "30"], "--budget 20 must be larger than --initial 30"),
        (["--budget", "20", "--initial", "20"], "--budget 20 must be larger than --initial 20"),
    ],
)
def test_simulate_bad_input(capsys, data_file, cache, tmp_path, extra, message):
    argv = ["simulate", str(data_file), "--out", str(tmp_path), "--cache", cache, *extra]
    assert main(argv) == 1
    assert message in capsys.readouterr().err


def test_simulate_on_a_tiny_file_with_one_seed_label_prints_no_warning(capsys, cache, tmp_path):
    """--initial 1 has no model after the seed label: no numpy warning, no nan, strict JSON."""
    lines = (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text(encoding="utf-8").splitlines()
    data = tmp_path / "tiny.jsonl"
    data.write_text("\n".join(lines[:10]) + "\n", encoding="utf-8")
    out = tmp_path / "sim"
    argv = ["simulate", str(data), "--budget", "4", "--initial", "1", "--batch", "1",
            "--out", str(out), "--cache", cache, "--quiet"]  # fmt: skip
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "nan" not in captured.out
    curves = json.loads((out / "curves.json").read_text(), parse_constant=pytest.fail)
    assert all(c["n_labels"] == [1, 2, 3, 4] and c["area"] is not None for c in curves)
    assert all(0 <= a <= 1 for c in curves for a in c["accuracy"])
