"""Loaders in embkit.io.datasets on good and bad files, and the shipped data sets."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from embkit.io.datasets import (
    SkippedRowsWarning,
    iter_batches,
    load,
    load_cats,
    load_csv,
    load_jsonl,
    load_texts,
    load_txt,
)

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ---------------------------------------------------------------------------- JSONL


def test_jsonl_good_file_keeps_order_and_types(tmp_path):
    path = write(
        tmp_path / "a.jsonl",
        '{"text": "one", "label": "x"}\n\n{"text": "two", "label": 3, "extra": 1}\n',
    )
    assert load_jsonl(path) == (["one", "two"], ["x", 3])


def test_jsonl_custom_fields_and_texts_only(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"body": "hi", "y": "a"}\n{"body": "yo", "y": "b"}\n')
    assert load_jsonl(path, text_field="body", label_field="y") == (["hi", "yo"], ["a", "b"])
    assert load_jsonl(path, text_field="body", label_field=None) == (["hi", "yo"], None)
    assert load_texts(path, text_field="body") == ["hi", "yo"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"text": "ok", "label": "a"', "bad JSON"),
        ("not json at all", "bad JSON"),
        ('["a", "b"]', "expected a JSON object, got list (JSON lines: one object per line)"),
        ('{"label": "a"}', "no 'text' field (fields: 'label')"),
        ('{"sentence": "ok", "label": "a"}', "no 'text' field (fields: 'sentence', 'label')"),
        ("{}", "no 'text' field (fields: none)"),
        ('{"text": "", "label": "a"}', "empty text"),
        ('{"text": "   ", "label": "a"}', "empty text"),
        ('{"text": null, "label": "a"}', "'text' is null"),
        ('{"text": 12, "label": "a"}', "'text' is int"),
        ('{"text": "ok"}', "no 'label' field (fields: 'text')"),
        ('{"text": "ok", "label": null}', "'label' is null"),
        ('{"text": "ok", "label": ""}', "empty label"),
    ],
)
def test_jsonl_bad_row_names_file_and_line(tmp_path, line, reason):
    path = write(tmp_path / "bad.jsonl", '{"text": "fine", "label": "a"}\n\n' + line + "\n")
    with pytest.raises(ValueError) as info:
        load_jsonl(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert reason in message


def test_a_json_array_file_says_json_lines_are_expected(tmp_path):
    path = write(tmp_path / "array.json", '[\n  {"text": "a", "label": "x"},\n  {"text": "b"}\n]\n')
    with pytest.raises(ValueError, match=r"array\.json:1: bad JSON .*one object per line"):
        load(path)


def test_jsonl_truncated_last_line(tmp_path):
    path = write(tmp_path / "cut.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "lab')
    with pytest.raises(ValueError, match=r"cut\.jsonl:2: bad JSON .*truncated"):
        load_jsonl(path)


def test_jsonl_invalid_utf8_is_a_bad_row(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "caf\xe9", "label": "a"}\n')
    with pytest.raises(ValueError, match=r"latin\.jsonl:2: not valid UTF-8"):
        load_jsonl(path)
    with pytest.warns(SkippedRowsWarning):
        assert load_jsonl(path, on_error="skip") == (["ok"], ["a"])


def test_jsonl_skip_counts_and_warns_with_lines(tmp_path):
    lines = [
        '{"text": "good 1", "label": "a"}',
        "{broken",
        '{"text": "", "label": "a"}',
        '{"text": "good 2", "label": "b"}',
        '{"label": "b"}',
    ]
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n")
    with pytest.warns(SkippedRowsWarning, match=r"skipped 3 bad rows in .*mixed\.jsonl") as rec:
        texts, labels = load_jsonl(path, on_error="skip")
    assert (texts, labels) == (["good 1", "good 2"], ["a", "b"])
    warning = rec[0].message
    assert warning.n_skipped == 3
    assert [line for line, _ in warning.problems] == [2, 3, 5]
    assert rec[0].filename == __file__  # points at the caller, not at embkit


def test_no_warning_when_nothing_skipped(tmp_path, recwarn):
    path = write(tmp_path / "ok.jsonl", '{"text": "a", "label": 1}\n')
    load_jsonl(path, on_error="skip")
    assert not [w for w in recwarn if issubclass(w.category, SkippedRowsWarning)]


def test_bad_arguments(tmp_path):
    path = write(tmp_path / "ok.jsonl", '{"text": "a", "label": 1}\n')
    with pytest.raises(ValueError, match="on_error must be"):
        load_jsonl(path, on_error="ignore")
    with pytest.raises(ValueError, match="limit must be"):
        load_jsonl(path, limit=-1)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_jsonl(tmp_path / "absent.jsonl")
    with pytest.raises(ValueError, match="cannot tell the format"):
        load(write(tmp_path / "data.parquet", "PAR1"))
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder.jsonl").mkdir()
    for folder in ("folder", "folder.jsonl"):  # not "no such file", nor a guess at the format
        for loader in (load, load_texts, load_jsonl, iter_batches):
            with pytest.raises(ValueError, match=f"{folder} is a folder, not a data file"):
                list(loader(tmp_path / folder))
    with pytest.raises(ValueError, match="format must be one of"):
        load(path, format="xml")


def test_limit_and_gzip(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(10))
    path = tmp_path / "big.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(rows)
    texts, labels = load(path, limit=4)
    assert texts == ["t0", "t1", "t2", "t3"] and labels == [0, 1, 0, 1]


def test_gz_cut_short_or_not_gzip_is_a_bad_row_naming_file_and_line(tmp_path):
    rows = "".join(json.dumps({"text": f"t{i}", "label": i % 2}) + "\n" for i in range(3000))
    packed = gzip.compress(rows.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed[: len(packed) // 2])  # a download that stopped half-way
    plain = write(tmp_path / "plain.jsonl.gz", rows)
    for path, line in ((cut, r"\d+"), (plain, "1")):
        with pytest.raises(ValueError, match=rf"{path.name}:{line}: cannot read on: truncated"):
            load(path)
    with pytest.warns(SkippedRowsWarning, match="1 bad row"):
        texts, _ = load(cut, on_error="skip")
    assert 0 < len(texts) < 3000 and texts == [f"t{i}" for i in range(len(texts))]


# ---------------------------------------------------------------------------- cats


CATS = [
    {"text": "new corpus released", "cats": {"new-dataset": 1}},
    {"text": "label noise study", "cats": {"data-quality": 1, "new-dataset": 0}},
    {"text": "nothing asked", "cats": {}},
    {"text": "bool values", "cats": {"dev-research": True, "data-quality": False}},
]


@pytest.fixture
def cats_file(tmp_path):
    return write(tmp_path / "cats.jsonl", "".join(json.dumps(r) + "\n" for r in CATS))


def test_cats_matrix_marks_missing(cats_file):
    texts, Y, names = load_cats(cats_file)
    assert texts == [r["text"] for r in CATS]
    assert names == ["data-quality", "dev-research", "new-dataset"]
    assert Y.dtype == np.int8
    np.testing.assert_array_equal(Y, [[-1, -1, 1], [1, -1, 0], [-1, -1, -1], [0, 1, -1]])


def test_cats_missing_as_zero_or_nan_and_label_order(cats_file):
    _, Y0, names0 = load_cats(cats_file, missing=0)
    expected = {  # per label, the four records; a label a record leaves out is 0
        "new-dataset": [1, 0, 0, 0],
        "data-quality": [0, 1, 0, 0],
        "dev-research": [0, 0, 0, 1],
    }
    assert sorted(names0) == sorted(expected)
    np.testing.assert_array_equal(Y0, np.array([expected[n] for n in names0]).T)
    _, Ynan, names = load_cats(cats_file, missing=np.nan, labels=["new-dataset", "absent"])
    assert names == ["new-dataset", "absent"] and Ynan.dtype == np.float32
    np.testing.assert_array_equal(Ynan[:, 0], [1, 0, np.nan, np.nan])
    assert np.isnan(Ynan[:, 1]).all()
    with pytest.raises(ValueError, match="missing must be"):
        load_cats(cats_file, missing=2)


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"text": "x", "cats": ["a"]}, "'cats' is list, expected a dict"),
        ({"text": "x", "cats": {"a": 0.5}}, "expected 0 or 1"),
        ({"text": "x", "cats": {"a": "yes"}}, "expected 0 or 1"),
        ({"text": "x"}, "no 'cats' field"),
        ({"text": "", "cats": {"a": 1}}, "empty text"),
    ],
)
def test_cats_bad_rows(tmp_path, record, reason):
    path = write(tmp_path / "c.jsonl", json.dumps(CATS[0]) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(ValueError, match=rf"c\.jsonl:2: .*{reason}"):
        load_cats(path)
    with pytest.warns(SkippedRowsWarning):
        texts, Y, names = load_cats(path, on_error="skip")
    assert len(texts) == 1 and Y.shape == (1, 1) and names == ["new-dataset"]


# ---------------------------------------------------------------------------- CSV


def test_csv_good_file_with_quotes_and_multiline(tmp_path):
    path = write(tmp_path / "d.csv", 'id,text,label\n1,"a, b",x\n2,"two\nlines",y\n3,c,z\n')
    assert load_csv(path) == (["a, b", "two\nlines", "c"], ["x", "y", "z"])


def test_csv_tsv_and_custom_columns(tmp_path):
    path = write(tmp_path / "d.tsv", "sentence\tcls\nhello, world\tgreet\n")
    assert load(path, text_field="sentence", label_field="cls") == (["hello, world"], ["greet"])
    assert load_csv(path, text_field="sentence", label_field=None) == (["hello, world"], None)


def test_csv_missing_column_is_an_error_even_when_skipping(tmp_path):
    path = write(tmp_path / "d.csv", "body,label\nx,y\n")
    with pytest.raises(ValueError, match=r"d\.csv:1: no column 'text' .*columns: body, label"):
        load_csv(path, on_error="skip")


def test_csv_bad_rows_line_numbers_and_skip(tmp_path):
    path = write(
        tmp_path / "d.csv",
        'text,label\ngood,a\n"multi\nline",b\nextra,field,here\n,c\nlast,\nfine,d\n',
    )
    with pytest.raises(ValueError, match=r"d\.csv:5: 3 fields, the header has 2"):
        load_csv(path)
    with pytest.warns(SkippedRowsWarning) as rec:
        assert load_csv(path, on_error="skip") == (["good", "multi\nline", "fine"], ["a", "b", "d"])
    assert [line for line, _ in rec[0].message.problems] == [5, 6, 7]


def test_csv_rows_of_only_separators_are_blank_lines(tmp_path):
    path = write(tmp_path / "sheet.csv", "text,label\r\ngood,a\r\n,\r\n,\r\nfine,b\r\n,\r\n")
    assert load_csv(path) == (["good", "fine"], ["a", "b"])


def test_csv_truncated_quote(tmp_path):
    path = write(tmp_path / "cut.csv", 'text,label\nok,a\n"never closed,b\n')
    with pytest.raises(ValueError, match=r"cut\.csv:3: bad CSV .*truncated"):
        load_csv(path)


def test_a_stray_quote_in_a_tsv_says_which_lines_it_swallowed(tmp_path):
    # a plain TSV whose text starts with a quote: the CSV rules read on to the next quote
    path = write(
        tmp_path / "r.tsv",
        'text\tlabel\nfine film\tpos\n" five stars\tpos\nok\tpos\nbad\tneg\nawful\tneg\n',
    )
    with pytest.raises(ValueError, match=r"r\.tsv:3: .*lines 3-6 were read as this one row"):
        load_csv(path)
    with pytest.warns(SkippedRowsWarning) as rec:  # skipping: the lost rows are not hidden
        assert load_csv(path, on_error="skip") == (["fine film"], ["pos"])
    [(line, problem)] = rec[0].message.problems
    assert line == 3 and "lines 3-6" in problem


# ---------------------------------------------------------------------------- text;label


def test_txt_emotion_format(tmp_path):
    path = write(tmp_path / "e.txt", "i feel good;joy\r\ni feel; torn;sadness\n\n")
    assert load_txt(path) == (["i feel good", "i feel; torn"], ["joy", "sadness"])
    assert load(path) == load_txt(path)
    assert load_texts(path) == ["i feel good;joy", "i feel; torn;sadness"]
    assert load_txt(path, sep=None) == (["i feel good;joy", "i feel; torn;sadness"], None)


@pytest.mark.parametrize(
    ("line", "reason"),
    [("no separator here", "no ';' separator"), (";joy", "empty text"), ("text;", "empty label")],
)
def test_txt_bad_rows(tmp_path, line, reason):
    path = write(tmp_path / "e.txt", f"fine;joy\n{line}\n")
    with pytest.raises(ValueError, match=rf"e\.txt:2: {reason}"):
        load_txt(path)


def test_utf8_bom_is_ignored(tmp_path):
    path = write(tmp_path / "bom.csv", "\ufefftext,label\nx,y\n")
    assert load_csv(path) == (["x"], ["y"])


# ---------------------------------------------------------------------------- batches


def test_iter_batches_is_lazy(tmp_path):
    path = write(
        tmp_path / "s.jsonl",
        "".join(json.dumps({"text": f"t{i}", "label": i}) + "\n" for i in range(5)) + "{bad\n",
    )
    batches = iter_batches(path, batch_size=2)
    # The bad last line is not read until the consumer gets that far.
    assert next(batches) == (["t0", "t1"], [0, 1])
    assert next(batches) == (["t2", "t3"], [2, 3])
    with pytest.raises(ValueError, match=r"s\.jsonl:6: bad JSON"):
        next(batches)
    with pytest.warns(SkippedRowsWarning, match="skipped 1 bad rows"):
        sizes = [len(texts) for texts, _ in iter_batches(path, 2, on_error="skip")]
    assert sizes == [2, 2, 1]
    with pytest.warns(SkippedRowsWarning):
        only_texts = list(iter_batches(path, 10, label_field=None, on_error="skip"))
    assert only_texts == [(["t0", "t1", "t2", "t3", "t4"], None)]


def test_iter_batches_rejects_bad_batch_size(tmp_path):
    path = write(tmp_path / "s.jsonl", '{"text": "a", "label": 1}\n')
    with pytest.raises(ValueError, match="batch_size"):
        next(iter_batches(path, 0))


# ---------------------------------------------------------------------------- shipped data


def test_shipped_rotten_tomatoes_files():
    texts, labels = load(ROOT / "datasets" / "rotten_tomatoes.jsonl")
    assert len(texts) == 2400 and len(set(texts)) == 2400
    counts = {lab: labels.count(lab) for lab in set(labels)}
    assert counts == {"fresh": 1278, "rotten": 934, "plot": 188}
    assert set(labels[:60]) == {"fresh", "rotten", "plot"}  # shuffled: a head is a mix

    cats_texts, Y, names = load_cats(ROOT / "datasets" / "rotten_tomatoes_cats.jsonl")
    assert names == ["fresh", "plot", "rotten"] and Y.shape == (600, 3)
    assert ((Y == -1).sum(axis=1) > 0).mean() > 0.5  # mostly partial annotations
    assert (Y.max(axis=1) >= 0).all()  # every record carries at least one label
    assert not set(cats_texts) & set(texts)


def test_shipped_checksums_match_build_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build", ROOT / "datasets" / "build_datasets.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    for name, digest in build.OUTPUTS.items():
        data = (ROOT / "datasets" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, name
        assert digest in (ROOT / "datasets" / "README.md").read_text()


@pytest.mark.data
def test_loaders_on_shared_data(shared_data):
    texts, labels = load_txt(shared_data / "emotion" / "train.txt")
    jtexts, jlabels = load_jsonl(shared_data / "emotion" / "train.jsonl")
    assert len(texts) == 16000 and (texts, labels) == (jtexts, jlabels)
    assert set(labels) == set(
        json.loads((shared_data / "emotion" / "labels.json").read_text())["names"]
    )
    sst_texts, sst_labels = load(shared_data / "sst2" / "test.jsonl")
    assert len(sst_texts) == 1821 and set(sst_labels) == {"negative", "positive"}
    # new-dataset.jsonl: every record annotates new-dataset, a few also other labels.
    t1, Y1, n1 = load_cats(shared_data / "embetter" / "new-dataset.jsonl")
    assert Y1.shape == (2210, 3) and n1 == ["data-quality", "dev-research", "new-dataset"]
    assert (Y1[:, 2] >= 0).all() and (Y1[:, :2] == -1).sum() > 2000
    t2, Y2, n2 = load_cats(shared_data / "embetter" / "data-quality.jsonl", labels=["data-quality"])
    assert Y2.shape == (261, 1) and n2 == ["data-quality"] and set(np.unique(Y2)) == {0, 1}
    assert len(set(t1) & set(t2)) == 13
    batches = list(iter_batches(shared_data / "emotion" / "train.txt", 5000))
    assert [len(b[0]) for b in batches] == [5000, 5000, 5000, 1000]
