"""The embkit command end to end on a small file: exit codes, files, pictures, predictions."""

from __future__ import annotations

import csv
import gzip
import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import embkit
from embkit.cli import main
from embkit.cli.registry import available_pipelines, register_pipeline

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_TEXTS = 60


@pytest.fixture(scope="module")
def small_data(tmp_path_factory) -> Path:
    """The first 60 records of the shipped Rotten Tomatoes file (a shuffled mix of labels)."""
    lines = (ROOT / "datasets" / "rotten_tomatoes.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("data") / "small.jsonl"
    path.write_text("\n".join(lines[:N_TEXTS]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    """One embedding cache for the module, so each text reaches the model once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def compared(small_data, cache_dir, tmp_path_factory):
    """``embkit compare`` run once with every available default pipeline."""
    out = tmp_path_factory.mktemp("compare") / "report"
    argv = [
        "compare", str(small_data), "--test-size", "0.25", "--out", str(out),
        "--cache", str(cache_dir), "--seed", "0", "--seeds", "2", "--quiet",
    ]  # fmt: skip
    return main(argv), out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_png(path: Path) -> np.ndarray:
    import matplotlib.image

    assert path.read_bytes()[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert image.std() > 0.01, f"{path} is blank"
    return image


# ---------------------------------------------------------------------------- compare


def test_compare_writes_tables_and_pictures(compared):
    code, out = compared
    assert code == 0
    expected = ["most-frequent baseline"] + [
        name for name, spec in available_pipelines().items() if spec.in_compare
    ]
    with open(out / "results.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["pipeline"] for r in rows] == expected
    specs = available_pipelines()
    for row in rows:
        assert 0 <= float(row["accuracy"]) <= 1 and 0 <= float(row["macro_f1"]) <= 1
        assert float(row["fit_time_s"]) >= 0
        assert 0 <= float(row["accuracy_std"]) <= 0.5 and 0 <= float(row["macro_f1_std"]) <= 0.5
        stochastic = row["pipeline"] in specs and specs[row["pipeline"]].stochastic
        assert int(row["n_runs"]) == (2 if stochastic else 1)
    assert int(next(r for r in rows if r["pipeline"] == "lr")["n_runs"]) == 1
    auto = next(r for r in rows if r["pipeline"] == "auto")
    assert auto["chosen"].split(" ")[0] in {"lr", "kneighbors", "feedforward", "contrastive"}
    baseline = rows[0]
    # 15 test texts; the baseline always predicts the majority label.
    assert float(baseline["macro_f1"]) < float(baseline["accuracy"])
    markdown = (out / "results.md").read_text(encoding="utf-8")
    assert markdown.startswith("| pipeline | runs | accuracy | macro F1 | fit time (s) |")
    assert all(f"| {name} " in markdown for name in expected)
    assert "| 2 | " in markdown and " ± " in markdown  # mean ± std over the two seeds
    assert "Best by macro F1" in markdown or "No clear best by macro F1" in markdown

    pca = assert_png(out / "embedding_pca.png")
    n_panels = 1 + sum(spec.tunes for spec in available_pipelines().values() if spec.in_compare)
    ncols = min(n_panels, 3)  # one panel per space, three to a row
    nrows = -(-n_panels // ncols)
    aspect = (ncols * 4.5) / (nrows * 4.0)
    assert 0.8 * aspect < pca.shape[1] / pca.shape[0] < 1.25 * aspect
    assert_png(out / "confusion_matrix.png")

    losses = read_csv(out / "highest_loss.csv")
    assert 1 <= len(losses) <= 15
    values = [float(r["loss"]) for r in losses]
    assert values == sorted(values, reverse=True)
    for row in losses:
        assert row["label"] in {"fresh", "rotten", "plot"} and row["text"]
        assert abs(float(row["loss"]) + np.log(max(float(row["p_label"]), 1e-12))) < 1e-3


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_compare_prints_table_and_where_files_are(small_data, cache_dir, tmp_path, capsys):
    test_file = tmp_path / "test.jsonl"
    test_file.write_text(small_data.read_text(encoding="utf-8"), encoding="utf-8")
    code = main([
        "compare", str(small_data), "--test", str(test_file), "--pipelines", "lr, lr",
        "--cache", str(cache_dir), "--out", str(tmp_path / "out"), "--quiet",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert captured.err == ""  # --quiet: no progress bars, no news
    assert "| most-frequent baseline |" in captured.out
    assert captured.out.count("| lr |") == 1  # a name given twice runs once
    assert "60 test texts" in captured.out
    assert str(tmp_path / "out" / "embedding_pca.png") in captured.out
    assert str(tmp_path / "out" / "confusion_matrix.png") in captured.out


def test_compare_reports_progress_unless_quiet(small_data, cache_dir, capsys):
    code = main(["compare", str(small_data), "--pipelines", "lr", "--cache", str(cache_dir)])
    captured = capsys.readouterr()
    assert code == 0
    assert "encoded 60 texts" in captured.err and "fitting lr" in captured.err


def test_compare_skips_bad_rows_with_a_count(small_data, cache_dir, tmp_path, capsys):
    path = tmp_path / "with-bad.jsonl"
    lines = small_data.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:30] + ["{not json", '{"text": ""}'] + lines[30:]) + "\n")
    code = main([
        "compare", str(path), "--pipelines", "lr", "--cache", str(cache_dir), "--quiet",
        "--on-error", "skip",
    ])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    assert "embkit: warning: skipped 2 bad rows" in captured.err
    assert "line 31: bad JSON" in captured.err


# ---------------------------------------------------------------------------- train / predict


def test_train_then_predict_jsonl(small_data, cache_dir, tmp_path, capsys):
    model_dir = tmp_path / "model"
    code = main([
        "train", str(small_data), "--pipeline", "lr", "--out", str(model_dir),
        "--cache", str(cache_dir), "--quiet",
    ])  # fmt: skip
    assert code == 0
    assert (model_dir / "pipeline.embkit").is_file()
    assert not (model_dir / "pipeline.joblib").exists()
    meta = json.loads((model_dir / "meta.json").read_text())
    assert meta["pipeline_name"] == "lr" and meta["model"] == "all-MiniLM-L6-v2"
    assert meta["labels"] == ["fresh", "plot", "rotten"] and meta["n_train"] == N_TEXTS
    assert meta["format_version"] == 2
    with zipfile.ZipFile(model_dir / "pipeline.embkit") as archive:  # embkit.save's format
        assert "embkit.json" in archive.namelist()
    saved = embkit.load(model_dir / "pipeline.embkit")
    assert saved.classes_.tolist() == meta["labels"]
    assert saved.steps[0][1].cache is None  # the machine's cache path is not saved
    capsys.readouterr()

    new = tmp_path / "new.txt"
    new.write_text(
        "A gripping, beautifully acted drama.\n\nTedious and far too long.\n"
        "A retired detective travels to Rome to find his missing daughter.\n"
    )
    assert main(["predict", str(model_dir), str(new), "--quiet"]) == 0
    out = capsys.readouterr().out
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == [
        "A gripping, beautifully acted drama.",
        "Tedious and far too long.",
        "A retired detective travels to Rome to find his missing daughter.",
    ]
    assert all(r["label"] in meta["labels"] and 0 < r["score"] <= 1 for r in records)

    out_file = tmp_path / "preds" / "out.jsonl"
    assert main(["predict", str(model_dir / "pipeline.embkit"), str(small_data),
                 "--out", str(out_file), "--cache", str(cache_dir), "--quiet"]) == 0  # fmt: skip
    preds = read_jsonl(out_file)
    assert len(preds) == N_TEXTS and {p["label"] for p in preds} <= set(meta["labels"])
    # Trained on these very texts: most predictions match (a sanity check, not a score).
    truth = [r["label"] for r in read_jsonl(small_data)]
    assert np.mean([p["label"] == t for p, t in zip(preds, truth, strict=True)]) > 0.8


def test_predict_refuses_a_pickle_unless_allowed(small_data, cache_dir, tmp_path, capsys):
    import joblib

    model_dir = tmp_path / "model"
    assert main(["train", str(small_data), "--pipeline", "lr", "--out", str(model_dir),
                 "--cache", str(cache_dir), "--quiet"]) == 0  # fmt: skip
    pipe = embkit.load(model_dir / "pipeline.embkit")
    old = tmp_path / "old"  # the layout train wrote before: a joblib dict in pipeline.joblib
    old.mkdir()
    joblib.dump({"format": "embkit-pipeline", "pipeline": pipe}, old / "pipeline.joblib")
    bare = tmp_path / "bare.pkl"
    bare.write_bytes(pickle.dumps(pipe))
    texts = tmp_path / "new.txt"
    texts.write_text("A gripping drama.\nTedious and long.\n")
    capsys.readouterr()
    for target in (old, old / "pipeline.joblib", bare):
        assert main(["predict", str(target), str(texts), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert "is a pickle/joblib file" in err and "--allow-pickle" in err, err
    expected = pipe.predict(["A gripping drama.", "Tedious and long."]).tolist()
    for target in (old, bare):
        assert main(["predict", str(target), str(texts), "--quiet", "--allow-pickle",
                     "--cache", str(cache_dir)]) == 0  # fmt: skip
        records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [r["label"] for r in records] == expected
    not_a_pipeline = tmp_path / "numbers.pkl"
    not_a_pipeline.write_bytes(pickle.dumps([1, 2, 3]))
    assert main(["predict", str(not_a_pipeline), str(texts), "--allow-pickle"]) == 1
    assert "no pipeline with a predict method" in capsys.readouterr().err


def test_encode_writes_npy(small_data, cache_dir, tmp_path, capsys):
    out = tmp_path / "emb"  # the .npy suffix is added
    assert main(["encode", str(small_data), "--out", str(out), "--cache", str(cache_dir),
                 "--limit", "7", "--quiet"]) == 0  # fmt: skip
    X = np.load(tmp_path / "emb.npy")
    assert X.shape == (7, 384) and X.dtype == np.float32
    assert "shape (7, 384)" in capsys.readouterr().out


def test_encode_keeps_an_upper_case_npy_suffix(small_data, cache_dir, tmp_path):
    out = tmp_path / "UP.NPY"
    assert main(["encode", str(small_data), "--out", str(out), "--cache", str(cache_dir),
                 "--limit", "3", "--quiet"]) == 0  # fmt: skip
    assert np.load(out).shape == (3, 384)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["UP.NPY"]


def test_train_auto_saves_the_pipeline_it_chose(small_data, cache_dir, tmp_path, capsys):
    model_dir = tmp_path / "auto"
    code = main(["train", str(small_data), "--pipeline", "auto", "--out", str(model_dir),
                 "--cache", str(cache_dir), "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    meta = json.loads((model_dir / "meta.json").read_text())
    saved = embkit.load(model_dir / "pipeline.embkit")
    names = [name for name, _ in saved.steps]
    assert names[0] == "sentenceencoder" and names[-1] == "logisticregression"
    assert "GridSearchCV" not in repr(saved)
    assert meta["chosen"].split(" ")[0] in ("lr", "kneighbors", "feedforward", "contrastive")
    assert (names == ["sentenceencoder", "logisticregression"]) == meta["chosen"].startswith("lr")
    texts = ["A gripping drama.", "Tedious and long."]
    assert main(["predict", str(model_dir), str(_lines(tmp_path, texts)), "--quiet"]) == 0


def test_a_failed_save_leaves_no_folder(small_data, cache_dir, tmp_path, monkeypatch, capsys):
    import embkit.cli.saved

    def broken(*args, **kwargs):
        Path(args[1]).mkdir(parents=True)  # as save_trained does, before it fails
        raise ValueError("cannot save this")

    monkeypatch.setattr(embkit.cli.saved, "save_trained", broken)
    out = tmp_path / "new" / "model"
    assert main(["train", str(small_data), "--pipeline", "lr", "--out", str(out),
                 "--cache", str(cache_dir), "--quiet"]) == 1  # fmt: skip
    assert "cannot save this" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def _lines(folder: Path, texts: list[str]) -> Path:
    path = folder / "texts.txt"
    path.write_text("\n".join(texts) + "\n")
    return path


# ---------------------------------------------------------------------------- exit codes


def bad_inputs(tmp_path: Path, small_data: Path) -> dict[str, tuple[list[str], str]]:
    one_label = tmp_path / "one.jsonl"
    one_label.write_text('{"text": "a", "label": "x"}\n{"text": "b", "label": "x"}\n')
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"text": "a", "label": "x"}\n{"text": "b", "lab\n')
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    (tmp_path / "folder.jsonl").mkdir()
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(broken.read_bytes())[:20])
    fractional = tmp_path / "fractional.jsonl"
    fractional.write_text('{"text": "a", "label": 0.5}\n{"text": "b", "label": 1.0}\n')
    missing_cache = tmp_path / "to_label.txt"  # label must stop before encoding (no cache made)
    missing_cache.write_text("a text\nanother text\n")
    return {
        "missing file": (["compare", str(tmp_path / "nope.jsonl")], "no such file"),
        "a folder": (["compare", str(tmp_path / "folder.jsonl")], "is a folder, not a data file"),
        "cut gzip": (["compare", str(tmp_path / "cut.jsonl.gz")], "cut.jsonl.gz:1: cannot read"),
        "bad json": (["compare", str(broken)], "broken.jsonl:2: bad JSON"),
        "one label": (["compare", str(one_label)], "only one label ('x')"),
        "unknown pipeline": (["compare", str(small_data), "--pipelines", "lr,nope"], "'nope'"),
        "train unknown": (
            ["train", str(small_data), "--pipeline", "x", "--out", str(tmp_path / "m")],
            "unknown pipeline 'x'",
        ),  # fmt: skip
        "wrong field": (["compare", str(small_data), "--text-field", "body"], "no 'body' field"),
        "no model dir": (["predict", str(tmp_path), str(small_data)], "no saved pipeline"),
        "foreign file": (["predict", str(small_data), str(small_data)], "not a readable saved"),
        "bad format": (["encode", str(tmp_path / "x.parquet"), "--out", "x.npy"], "--format"),
        "format given": (
            ["encode", str(broken), "--format", "csv", "--out", "x.npy"],
            "no column 'text'",
        ),  # fmt: skip
        "fractional labels": (["compare", str(fractional)], "labels must be classes"),
        "seeds past the range": (
            ["compare", str(small_data), "--seed", str(2**32 - 2), "--seeds", "3"],
            "runs up to seed 4294967296",
        ),  # fmt: skip
        "unknown strategy": (
            [
                "label",
                str(missing_cache),
                "--labels",
                "a,b",
                "--strategy",
                "best",
                "--out",
                str(tmp_path / "answers.jsonl"),
            ],
            "unknown strategy 'best'",
        ),  # fmt: skip
    }


@pytest.mark.parametrize(
    "case",
    ["missing file", "a folder", "cut gzip", "bad json", "one label", "unknown pipeline",
     "train unknown", "wrong field", "no model dir", "foreign file", "bad format", "format given",
     "fractional labels", "seeds past the range", "unknown strategy"],
)  # fmt: skip
def test_bad_input_exits_1_with_one_line(case, tmp_path, small_data, capsys):
    argv, reason = bad_inputs(tmp_path, small_data)[case]
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embkit: error: ")
    assert reason in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not (tmp_path / ".embkit-cache").exists()  # nothing encoded before the error


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["compare", "DATA", "--out", "FILE"], "is a file; give a folder"),
        (["compare", "DATA", "--out", "FILE/report"], "cannot be created: FILE is a file"),
        (["train", "DATA", "--pipeline", "lr", "--out", "FILE"], "is a file; give a folder"),
        (["simulate", "DATA", "--budget", "4", "--out", "FILE"], "is a file; give a folder"),
        (["predict", "DIR", "DATA", "--out", "DIR"], "is a folder; give a file name"),
        (["encode", "DATA", "--out", "DIR.npy"], "is a folder; give a file name"),
        (["encode", "DATA", "--out", "DIR"], "is a folder; give a file name"),
        (["label", "DATA", "--labels", "a,b", "--out", "DIR"], "is a folder; give a file name"),
    ],
    ids=[
        "compare", "compare-below-a-file", "train", "simulate", "predict", "encode",
        "encode-folder-without-suffix", "label",
    ],
)  # fmt: skip
def test_an_out_that_cannot_be_written_fails_before_any_work(argv, reason, tmp_path, capsys):
    (tmp_path / "FILE").write_text("keep me")
    (tmp_path / "DIR").mkdir()
    (tmp_path / "DIR.npy").mkdir()
    # DATA does not exist: the command must stop at --out before reading it
    names = ("FILE", "FILE/report", "DIR", "DIR.npy", "DATA")
    argv = [str(tmp_path / a) if a in names else a for a in argv]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("embkit: error: --out "), captured.err
    assert reason.replace("FILE", str(tmp_path / "FILE")) in lines[0]
    assert (tmp_path / "FILE").read_text() == "keep me"


@pytest.mark.parametrize(
    ("n_rows", "command", "size", "reason"),
    [
        (6, "compare", "0.99", "--test-size 0.99 leaves 0 of the 6 texts in tiny.jsonl for "
         "training: give a value above 0 and at most 0.66 (keeps 2 for training), or --test FILE"),
        (6, "simulate", "0.67", "--test-size 0.67 leaves 1 of the 6 texts in tiny.jsonl"),
        (10, "compare", "0.9", "--test-size 0.9 leaves 1 of the 10 texts in tiny.jsonl for "
         "training: give a value above 0 and at most 0.80 (keeps 2"),
        (2, "compare", "0.5", "--test-size: the 2 texts in tiny.jsonl are too few to split"),
    ],
    ids=["none-left", "simulate-one-left", "ten-rows", "two-rows"],
)  # fmt: skip
def test_a_test_size_too_large_for_the_data_names_the_option(
    n_rows, command, size, reason, small_data, tmp_path, monkeypatch, capsys
):
    """Refused after reading DATA, before any encoding: exit 1 as other bad input is."""
    rows = small_data.read_text(encoding="utf-8").splitlines(keepends=True)[2 : 2 + n_rows]
    (tmp_path / "tiny.jsonl").write_text("".join(rows), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the message names DATA as it was given
    argv = [command, "tiny.jsonl", "--test-size", size]
    if command == "simulate":
        argv += ["--budget", "3", "--initial", "2", "--out", "sim"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"embkit: error: {reason}"), captured.err
    assert captured.out == "" and not (tmp_path / "sim").exists()


def test_the_largest_test_size_offered_splits(tmp_path):
    """The bound the error above offers for 6 texts (0.66) keeps 2 for training."""
    from embkit.cli.app import build_parser
    from embkit.cli.common import train_test

    rows = [{"text": f"text {i}", "label": "ab"[i % 2]} for i in range(6)]
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    args = build_parser().parse_args(["compare", str(data), "--test-size", "0.66"])
    train_texts, test_texts, y_train, _ = train_test(args, lambda message: None)
    assert (len(train_texts), len(test_texts)) == (2, 4) and sorted(y_train) == ["a", "b"]


def test_unavailable_pipeline_exits_1(small_data, capsys):
    from embkit.cli import registry as pipelines

    register_pipeline("ghost", lambda **kw: [], requires=("embkit_no_such_module",))
    try:
        assert main(["train", str(small_data), "--pipeline", "ghost", "--out", "unused"]) == 1
        assert "not available" in capsys.readouterr().err
        assert main(["pipelines"]) == 0
        listing = capsys.readouterr().out
        assert "ghost" in listing and "[unavailable: embkit_no_such_module" in listing
    finally:
        pipelines._REGISTRY.pop("ghost")


def test_check_savable_unwraps_only_a_last_grid_search():
    """A wrapper step is saved as it is (SelectFromModel: refused), not as what it wraps;
    every built-in pipeline passes, auto's search included."""
    from sklearn.feature_selection import SelectFromModel
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from embkit.cli.common import CLIError
    from embkit.cli.registry import make_named_pipeline
    from embkit.cli.saved import check_savable

    with pytest.raises(CLIError, match="SelectFromModel"):
        check_savable(make_pipeline(SelectFromModel(LogisticRegression())), "x")
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import LinearSVC

    with pytest.raises(CLIError, match="--pipeline mine cannot be saved by train.*LinearSVC"):
        check_savable(make_pipeline(GridSearchCV(LinearSVC(), {"C": [1.0]})), "mine")
    for name in available_pipelines():
        check_savable(make_named_pipeline(name, cache="unused-cache"), name)


def test_train_refuses_a_pipeline_it_cannot_save_before_fitting(small_data, tmp_path, capsys):
    """docs/cli.md's registered LinearSVC: refused at once, naming the step's type, not
    after the whole fit with "use pickle or joblib" (which train cannot do)."""
    from sklearn.svm import LinearSVC

    from embkit.cli import registry as pipelines

    fits = []

    class Counted(LinearSVC):
        def fit(self, X, y):
            fits.append(len(X))
            return super().fit(X, y)

    register_pipeline("svm", lambda **kw: [("linearsvc", Counted())], in_compare=False)
    try:
        out = tmp_path / "svm"
        assert main(["train", str(small_data), "--pipeline", "svm", "--out", str(out)]) == 1
        err = capsys.readouterr().err
        assert "--pipeline svm cannot be saved by train" in err and "Counted" in err
        assert "pickle" not in err and fits == [] and not out.exists()
    finally:
        pipelines._REGISTRY.pop("svm")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["compare"],
        ["compare", "x.jsonl", "--test", "y.jsonl", "--test-size", "0.3"],
        ["compare", "x.jsonl", "--test-size", "1.5"],
        ["compare", "x.jsonl", "--limit", "0"],
        ["train", "x.jsonl", "--out", "d"],
        ["encode", "x.jsonl"],
        ["predict", "d"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage: embkit" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert main(["compare", "--help"]) == 0
    assert "--test-size" in capsys.readouterr().out


def test_python_dash_m_embkit_exit_codes(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    usage = subprocess.run(
        [sys.executable, "-m", "embkit", "compare"], capture_output=True, text=True, env=env,
        cwd=ROOT,
    )  # fmt: skip
    assert usage.returncode == 2 and "usage: embkit compare" in usage.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "embkit", "pipelines"], capture_output=True, text=True, env=env,
        cwd=ROOT,
    )  # fmt: skip
    assert listing.returncode == 0 and listing.stdout.startswith("lr ")
    missing = subprocess.run(
        [sys.executable, "-m", "embkit", "encode", str(tmp_path / "a.jsonl"), "--out", "a.npy"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("embkit: error: no such file")


def test_import_and_help_print_nothing_foreign():
    """A newcomer's first commands show only embkit's own text (in the dev environment too,
    where torchao is installed: nothing embkit imports by itself pulls it in)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "default"}
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, embkit, embkit.cli; from embkit import *; "
         "import embkit._core.quantize; print(sorted(m for m in ('torchao', 'transformers', "
         "'sentence_transformers', 'torch') if m in sys.modules))"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert imported.returncode == 0 and imported.stderr == ""
    # the estimators' modules import torch, never torchao or the Hugging Face libraries
    assert imported.stdout == "['torch']\n"
    quiet = subprocess.run(
        [sys.executable, "-c", "import embkit, embkit.cli"], capture_output=True, text=True,
        env=env, cwd=ROOT,
    )  # fmt: skip
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    for argv in (["--help"], ["predict", "--help"]):
        shown = subprocess.run(
            [sys.executable, "-m", "embkit", *argv], capture_output=True, text=True, env=env,
            cwd=ROOT,
        )  # fmt: skip
        assert shown.returncode == 0 and shown.stderr == ""
        assert shown.stdout.startswith("usage: embkit")


def test_loading_the_model_prints_nothing_foreign(tmp_path):
    """Loading a model mutes torchao's CUDA-kernel lines, torch's notes on torchao's enums
    (both when torchao is installed, as in the dev environment) and transformers' weights
    bar, and puts those settings back afterwards."""
    # without the bar switch an in-process `--quiet` run of main() leaves in os.environ
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_DISABLE_PROGRESS_BARS"}
    env.update(HF_HUB_OFFLINE="1", PYTHONWARNINGS="default")
    data = tmp_path / "two.jsonl"
    data.write_text('{"text": "hello there"}\n{"text": "a second text"}\n', encoding="utf-8")
    encoded = subprocess.run(
        [sys.executable, "-m", "embkit", "encode", str(data), "--out", str(tmp_path / "x.npy")],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert encoded.returncode == 0 and encoded.stderr == ""
    assert encoded.stdout.startswith("encoded 2 texts")
    restored = subprocess.run(
        [sys.executable, "-c", "import logging; from embkit import TransformerEncoder; "
         "from transformers.utils import logging as hf; hf.enable_progress_bar(); "
         "TransformerEncoder().fit_transform(['a']); "
         "print(hf.is_progress_bar_enabled(), logging.getLogger('torchao').level)"],
        capture_output=True, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert (restored.returncode, restored.stdout, restored.stderr) == (0, "True 0\n", "")


@pytest.mark.slow
def test_compare_with_setfit(small_data, cache_dir, tmp_path):
    """SetFit fine-tunes the encoder: minutes on CPU, so only with -m slow."""
    out = tmp_path / "setfit"
    code = main([
        "compare", str(small_data), "--limit", "30", "--pipelines", "lr", "--setfit",
        "--cache", str(cache_dir), "--out", str(out), "--quiet",
    ])  # fmt: skip
    assert code == 0
    assert [r["pipeline"] for r in read_csv(out / "results.csv")][-1] == "setfit"
    assert_png(out / "embedding_pca.png")


@pytest.mark.parametrize("command", ["compare", "train", "label", "simulate"])
@pytest.mark.parametrize("seed", ["-1", str(2**32), "x"])
def test_a_seed_out_of_range_is_an_argparse_error(command, seed, capsys):
    extra = {
        "train": ["--pipeline", "lr", "--out", "m"],
        "label": ["--labels", "a,b", "--out", "a.jsonl"],
    }
    assert main([command, "DATA", "--seed", seed, *extra.get(command, [])]) == 2
    assert "argument --seed: " in capsys.readouterr().err


def _relabelled(source: Path, target: Path, rename: dict) -> Path:
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["label"] = rename.get(row["label"], row["label"])
    target.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return target


def test_compare_refuses_test_labels_that_training_never_shows(small_data, tmp_path, capsys):
    renamed = {"fresh": "pos", "rotten": "neg", "plot": "synopsis"}
    test = _relabelled(small_data, tmp_path / "renamed.jsonl", renamed)
    assert main(["compare", str(small_data), "--test", str(test), "--pipelines", "lr"]) == 1
    err = capsys.readouterr().err
    assert "renamed.jsonl shares no label with" in err and "'neg'" in err and "'fresh'" in err
    numbered = _relabelled(
        small_data, tmp_path / "numbers.jsonl", {"fresh": 1, "rotten": 0, "plot": 2}
    )
    assert main(["compare", str(small_data), "--test", str(numbered), "--pipelines", "lr"]) == 1
    assert "its labels are int but those of" in capsys.readouterr().err


def test_compare_warns_of_test_labels_it_cannot_predict(small_data, cache_dir, tmp_path, capsys):
    test = _relabelled(small_data, tmp_path / "partly.jsonl", {"plot": "synopsis"})
    args = ["compare", str(small_data), "--test", str(test), "--pipelines", "lr", "--quiet"]
    assert main([*args, "--cache", str(cache_dir), "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err
    assert "test texts have labels that" in err and "never shows ('synopsis')" in err


def test_a_model_that_is_not_here_names_the_offline_way(small_data, capsys, monkeypatch):
    monkeypatch.delenv("EMBKIT_ALLOW_DOWNLOADS", raising=False)
    args = ["compare", str(small_data), "--pipelines", "lr", "--model", "someone/not-here-xyz"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "could not load model 'someone/not-here-xyz'" in err
    assert "Models load offline: pass a local folder" in err
