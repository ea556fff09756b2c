"""Bad input across the public API, driven by the table in docs/reliability.md.

Every cell of the table that is not "—" is one test per estimator of its row: a TypeError or
ValueError whose message names an argument of the call, with the fitted estimator left
exactly as it was; "ok" must work and give finite output; "W" must warn.
"""

from __future__ import annotations

import copy
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from _state import assert_same_state
from sklearn.base import clone

import embkit
import embkit._training.tokens as body_tokens
import embkit.encoders._base as encoder_base
from embkit import (
    ContrastiveLearner,
    ContrastiveTuner,
    DifferentiableHead,
    EmbeddingCache,
    FeedForwardTuner,
    KNeighborsTuner,
    SentenceEncoder,
    TransformerEncoder,
    make_pairs,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "reliability.md"


def _table() -> tuple[list[str], dict[str, dict[str, str]]]:
    lines = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| ")]
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| Row |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = {}
    for line in lines[start + 1 :]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        if not re.fullmatch(r"[A-Z]", cells[0]) or len(cells) != len(header):
            break
        rows[cells[0]] = dict(zip(header[2:], cells[2:], strict=True))
    return header[2:], rows


CONDITIONS, TABLE = _table()
RNG = np.random.default_rng(0)
X = RNG.normal(size=(24, 5)).astype("float32")
Y = np.array(["a", "b", "c"] * 8)
TEXTS = ["a great film", "i loved it", "a dull film", "i hated it"]
LABELS = ["pos", "pos", "neg", "neg"]
LONG = "word " * 600
BAD_TEXT = "bad \udcff bytes"


def _nan(a):
    a = a.copy()
    a[0, 0] = np.nan
    return a


# --------------------------------------------------------------------- numeric rows A-E
NUMERIC = {
    "FeedForwardTuner": FeedForwardTuner(4, n_epochs=1, random_state=0, device="cpu"),
    "DifferentiableHead": DifferentiableHead(n_epochs=1, random_state=0, device="cpu"),
    "ContrastiveTuner": ContrastiveTuner(hidden_dim=3, n_epochs=1, random_state=0, device="cpu"),
    "KNeighborsTuner": KNeighborsTuner(3),
}
LABELLED_INPUT = {  # condition -> (X, y) for fit / partial_fit
    "None": (None, Y),
    "wrong type": ("not an array", Y),
    "empty": (np.empty((0, 5), "float32"), np.array([], dtype=str)),
    "1 sample": (X[:1], Y[:1]),
    "1 class": (X, np.array(["a"] * 24)),
    "NaN/inf": (_nan(X), Y),
    "lengths differ": (X, Y[:-1]),
    "feature count": (X[:, :4], Y),
    "unseen label": (X, np.where(Y == "c", "z", Y)),
    "duplicates": (np.repeat(X[:3], 8, axis=0), np.repeat(Y[:3], 8)),
    "zero vectors": (np.zeros_like(X), Y),
}
TRANSFORM_INPUT = {
    "None": None,
    "wrong type": [["x"] * 5],
    "empty": np.empty((0, 5), "float32"),
    "1 sample": X[:1],
    "NaN/inf": np.where(np.arange(5) == 2, np.inf, X).astype("float32"),
    "feature count": X[:, :4],
    "duplicates": np.repeat(X[:2], 3, axis=0),
    "zero vectors": np.zeros_like(X),
}


def _row_a(est, condition):
    return (
        clone(est).fit(*LABELLED_INPUT[condition])
        if _ok("A", condition)
        else est.fit(*LABELLED_INPUT[condition])
    )


def _row_b(est, condition):
    return est.partial_fit(*LABELLED_INPUT[condition])


def _row_c(est, condition):
    method = est.transform if hasattr(est, "transform") else est.predict_proba
    return method(TRANSFORM_INPUT[condition])


PAIR_INPUT = {
    "None": (None, X, np.zeros(24)),
    "wrong type": ("x", X, np.zeros(24)),
    "empty": (X[:0], X[:0], np.zeros(0)),
    "1 sample": (X[:1], X[1:2], np.ones(1)),
    "NaN/inf": (X, X, np.r_[np.nan, np.zeros(23)]),
    "lengths differ": (X, X[:-1], np.zeros(24)),
    "feature count": (X, X[:, :4], np.zeros(24)),
    "duplicates": (np.repeat(X[:2], 12, axis=0), np.repeat(X[2:4], 12, axis=0), np.zeros(24)),
    "zero vectors": (np.zeros_like(X), X, np.zeros(24)),
}
LEARNER = ContrastiveLearner(3, n_epochs=1, random_state=0, device="cpu")


def _row_d(est, condition):
    est.partial_fit(*PAIR_INPUT[condition])
    return est.fit(*PAIR_INPUT[condition]) if _ok("D", condition) else None


def _row_e(est, condition):
    if condition in ("lengths differ", "zero vectors"):
        X1, X2, _ = PAIR_INPUT[condition]
        return est.predict(X1, X2)
    if condition == "feature count":
        return est.predict(X, X[:, :4])
    return est.transform(TRANSFORM_INPUT[condition])


# ------------------------------------------------------------------------ text rows F-J
TEXT_INPUT = {
    "None": None,
    "wrong type": "a single string",
    "empty": [],
    "1 sample": TEXTS[:1],
    "1 class": TEXTS,
    "NaN/inf": ["ok", float("nan")],
    "lengths differ": TEXTS,
    "unseen label": TEXTS,
    "bad text": ["fine", BAD_TEXT],
    "empty text": ["", "x"],
    "long text": [LONG, "short"],
    "duplicates": ["same", "same", "other", "other"],
}
LABEL_INPUT = {
    "1 sample": LABELS[:1],
    "1 class": ["pos"] * 4,
    "lengths differ": LABELS[:3],
    "unseen label": ["pos", "pos", "neg", "meh"],
    "empty": [],
    "NaN/inf": ["pos", "neg"],
    "bad text": ["pos", "neg"],
    "empty text": ["pos", "neg"],
    "long text": ["pos", "neg"],
    "duplicates": LABELS,
}


def _row_f(est, condition):
    est.fit(TEXT_INPUT[condition])
    return est.transform(TEXT_INPUT[condition])


def _row_g(est, condition):
    texts = TEXT_INPUT[condition]
    n = len(texts) if isinstance(texts, list) else 2
    other = (["x"] * max(n, 1))[:n] if condition != "lengths differ" else ["x"]
    y = np.ones(n, dtype="float32") if condition != "NaN/inf" else np.array([np.nan, 1.0])
    if condition == "NaN/inf":
        texts = ["a", "b"]
        other = ["c", "d"]
    if condition == "empty":
        other, y = [], np.zeros(0)
    return _fit_or_copy(est, condition, "G", texts, other, y)


def _fit_or_copy(est, condition, row, *args):
    target = clone(est) if _ok(row, condition) else est
    return target.fit(*args)


def _row_h(est, condition):
    return _fit_or_copy(est, condition, "H", TEXT_INPUT[condition], LABEL_INPUT.get(condition))


def _row_i(est, condition):
    target = copy.deepcopy(est) if _ok("I", condition) else est
    return target.partial_fit(TEXT_INPUT[condition], LABEL_INPUT.get(condition, LABELS))


def _row_j(est, condition):
    method = est.predict_proba if hasattr(est, "predict_proba") else est.transform
    return method(TEXT_INPUT[condition])


# ------------------------------------------------------------------------- rows K-M
def _row_k(_, condition):
    y = {
        "None": None,
        "wrong type": "abc",
        "empty": [],
        "1 sample": ["a"],
        "1 class": ["a", "a", "a"],
        "NaN/inf": [1.0, np.nan],
        "duplicates": ["a", "a", "b", "b"],
    }[condition]
    return make_pairs(y, random_state=0)[0]


def _row_l(cache, condition):
    vectors = np.ones((2, 3), dtype="float32")
    texts, vecs = {
        "None": (None, vectors),
        "wrong type": ([1, 2], vectors),
        "empty": ([], vectors[:0]),
        "1 sample": (["a"], vectors[:1]),
        "NaN/inf": (["a", "b"], np.full((2, 3), np.nan, dtype="float32")),
        "lengths differ": (["a"], vectors),
        "bad text": (["a", BAD_TEXT], vectors),
        "empty text": (["", "b"], vectors),
        "duplicates": (["a", "a"], vectors),
    }[condition]
    cache.set_many("ns", texts, vecs)
    found, got = cache.get_many("ns", texts, dim=3)
    return got


def _row_m(_, condition):
    bad = {"None": None, "wrong type": 42}[condition]
    with pytest.raises(TypeError, match="path"):
        embkit.load(bad)
    embkit.save(bad, Path(tempfile.mkdtemp()) / "x.embkit")


ROWS = {
    "A": (_row_a, list(NUMERIC), ("X", "y", "class", "classes")),
    "B": (_row_b, list(NUMERIC), ("X", "y", "classes")),
    "C": (_row_c, list(NUMERIC), ("X",)),
    "D": (_row_d, ["ContrastiveLearner"], ("X1", "X2", "y")),
    "E": (_row_e, ["ContrastiveLearner"], ("X", "X1", "X2")),
    "F": (_row_f, ["SentenceEncoder", "TransformerEncoder"], ("X",)),
    "G": (_row_g, ["SbertLearner"], ("texts1", "texts2", "y")),
    "H": (_row_h, ["SbertTuner", "FineTuneClassifier"], ("X", "y", "class", "classes")),
    "I": (_row_i, ["FineTuneClassifier"], ("X", "y", "classes")),
    "J": (_row_j, ["SbertLearner", "SbertTuner", "FineTuneClassifier"], ("X", "texts")),
    "K": (_row_k, ["make_pairs"], ("y",)),
    "L": (_row_l, ["EmbeddingCache"], ("texts", "vectors")),
    "M": (_row_m, ["save/load"], ("obj", "path")),
}


def _ok(row, condition):
    return TABLE[row][condition] in ("ok", "W")


@pytest.fixture(scope="module")
def fitted():
    """One fitted object per name, built on first use and shared by the tests."""
    made: dict[str, object] = {}

    def get(name):
        if name not in made:
            made[name] = _make(name)
        return made[name]

    return get


def _make(name):
    from embkit import FineTuneClassifier, SbertLearner, SbertTuner

    if name in NUMERIC:
        return clone(NUMERIC[name]).partial_fit(X, Y, classes=np.unique(Y))
    if name == "ContrastiveLearner":
        return clone(LEARNER).fit(X, X[::-1], np.zeros(24))
    if name in ("SentenceEncoder", "TransformerEncoder"):
        return {"SentenceEncoder": SentenceEncoder, "TransformerEncoder": TransformerEncoder}[name](
            device="cpu"
        ).fit(TEXTS)
    small = dict(batch_size=4, max_length=16, random_state=0, device="cpu")
    if name == "SbertLearner":
        return SbertLearner(**small).fit(TEXTS[:2], TEXTS[2:], [1.0, 0.0])
    if name == "SbertTuner":
        return SbertTuner(n_pairs_per_example=2, **small).fit(TEXTS, LABELS)
    if name == "FineTuneClassifier":
        return FineTuneClassifier(n_epochs=1, **small).partial_fit(
            TEXTS, LABELS, classes=["neg", "pos"]
        )
    if name == "EmbeddingCache":
        return EmbeddingCache(tempfile.mkdtemp())
    return None


def _fingerprint(obj):
    if obj is None or isinstance(obj, EmbeddingCache):
        return None
    out = {}
    for key, value in vars(obj).items():
        if isinstance(value, torch.nn.Module):
            out[key] = [t.detach().clone() for t in value.state_dict().values()]
        elif isinstance(value, torch.optim.Optimizer):
            out[key] = (id(value), [len(s) for s in value.state.values()])
        elif hasattr(value, "get_params") and hasattr(value, "__dict__"):
            out[key] = _fingerprint(value)
        elif isinstance(value, np.random.Generator):
            out[key] = value.bit_generator.state
        else:
            out[key] = copy.deepcopy(value)
    return out


CASES = [
    pytest.param(row, condition, name, id=f"{row}-{condition}-{name}")
    for row, cells in TABLE.items()
    for condition, code in cells.items()
    if code != "—"
    for name in ROWS[row][1]
]


def test_the_table_covers_every_row_and_condition():
    assert set(TABLE) == set(ROWS)
    assert CONDITIONS[0] == "None" and CONDITIONS[-1] == "zero vectors" and len(CONDITIONS) == 14
    assert {code for cells in TABLE.values() for code in cells.values()} <= {
        "TE", "VE", "ok", "W", "—"
    }  # fmt: skip


@pytest.mark.filterwarnings("ignore::embkit.TextTruncatedWarning")
@pytest.mark.parametrize(("row", "condition", "name"), CASES)
def test_bad_input(row, condition, name, fitted):
    run, _, arguments = ROWS[row]
    est = fitted(name)
    code = TABLE[row][condition]
    if code in ("TE", "VE"):
        before = _fingerprint(est)
        error = TypeError if code == "TE" else ValueError
        with pytest.raises(error) as info:
            run(est, condition)
        assert type(info.value) is not NotImplementedError
        names = "|".join(re.escape(a) for a in arguments)
        assert re.search(rf"\b({names})\b", str(info.value)), str(info.value)
        assert_same_state(_fingerprint(est), before)
        return
    if code == "W":  # shown once per model: forget the earlier warnings
        encoder_base._TRUNCATION_WARNED.clear()
        body_tokens._TRUNCATION_WARNED.clear()
        with pytest.warns(embkit.TextTruncatedWarning, match="window"):
            out = run(est, condition)
    else:
        out = run(est, condition)
    if hasattr(out, "fit"):  # a fit that worked: the model it left gives finite output
        inputs = TEXTS if row in ("G", "H", "I") else X[:, : out.n_features_in_]
        method = out.transform if hasattr(out, "transform") else out.predict_proba
        out = method(inputs)
        assert out.shape[0] == len(inputs)
    outputs = out if isinstance(out, tuple) else (out,)
    assert all(isinstance(o, np.ndarray) for o in outputs), type(out)
    for o in outputs:
        assert o.dtype.kind in "fiu" and np.all(np.isfinite(o))


# ------------------------------------------ a y of the wrong kind, beyond the table's rows
def _ragged():
    return [[0, 1]] * 23 + [[1]]


BAD_Y = {
    "generator": (lambda: (i % 3 for i in range(24)), TypeError),
    "set": (lambda: set(range(24)), TypeError),
    "dict": (lambda: dict(enumerate(Y)), TypeError),
    "scalar": (lambda: 1, TypeError),
    "numpy scalar": (lambda: np.int64(1), TypeError),
    "ragged rows": (_ragged, ValueError),
}


@pytest.mark.parametrize("kind", list(BAD_Y))
@pytest.mark.parametrize("name", ["FeedForwardTuner", "DifferentiableHead", "ContrastiveTuner"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_a_y_of_the_wrong_kind_is_named(name, kind, method, fitted):
    est = fitted(name)
    before = _fingerprint(est)
    make_y, error = BAD_Y[kind]
    with pytest.raises(error, match=r"\by\b") as info:
        getattr(est, method)(X, make_y())
    assert "y must" in str(info.value), str(info.value)
    assert_same_state(_fingerprint(est), before)


def test_the_second_side_of_pairs_is_checked_by_column_name():
    pd = pytest.importorskip("pandas")
    X1 = pd.DataFrame(X, columns=list("abcde"))
    X2 = pd.DataFrame(X[::-1], columns=list("abcde"))
    learner = clone(LEARNER).fit(X1, X2, np.zeros(24))
    before = _fingerprint(learner)
    for call in (learner.fit, learner.partial_fit):
        with pytest.raises(ValueError, match="X2.*feature names"):
            call(X1, X2[list("edcba")], np.zeros(24))
    with pytest.raises(ValueError, match="X2.*feature names"):
        learner.predict(X1, X2[list("edcba")])
    assert_same_state(_fingerprint(learner), before)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # frames with the fitted names: no "valid names" warning
        cosine = learner.predict(X1, X2)
        learner.score(X1, X2, np.linspace(-1, 1, 24))
    with pytest.warns(UserWarning, match="valid feature names"):  # sklearn's, for arrays
        plain = learner.predict(X1.to_numpy(), X2.to_numpy())
    np.testing.assert_array_equal(cosine, plain)


def test_a_second_side_that_requires_grad_is_read_as_its_values():
    left, right = torch.from_numpy(X.copy()), torch.from_numpy(X[::-1].copy())
    learner = clone(LEARNER).fit(left, right.requires_grad_(True), np.zeros(24))
    np.testing.assert_array_equal(learner.predict(left, right), learner.predict(X, X[::-1].copy()))


@pytest.mark.parametrize("name", ["FeedForwardTuner", "DifferentiableHead", "KNeighborsTuner"])
def test_a_tensor_that_requires_grad_is_read_as_its_values(name):
    est = clone(NUMERIC[name])
    tensor = torch.from_numpy(X.copy()).requires_grad_(True)
    est.fit(tensor, Y)
    method = est.transform if hasattr(est, "transform") else est.predict_proba
    np.testing.assert_array_equal(method(tensor), method(X))
