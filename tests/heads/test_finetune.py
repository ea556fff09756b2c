"""FineTuneClassifier: a few steps of end-to-end fine-tuning on tiny inputs, bundled model."""

from __future__ import annotations

import copy
import pickle

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from embkit import FineTuneClassifier

TEXTS = [
    "what a wonderful film",
    "i loved every minute",
    "a delightful story",
    "brilliant acting",
    "a boring mess",
    "i hated this movie",
    "dull and tedious",
    "a waste of time",
]
LABELS = ["pos"] * 4 + ["neg"] * 4


def _clf(**kw):
    params = dict(
        n_epochs=2, batch_size=8, learning_rate=1e-4, max_length=16, random_state=0, device="cpu"
    )
    params.update(kw)
    return FineTuneClassifier(**params)


def _weights(clf) -> torch.Tensor:
    return next(clf.model_.parameters()).detach().clone()


@pytest.fixture(scope="module")
def fitted():
    return _clf(n_epochs=3).fit(TEXTS, LABELS)


def test_predict_proba_contract(fitted):
    proba = fitted.predict_proba(TEXTS)
    assert proba.shape == (8, 2) and proba.dtype == np.float32
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert fitted.classes_.tolist() == ["neg", "pos"]
    pred = fitted.predict(TEXTS)
    np.testing.assert_array_equal(pred, fitted.classes_[proba.argmax(axis=1)])
    assert fitted.predict_proba([]).shape == (0, 2)


def test_training_learns_and_changes_the_body(fitted, model_path):
    from sentence_transformers import SentenceTransformer

    original = next(SentenceTransformer(model_path, device="cpu").parameters())
    assert not torch.equal(_weights(fitted), original.detach())
    assert len(fitted.loss_curve_) == 3 and fitted.n_iter_ == 3
    assert fitted.loss_curve_[-1] < fitted.loss_curve_[0]
    assert fitted.score(TEXTS, LABELS) == 1.0


def test_multiclass_integer_labels():
    y = [0, 0, 1, 1, 2, 2, 0, 1]
    clf = _clf(n_epochs=1).fit(TEXTS, y)
    assert clf.classes_.tolist() == [0, 1, 2]
    proba = clf.predict_proba(TEXTS)
    assert proba.shape == (8, 3)
    np.testing.assert_array_equal(clf.predict(TEXTS), clf.classes_[proba.argmax(axis=1)])


def test_save_and_load_give_the_same_predictions(fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    loaded = FineTuneClassifier.load(tmp_path / "clf", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS), atol=1e-5)
    assert loaded.classes_.tolist() == ["neg", "pos"]
    assert loaded.get_params() == {**fitted.get_params(), "device": "cpu"}
    assert loaded.loss_curve_ == pytest.approx(fitted.loss_curve_)
    with pytest.raises(ValueError, match="no saved FineTuneClassifier"):
        FineTuneClassifier.load(tmp_path)


def test_save_and_load_expand_a_home_path_quietly(fitted, tmp_path, monkeypatch, capfd):
    """~/clf: the body went to ./~/clf/body and the classifier to $HOME/clf (unloadable);
    writing the body drew transformers' "Writing model shards" bar."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    fitted.save("~/clf")
    assert "Writing" not in capfd.readouterr().err
    assert (tmp_path / "home" / "clf" / "body").is_dir() and not (tmp_path / "~").exists()
    loaded = FineTuneClassifier.load("~/clf", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS), atol=1e-5)


def test_early_stopping_works_on_a_few_texts_per_class():
    """Ten texts in two classes: train_test_split refused (1 held-out text < 2 classes)
    and named a validation_fraction=0.1 the user never set."""
    texts = TEXTS[:4] + ["a joy to watch"] + TEXTS[4:] + ["a waste of time"]
    labels = ["pos"] * 5 + ["neg"] * 5
    clf = _clf(n_epochs=2, early_stopping=True).fit(texts, labels)
    assert len(clf.validation_scores_) >= 1


def test_holding_out_from_single_text_classes_is_refused():
    with pytest.raises(ValueError, match="every class has a single text"):
        _clf(validation_fraction=0.5).fit(TEXTS[:4], ["a", "b", "c", "d"])


def test_a_saved_folder_holds_the_body_once(fitted, tmp_path):
    """classifier.embkit held the body's weights too (182 MB for MiniLM's 91)."""
    from embkit import load

    fitted.save(tmp_path / "clf")
    body = (tmp_path / "clf" / "body" / "model.safetensors").stat().st_size
    assert (tmp_path / "clf" / "classifier.embkit").stat().st_size < body / 4
    with pytest.raises(ValueError, match="saved apart.*FineTuneClassifier.load"):
        load(tmp_path / "clf" / "classifier.embkit")


def test_a_model_changed_after_fit_does_not_change_what_was_saved(fitted, tmp_path):
    """set_params(model=...) after fit: save, load and pickle rebuilt the body from the new
    name (refused, or silently other predictions); they rebuild it from the fitted one."""
    from _tiny_models import write_tiny_sentence_model

    from embkit import load, save

    other = write_tiny_sentence_model(tmp_path / "tiny")  # another body than the fitted one
    clf = copy.deepcopy(fitted).set_params(model=str(other))
    expected = fitted.predict_proba(TEXTS)
    np.testing.assert_allclose(clf.predict_proba(TEXTS), expected, atol=1e-6)
    for restored in (load(save(clf, tmp_path / "c.embkit")), pickle.loads(pickle.dumps(clf))):
        np.testing.assert_allclose(restored.predict_proba(TEXTS), expected, atol=1e-5)


def test_save_where_no_folder_can_be_names_path(fitted, tmp_path):
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path / "file", tmp_path / "file" / "clf"):
        with pytest.raises(ValueError, match="path .* cannot be a folder to save into"):
            fitted.save(bad)
    with pytest.raises(TypeError, match="path must be a folder path"):
        fitted.save(5)
    with pytest.raises(TypeError, match="path must be a folder path"):
        FineTuneClassifier.load(None)


def test_pickle_and_joblib_keep_tuned_weights(fitted, tmp_path):
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(
        restored.predict_proba(TEXTS), fitted.predict_proba(TEXTS), atol=1e-6
    )
    joblib.dump(fitted, tmp_path / "clf.joblib")
    again = joblib.load(tmp_path / "clf.joblib")
    assert torch.equal(_weights(again), _weights(fitted))
    assert len(pickle.dumps(FineTuneClassifier())) < 5_000


def test_clone_and_set_params(fitted):
    fresh = clone(fitted).set_params(pooling="cls")
    assert not hasattr(fresh, "model_") and fresh.pooling == "cls"
    with pytest.raises(NotFittedError):
        fresh.predict(TEXTS)


def test_random_state_reproducible_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a = _clf(n_epochs=1).fit(TEXTS, LABELS).predict_proba(TEXTS)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = _clf(n_epochs=1).fit(TEXTS, LABELS).predict_proba(TEXTS)
    np.testing.assert_array_equal(a, b)


def test_partial_fit_continues():
    clf = _clf()
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(TEXTS, LABELS)
    clf.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    one = _clf(n_epochs=1).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(clf.predict_proba(TEXTS), one.predict_proba(TEXTS))
    first = _weights(clf)
    clf.partial_fit(TEXTS[:4], LABELS[:4])  # a batch may hold a subset of the classes
    assert clf.n_iter_ == 2 and clf.t_ == 2
    assert not torch.equal(_weights(clf), first)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(TEXTS[:2], ["pos", "meh"])
    assert clf.n_iter_ == 2


def test_validation_scores_and_early_stopping(monkeypatch):
    held = {}
    split = FineTuneClassifier._split

    def spy(self, codes, rng):
        train, held["valid"] = split(self, codes, rng)
        return train, held["valid"]

    monkeypatch.setattr(FineTuneClassifier, "_split", spy)
    clf = _clf(n_epochs=2, validation_fraction=0.5, pooling="max").fit(TEXTS, LABELS)
    assert len(clf.validation_scores_) == 2 and len(held["valid"]) == 4
    # accuracy on the held-out texts; without early stopping the last is the final model's
    valid = held["valid"]
    expected = np.mean(clf.predict([TEXTS[i] for i in valid]) == np.array(LABELS)[valid])
    assert clf.validation_scores_[-1] == expected
    stop = _clf(n_epochs=3, early_stopping=True, validation_fraction=0.5, learning_rate=1e-9)
    stop.fit(TEXTS, LABELS)
    # a learning rate of ~0 cannot improve the validation score: stops after 2 epochs
    assert stop.n_iter_ == 2 and len(stop.validation_scores_) == 2
    assert stop.best_validation_score_ == stop.validation_scores_[0]


def test_single_class_is_refused_by_fit_but_allowed_in_a_partial_fit_batch(fitted):
    weights = _weights(fitted)
    with pytest.raises(ValueError, match="at least two classes"):
        fitted.fit(TEXTS, ["pos"] * 8)
    assert torch.equal(_weights(fitted), weights)
    with pytest.raises(ValueError, match="at least two classes"):
        _clf().partial_fit(TEXTS, ["pos"] * 8, classes=["pos"])


def test_class_weight():
    y = ["pos"] * 6 + ["neg"] * 2
    clf = _clf(n_epochs=1, class_weight="balanced").fit(TEXTS, y)
    # "balanced": n / (classes * count), in the order of classes_ (neg, pos)
    np.testing.assert_allclose(clf._class_weights(np.array([1] * 6 + [0] * 2)), [2.0, 2 / 3])
    plain = _clf(n_epochs=1).fit(TEXTS, y)
    # the same seed and data: only the weights differ, and they favour the rare "neg"
    assert clf.predict_proba(TEXTS)[:, 0].mean() > plain.predict_proba(TEXTS)[:, 0].mean()
    with pytest.raises(ValueError, match="class_weight has labels not in classes_"):
        _clf(class_weight={"maybe": 2.0}).fit(TEXTS, LABELS)


def test_a_batch_of_weight_zero_rows_adds_nothing_instead_of_nan():
    # one batch holding only "pos" texts, whose weight is 0: its loss is 0, not 0/0
    clf = _clf(batch_size=8, class_weight={"pos": 0.0})
    clf.partial_fit(TEXTS[:4], LABELS[:4], classes=["neg", "pos"])
    assert clf.loss_curve_ == [0.0]
    assert np.isfinite(clf.predict_proba(TEXTS)).all()
    clf.partial_fit(TEXTS, LABELS)  # the "neg" rows still count
    assert clf.loss_curve_[1] > 0


def test_bad_class_weight_leaves_the_classifier_as_it_was():
    clf = _clf(n_epochs=1).fit(TEXTS, LABELS)
    weights, head, curve = _weights(clf), clf.head_.weight.detach().clone(), clf.loss_curve_
    clf.set_params(class_weight={"maybe": 2.0})
    for call in (lambda: clf.fit(TEXTS, LABELS), lambda: clf.partial_fit(TEXTS, LABELS)):
        with pytest.raises(ValueError, match="class_weight has labels not in classes_"):
            call()
        assert torch.equal(_weights(clf), weights) and torch.equal(clf.head_.weight, head)
        assert clf.loss_curve_ is curve
    fresh = _clf(class_weight={"maybe": 2.0})
    with pytest.raises(ValueError, match="class_weight has labels not in classes_"):
        fresh.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    with pytest.raises(NotFittedError):
        fresh.predict(TEXTS)


def test_parameters_are_checked_on_every_partial_fit_call():
    clf = _clf().partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    weights = _weights(clf)
    for params, match in (({"batch_size": 0}, "batch_size"), ({"pooling": "sum"}, "pooling")):
        with pytest.raises(ValueError, match=match):
            clone(clf).set_params(**params).partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
        original = clf.get_params()
        clf.set_params(**params)
        with pytest.raises(ValueError, match=match):
            clf.partial_fit(TEXTS, LABELS)
        clf.set_params(**original)
    assert torch.equal(_weights(clf), weights) and clf.n_iter_ == 1


def test_max_length_beyond_the_position_table_is_refused(fitted):
    weights = _weights(fitted)
    long_text = " ".join(["word"] * 700)  # more than MiniLM's 512 positions
    with pytest.raises(ValueError, match="max_length=1024 is longer than the model takes"):
        clone(fitted).set_params(max_length=1024).fit([long_text] + TEXTS[1:], LABELS)
    fitted.set_params(max_length=1024)
    try:
        with pytest.raises(ValueError, match="position table holds 512 tokens"):
            fitted.partial_fit([long_text] + TEXTS[1:], LABELS)
        with pytest.raises(ValueError, match="max_length=1024"):
            fitted.predict([long_text])
    finally:
        fitted.set_params(max_length=16)
    assert torch.equal(_weights(fitted), weights)


def test_save_and_load_keep_label_keys_and_a_generator_seed(tmp_path):
    seed = np.random.RandomState(0)
    clf = _clf(n_epochs=1, class_weight={0: 2.0, 1: 1.0}, random_state=seed).fit(
        TEXTS, [1] * 4 + [0] * 4
    )
    clf.save(tmp_path / "clf")
    loaded = FineTuneClassifier.load(tmp_path / "clf", device="cpu")
    assert loaded.class_weight == {0: 2.0, 1: 1.0}
    assert isinstance(loaded.random_state, np.random.RandomState)
    # the seed comes back in the state it had when saved (fit had drawn from it)
    assert loaded.random_state.randint(2**31) == seed.randint(2**31)
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)
    loaded.partial_fit(TEXTS, [1] * 4 + [0] * 4)  # class_weight keys still match classes_
    assert loaded.n_iter_ == 2


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (TEXTS, LABELS[:5], ValueError, "different lengths"),
        (TEXTS[:7] + [3], LABELS, TypeError, "X must contain only strings"),
        ("a single text", LABELS, TypeError, "X must be a 1-D sequence"),
        (TEXTS, np.linspace(0, 1, 8), ValueError, "Unknown label type"),
        (TEXTS, ["pos", 1] * 4, TypeError, "y mixes label types"),
        (TEXTS, None, ValueError, "requires y"),
    ],
)
def test_bad_input_leaves_fitted_classifier_unchanged(fitted, X, y, error, match):
    weights, curve = _weights(fitted), list(fitted.loss_curve_)
    with pytest.raises(error, match=match):
        fitted.fit(X, y)
    with pytest.raises(error, match=match):
        fitted.partial_fit(X, y)
    assert torch.equal(_weights(fitted), weights)
    assert fitted.loss_curve_ == curve
    assert fitted.classes_.tolist() == ["neg", "pos"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"pooling": "sum"}, "'pooling' parameter of FineTuneClassifier must be a str among"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"class_weight": "even"}, "'class_weight' parameter of FineTuneClassifier must be None"),
        ({"n_epochs": 0}, "n_epochs"),
    ],
)
def test_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        _clf(**params).fit(TEXTS, LABELS)


def test_tags():
    tags = FineTuneClassifier().__sklearn_tags__()
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    assert tags.estimator_type == "classifier"


# -- bodies whose encode() width or dtype differs, saved folders read from anywhere --------
def _minilm(**kw):
    from sentence_transformers import SentenceTransformer

    from embkit._core.models import resolve_model

    return SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu", **kw)


def test_a_body_whose_output_is_narrower_than_its_tokens(model_path):
    # the head read pooled token vectors (384) but was sized by encode()'s width (128):
    # a Dense layer or truncate_dim failed in the first step with a shape error
    from sentence_transformers.sentence_transformer.modules import Dense

    base = _minilm()
    dense = type(base)(modules=[base[0], base[1], Dense(384, 128)], device="cpu")
    for body in (dense, _minilm(truncate_dim=128)):
        clf = _clf(model=body, n_epochs=1).fit(TEXTS, LABELS)
        assert clf.head_.in_features == 384
        assert clf.predict_proba(TEXTS).shape == (len(TEXTS), 2)


def test_a_half_precision_body_trains():
    body = _minilm().to(torch.bfloat16)
    clf = _clf(model=body, n_epochs=1).fit(TEXTS, LABELS)
    proba = clf.predict_proba(TEXTS)
    assert proba.dtype == np.float32 and np.allclose(proba.sum(axis=1), 1, atol=1e-3)


def test_a_saved_folder_loads_from_another_working_folder(tmp_path, monkeypatch):
    # a model object was saved as a relative path; a named model was loaded from the name
    clf = _clf(model=_minilm(), n_epochs=1).fit(TEXTS, LABELS)
    monkeypatch.chdir(tmp_path)
    clf.save("clf")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = FineTuneClassifier.load(tmp_path / "clf", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), clf.predict_proba(TEXTS), atol=1e-5)


def test_a_named_model_folder_loads_its_own_body(fitted, tmp_path, monkeypatch):
    import embkit._training.body as body_module

    fitted.save(tmp_path / "clf")
    seen = []
    original = body_module.load_body
    monkeypatch.setattr(body_module, "load_body", lambda m, d: seen.append(m) or original(m, d))
    loaded = FineTuneClassifier.load(tmp_path / "clf", device="cpu")
    assert seen == [tmp_path / "clf" / "body"]
    assert loaded.model == fitted.model  # the parameter stays as fitted
    np.testing.assert_allclose(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS), atol=1e-5)
