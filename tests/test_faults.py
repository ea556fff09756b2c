"""Training interrupted mid-epoch: the estimator is left exactly as before the call.

Faults are injected by patching ``_train_step`` (the one optimisation step every numeric
estimator makes) to raise after a few steps, with an exception and with
``KeyboardInterrupt``. Dataset files with a broken or truncated line are refused with the
file and line before anything is trained.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from _state import assert_same_state
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from embkit import ContrastiveLearner, ContrastiveTuner, DifferentiableHead, FeedForwardTuner
from embkit._training.torch_base import TorchEstimatorBase

ESTIMATORS = {
    "FeedForwardTuner": FeedForwardTuner(6, n_epochs=3, batch_size=16, random_state=0),
    "DifferentiableHead": DifferentiableHead(
        hidden_dim=5, n_epochs=3, batch_size=16, random_state=0
    ),
    "ContrastiveTuner": ContrastiveTuner(hidden_dim=5, n_epochs=3, batch_size=16, random_state=0),
    "ContrastiveLearner": ContrastiveLearner(4, n_epochs=3, batch_size=16, random_state=0),
}
FAULTS = [RuntimeError("injected fault"), KeyboardInterrupt()]


class Boom:
    """Patch ``_train_step`` to raise ``error`` at step ``at`` (counted from the patch)."""

    def __init__(self, monkeypatch, at: int, error: BaseException) -> None:
        self.calls, self.at, self.error = 0, at, error
        original = TorchEstimatorBase._train_step

        def step(est, *args, **kwargs):
            self.calls += 1
            if self.calls == self.at:
                raise self.error
            return original(est, *args, **kwargs)

        monkeypatch.setattr(TorchEstimatorBase, "_train_step", step)


def _args(name, X, y, part=slice(None)):
    if name == "ContrastiveLearner":
        rng = np.random.default_rng(1)
        X2 = X[rng.permutation(len(X))]
        sim = (y == y[rng.permutation(len(y))]).astype("float32")  # any targets in [0, 1]
        return (X[part], X2[part], sim[part])
    return (X[part], y[part])


def _snapshot(est):
    """Everything about an estimator, deep-copied: attributes, weights, optimiser, rng."""
    inner = est.learner_ if hasattr(est, "learner_") else est
    snap = {"attrs": {k: copy.deepcopy(v) for k, v in vars(est).items()
                      if k not in ("module_", "optimizer_", "learner_")}}  # fmt: skip
    if hasattr(inner, "module_"):
        snap["weights"] = {k: v.clone() for k, v in inner.module_.state_dict().items()}
        snap["optimizer"] = copy.deepcopy(inner.optimizer_.state_dict())
        snap["inner"] = {k: copy.deepcopy(v) for k, v in vars(inner).items()
                         if k not in ("module_", "optimizer_")}  # fmt: skip
        snap["rng"] = inner._rng.bit_generator.state
    return snap


def _assert_equal(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert_same_state(a[key], b[key], key)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_interrupted_refit_leaves_the_previous_model(name, fault, blobs, monkeypatch):
    X, y = blobs
    est = clone(ESTIMATORS[name]).fit(*_args(name, X, y))
    before, out = _snapshot(est), est.transform(X) if hasattr(est, "transform") else None
    Boom(monkeypatch, at=5, error=fault)  # mid-way through the second epoch
    with pytest.raises(type(fault)):
        est.fit(*_args(name, X[::-1].copy(), y[::-1].copy()))
    _assert_equal(_snapshot(est), before)
    if out is not None:
        np.testing.assert_array_equal(est.transform(X), out)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_interrupted_first_fit_leaves_it_unfitted(name, fault, blobs, monkeypatch):
    X, y = blobs
    est = clone(ESTIMATORS[name])
    Boom(monkeypatch, at=3, error=fault)
    with pytest.raises(type(fault)):
        est.fit(*_args(name, X, y))
    assert not [k for k in vars(est) if k.endswith("_") or k.startswith("_")]
    with pytest.raises(NotFittedError):
        check_is_fitted(est)


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_interrupted_partial_fit_rolls_back_and_can_be_retried(name, blobs, monkeypatch):
    """Retrying the failed batch gives exactly what an uninterrupted stream gives."""
    X, y = blobs
    classes = {} if name == "ContrastiveLearner" else {"classes": np.unique(y)}
    first, second = slice(0, 64), slice(64, None)
    clean = clone(ESTIMATORS[name])
    clean.partial_fit(*_args(name, X, y, first), **classes)
    clean.partial_fit(*_args(name, X, y, second))

    est = clone(ESTIMATORS[name])
    est.partial_fit(*_args(name, X, y, first), **classes)
    before = _snapshot(est)
    with monkeypatch.context() as patch:
        Boom(patch, at=2, error=KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            est.partial_fit(*_args(name, X, y, second))
    _assert_equal(_snapshot(est), before)
    est.partial_fit(*_args(name, X, y, second))  # the retry
    _assert_equal(_snapshot(est), _snapshot(clean))


@pytest.mark.parametrize("name", ["FeedForwardTuner", "ContrastiveTuner"])
def test_interrupted_first_partial_fit_leaves_it_unfitted(name, blobs, monkeypatch):
    X, y = blobs
    est = clone(ESTIMATORS[name])
    Boom(monkeypatch, at=1, error=RuntimeError("injected"))
    with pytest.raises(RuntimeError):
        est.partial_fit(X, y, classes=np.unique(y))
    assert vars(est) == vars(clone(ESTIMATORS[name]))


# ----------------------------------------------------------------- broken dataset files
@pytest.mark.parametrize(
    "content, line",
    [
        ('{"text": "good", "label": "a"}\n{"text": "cut', 2),  # truncated last line
        ('{"text": "good", "label": "a"}\n{"text": 3, "label": "b"}\n', 2),  # wrong type
        ('{"text": "good", "label": "a"}\n\n{"text": "x"}\n', 3),  # no label
    ],
    ids=["truncated", "wrong-type", "missing-label"],
)
def test_cli_train_refuses_a_broken_file_before_training(content, line, tmp_path, capsys):
    from embkit.cli import main

    data = tmp_path / "data.jsonl"
    data.write_text(content)
    out = tmp_path / "model"
    assert main(["train", str(data), "--pipeline", "lr", "--out", str(out)]) != 0
    err = capsys.readouterr().err
    assert f"{data}:{line}:" in err
    assert not out.exists()  # nothing trained, nothing written


def test_non_utf8_line_names_file_and_line(tmp_path):
    from embkit.io.datasets import load_jsonl

    data = tmp_path / "data.jsonl"
    data.write_bytes(b'{"text": "ok", "label": "a"}\n{"text": "\xff\xfe", "label": "b"}\n')
    with pytest.raises(ValueError, match=rf"{data}:2: not valid UTF-8"):
        load_jsonl(data)
