"""SbertLearner and SbertTuner: a few training steps on tiny inputs with the bundled model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import DifferentiableHead, SbertLearner, SbertTuner

LEFT = ["a cat sleeps on the sofa", "stock markets fell sharply", "the team won the final"]
RIGHT = ["quarterly earnings were weak", "a kitten naps on the couch", "rain is expected today"]
SIM = [1.0, 0.0, 1.0]

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


def _learner(**kw):
    params = dict(batch_size=2, learning_rate=1e-4, random_state=0, device="cpu")
    params.update(kw)
    return SbertLearner(**params)


def _tuner(**kw):
    params = dict(
        n_pairs_per_example=2, batch_size=8, learning_rate=5e-5, random_state=0, device="cpu"
    )
    params.update(kw)
    return SbertTuner(**params)


def _weights(model) -> torch.Tensor:
    return next(model.parameters()).detach().clone()


@pytest.fixture(scope="module")
def fitted_learner():
    return _learner(n_epochs=2).fit(LEFT, RIGHT, SIM)


def test_training_brings_similar_pairs_closer(model_path):
    from sentence_transformers import SentenceTransformer

    a, b = SentenceTransformer(model_path, device="cpu").encode([LEFT[0], RIGHT[0]])
    after = _learner(n_epochs=2, batch_size=1).fit(LEFT[:1], RIGHT[:1], [1.0])
    assert after.predict(LEFT[:1], RIGHT[:1])[0] > float(a @ b) + 0.05


def test_caller_model_is_not_changed(model_path):
    from sentence_transformers import SentenceTransformer

    body = SentenceTransformer(model_path, device="cpu")
    reference = _weights(body)
    learner = _learner(model=body, batch_size=3).fit(LEFT, RIGHT, SIM)
    assert torch.equal(_weights(body), reference)
    assert not torch.equal(_weights(learner.model_), reference)
    assert learner.model_ is not body


def test_transform_predict_score(fitted_learner):
    emb = fitted_learner.transform(LEFT)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    sims = fitted_learner.predict(LEFT, RIGHT)
    expected = (emb * fitted_learner.transform(RIGHT)).sum(1)  # the body normalises
    np.testing.assert_allclose(sims, expected, atol=1e-5)
    from scipy.stats import rankdata

    # score: the rank correlation of the predicted similarities with the targets
    ranks = np.corrcoef(rankdata(sims), rankdata(SIM))[0, 1]
    assert fitted_learner.score(LEFT, RIGHT, SIM) == pytest.approx(ranks)
    names = fitted_learner.get_feature_names_out()
    assert len(names) == 384 and names[0] == "sbertlearner0"


def test_save_gives_the_same_vectors(fitted_learner, tmp_path):
    from sentence_transformers import SentenceTransformer

    fitted_learner.save(tmp_path / "body")
    reloaded = SentenceTransformer(str(tmp_path / "body"), device="cpu")
    np.testing.assert_allclose(
        reloaded.encode(LEFT, convert_to_numpy=True), fitted_learner.transform(LEFT), atol=1e-5
    )


def test_save_expands_a_home_path_quietly(fitted_learner, tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    capfd.readouterr()
    fitted_learner.save("~/body")
    assert "Writing" not in capfd.readouterr().err
    assert (tmp_path / "home" / "body").is_dir() and not (tmp_path / "~").exists()


def test_save_where_no_folder_can_be_names_path(fitted_learner, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="path .* cannot be a folder to save into"):
        fitted_learner.save(tmp_path / "file")
    with pytest.raises(TypeError, match="path must be a folder path"):
        fitted_learner.save(None)


def test_save_is_loadable_by_sentence_encoder(fitted_learner, tmp_path):
    from embkit import SentenceEncoder

    fitted_learner.save(tmp_path / "body")
    vectors = SentenceEncoder(model=tmp_path / "body").fit_transform(LEFT)
    np.testing.assert_allclose(vectors, fitted_learner.transform(LEFT), atol=1e-5)


def test_pickle_keeps_tuned_weights(fitted_learner):
    blob = pickle.dumps(fitted_learner)
    restored = pickle.loads(blob)
    np.testing.assert_allclose(restored.transform(LEFT), fitted_learner.transform(LEFT), atol=1e-6)
    assert restored.device_ == torch.device("cpu")
    # not fitted: only the name is pickled, not the weights
    assert len(pickle.dumps(SbertLearner())) < 5_000
    assert len(blob) > 10_000_000


def test_clone_and_set_params_give_a_fresh_learner(fitted_learner):
    fresh = clone(fitted_learner).set_params(n_epochs=3)
    assert not hasattr(fresh, "model_")
    assert fresh.get_params()["n_epochs"] == 3
    assert fresh.get_params()["learning_rate"] == fitted_learner.learning_rate


def test_random_state_reproducible_and_global_rng_untouched(fitted_learner):
    state = torch.random.get_rng_state()
    a = _learner(n_epochs=2).fit(LEFT, RIGHT, SIM).transform(LEFT)
    assert torch.equal(torch.random.get_rng_state(), state)
    c = _learner(n_epochs=2, random_state=1).fit(LEFT, RIGHT, SIM).transform(LEFT)
    np.testing.assert_array_equal(a, fitted_learner.transform(LEFT))
    assert not np.array_equal(a, c)


def test_partial_fit_continues_and_first_call_equals_fit():
    learner = _learner(batch_size=3).partial_fit(LEFT, RIGHT, SIM)
    fitted = _learner(batch_size=3, n_epochs=1).fit(LEFT, RIGHT, SIM)
    np.testing.assert_array_equal(learner.transform(LEFT), fitted.transform(LEFT))
    first = _weights(learner.model_)
    learner.partial_fit(LEFT, RIGHT, SIM)
    assert learner.n_iter_ == 2 and learner.t_ == 2
    assert not torch.equal(_weights(learner.model_), first)


def test_partial_fit_refuses_another_model_set_since_the_first_call(model_path, tmp_path):
    learner = _learner(model=model_path, batch_size=3).partial_fit(LEFT, RIGHT, SIM)
    before = learner.transform(LEFT)
    learner.set_params(model=str(tmp_path))
    with pytest.raises(ValueError, match="call fit to load the new model"):
        learner.partial_fit(LEFT, RIGHT, SIM)
    np.testing.assert_array_equal(learner.transform(LEFT), before)
    learner.set_params(model=model_path).partial_fit(LEFT, RIGHT, SIM)  # the same: continues
    assert learner.n_iter_ == 2
    tuner = _tuner(model=model_path).partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    with pytest.raises(ValueError, match="call fit to load the new model"):
        tuner.set_params(model=str(tmp_path)).partial_fit(TEXTS, LABELS)
    assert tuner.learner_.model == model_path  # the tuner's learner was put back as it was


def test_contrastive_loss_trains():
    # the same three pairs, pass after pass: the contrastive loss must go down
    learner = _learner(loss="contrastive", batch_size=3, n_epochs=4).fit(LEFT, RIGHT, SIM)
    assert np.isfinite(learner.loss_curve_).all()
    assert learner.loss_curve_[-1] < learner.loss_curve_[0]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((LEFT, RIGHT[:2], SIM), ValueError, "texts1 and texts2 have different lengths"),
        ((LEFT, RIGHT, SIM[:2]), ValueError, "different lengths"),
        ((LEFT, [1, 2, 3], SIM), TypeError, "texts2 must contain only strings"),
        (("a cat", RIGHT, SIM), TypeError, "texts1 must be a 1-D sequence"),
        ((LEFT, RIGHT, ["yes", "no", "yes"]), TypeError, "y must contain numbers"),
        ((LEFT, RIGHT, [2.0, 0.0, 1.0]), ValueError, r"y must lie in \[-1, 1\]"),
    ],
)
def test_bad_input_leaves_fitted_learner_unchanged(fitted_learner, args, error, match):
    weights, t = _weights(fitted_learner.model_), fitted_learner.t_
    with pytest.raises(error, match=match):
        fitted_learner.partial_fit(*args)
    with pytest.raises(error, match=match):
        fitted_learner.fit(*args)
    assert torch.equal(_weights(fitted_learner.model_), weights)
    assert fitted_learner.t_ == t


def test_bad_params_are_clear():
    with pytest.raises(ValueError, match="'loss' parameter of SbertLearner must be a str among"):
        _learner(loss="triplet").fit(LEFT, RIGHT, SIM)
    with pytest.raises(ValueError, match="warmup_ratio"):
        _learner(warmup_ratio=1.5).fit(LEFT, RIGHT, SIM)
    with pytest.raises(TypeError, match="model must be"):
        _learner(model=3).fit(LEFT, RIGHT, SIM)


def test_not_fitted_errors():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SbertLearner().transform(LEFT)
    with pytest.raises(NotFittedError):
        SbertTuner().transform(LEFT)


# ---------------------------------------------------------------------- SbertTuner
def test_tuner_progress_bar_names_the_tuner(capsys):
    tuner = _tuner(n_pairs_per_example=1, show_progress_bar=True).fit(TEXTS, LABELS)
    bar = capsys.readouterr().err
    assert "SbertTuner:" in bar and "SbertLearner" not in bar
    assert "_progress_label" not in vars(tuner.learner_)  # for the call only: not saved


@pytest.fixture(scope="module")
def fitted_tuner():
    return _tuner().fit(TEXTS, LABELS)


def test_tuner_is_setfit_pipeline(fitted_tuner):
    pipe = make_pipeline(_tuner(n_pairs_per_example=1), LogisticRegression()).fit(TEXTS, LABELS)
    assert pipe.score(TEXTS, LABELS) == 1.0
    assert pipe.predict(["an awful film", "a lovely film"]).tolist() == ["neg", "pos"]
    assert fitted_tuner.classes_.tolist() == ["neg", "pos"]
    assert fitted_tuner.transform(TEXTS).shape == (8, 384)


def test_tuner_samples_grouped_pairs_and_tunes_the_body(fitted_tuner, model_path):
    from sentence_transformers import SentenceTransformer

    original = SentenceTransformer(model_path, device="cpu").encode(TEXTS)
    tuned = fitted_tuner.transform(TEXTS)
    assert not np.allclose(original, tuned, atol=1e-4)
    # 2 pairs per example with n_neg=1: one round of make_grouped_pairs, 16 pairs, 2 steps of 8
    assert fitted_tuner.learner_.t_ == 2


def test_tuner_gridsearch_over_head_parameter():
    pipe = make_pipeline(_tuner(n_pairs_per_example=1), DifferentiableHead(n_epochs=20))
    search = GridSearchCV(pipe, {"differentiablehead__hidden_dim": [None, 8]}, cv=2)
    search.fit(TEXTS, LABELS)
    assert [p["differentiablehead__hidden_dim"] for p in search.cv_results_["params"]] == [None, 8]
    best = search.best_params_["differentiablehead__hidden_dim"]
    assert search.best_estimator_[-1].hidden_dim == best
    assert search.predict(TEXTS).shape == (8,)


def test_tuner_pickle_set_output_and_reproducibility(fitted_tuner):
    restored = pickle.loads(pickle.dumps(fitted_tuner))
    np.testing.assert_allclose(restored.transform(TEXTS), fitted_tuner.transform(TEXTS), atol=1e-6)
    frame = restored.set_output(transform="pandas").transform(TEXTS)
    assert frame.shape == (8, 384) and frame.columns[0] == "sberttuner0"
    again = _tuner().fit(TEXTS, LABELS)
    np.testing.assert_array_equal(again.transform(TEXTS), fitted_tuner.transform(TEXTS))


def test_tuner_partial_fit():
    tuner = _tuner()
    with pytest.raises(ValueError, match="classes must be passed"):
        tuner.partial_fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match="at least two classes"):
        tuner.partial_fit(TEXTS, LABELS, classes=["pos"])
    with pytest.raises(TypeError, match="y holds strings but classes holds numbers"):
        tuner.partial_fit(TEXTS, LABELS, classes=[0, 1])
    assert not hasattr(tuner, "learner_") and not hasattr(tuner, "classes_")
    tuner.partial_fit(TEXTS, LABELS, classes=["neg", "pos", "mixed"])
    weights = _weights(tuner.learner_.model_)
    with pytest.raises(ValueError, match="not in classes_"):
        tuner.partial_fit(TEXTS, ["pos"] * 4 + ["other"] * 4)
    assert torch.equal(_weights(tuner.learner_.model_), weights)
    tuner.partial_fit(TEXTS[:6], LABELS[2:8])
    assert tuner.learner_.n_iter_ == 2
    assert not torch.equal(_weights(tuner.learner_.model_), weights)
    assert tuner.classes_.tolist() == ["mixed", "neg", "pos"]


@pytest.mark.parametrize(
    ("X", "y", "error", "match"),
    [
        (TEXTS, ["pos"] * 8, ValueError, "single class"),
        (TEXTS, LABELS[:5], ValueError, "X and y have different lengths"),
        (TEXTS[:7] + [None], LABELS, TypeError, "X must contain only strings"),
        (TEXTS, np.linspace(0, 1, 8), ValueError, "Unknown label type"),
        (TEXTS, ["pos", 1] * 4, TypeError, "y mixes label types"),
        (TEXTS, [1.0, np.nan] * 4, ValueError, "y contains NaN"),
        (TEXTS, "pos neg", TypeError, "y must be an array-like of labels, got a single str"),
    ],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # NaN labels once warned on a cast
def test_tuner_bad_input_leaves_it_unchanged(fitted_tuner, X, y, error, match):
    learner = fitted_tuner.learner_
    with pytest.raises(error, match=match):
        fitted_tuner.fit(X, y)
    assert fitted_tuner.learner_ is learner
    assert fitted_tuner.classes_.tolist() == ["neg", "pos"]


def _texts_per_step(monkeypatch, fit):
    """Run ``fit`` and return how many distinct texts each training step encoded."""
    from embkit.tuning import sbert

    seen = []
    original = sbert.Tokenized.batch

    def spy(self, ids, device):
        seen.append(len(ids))
        return original(self, ids, device)

    monkeypatch.setattr(sbert.Tokenized, "batch", spy)
    fit()
    return seen


def test_learner_without_shuffle_trains_pairs_in_the_given_order(monkeypatch):
    # pairs (0, 1) then (2, 3), twice over: in order each step sees only the texts of one pair
    left = [TEXTS[0], TEXTS[4]] * 2
    right = [TEXTS[1], TEXTS[5]] * 2
    ordered = _learner(batch_size=1, shuffle=False)
    steps = _texts_per_step(monkeypatch, lambda: ordered.fit(left, right, [1.0, 0.0] * 2))
    assert steps == [2, 2, 2, 2]
    reversed_order = _learner(batch_size=1, shuffle=False).fit(
        left[::-1], right[::-1], [0.0, 1.0] * 2
    )
    assert not np.array_equal(ordered.transform(TEXTS), reversed_order.transform(TEXTS))
    with pytest.raises(
        TypeError, match="'shuffle' parameter of SbertLearner must be an instance of 'bool'"
    ):
        _learner(shuffle="no").fit(LEFT, RIGHT, SIM)


def test_tuner_in_batch_sampling_encodes_only_the_group(monkeypatch):
    tuner = _tuner(sampling="in_batch", n_pairs_per_example=4, batch_size=8)
    steps = _texts_per_step(monkeypatch, lambda: tuner.fit(TEXTS, LABELS))
    # 8 texts x 2 rounds x 2 pairs = 32 pairs; groups of 8 // 2 = 4 texts, 8 pairs a step
    assert tuner.learner_.t_ == 4 and tuner.learner_.shuffle is False
    assert max(steps[: tuner.learner_.t_]) <= 4
    spread = _tuner(sampling="random", n_pairs_per_example=4, batch_size=8)
    random_steps = _texts_per_step(monkeypatch, lambda: spread.fit(TEXTS, LABELS))
    assert max(random_steps[: spread.learner_.t_]) > 4
    assert not np.allclose(tuner.transform(TEXTS), spread.transform(TEXTS), atol=1e-5)
    again = _tuner(sampling="in_batch", n_pairs_per_example=4, batch_size=8).fit(TEXTS, LABELS)
    np.testing.assert_array_equal(again.transform(TEXTS), tuner.transform(TEXTS))


def test_tuner_bad_sampling_is_clear():
    with pytest.raises(ValueError, match="'sampling' parameter of SbertTuner must be a str among"):
        _tuner(sampling="everywhere").fit(TEXTS, LABELS)


def test_tuner_with_a_small_batch_still_trains_on_dissimilar_pairs(monkeypatch):
    from embkit.tuning import sbert

    seen = []
    original = sbert.SbertLearner.fit

    def spy(self, texts1, texts2, y):
        seen.append(np.asarray(y))
        return original(self, texts1, texts2, y)

    monkeypatch.setattr(sbert.SbertLearner, "fit", spy)
    tuner = _tuner(batch_size=2, n_pairs_per_example=2).fit(TEXTS[2:6], LABELS[2:6])
    (similar,) = seen
    assert set(similar.tolist()) == {0.0, 1.0}  # groups of 4 texts: two runs of class-mates
    assert tuner.learner_.batch_size == 8


def test_learner_refuses_max_length_beyond_the_position_table(model_path):
    learner = _learner().partial_fit(LEFT, RIGHT, SIM)
    weights = _weights(learner.model_)
    with pytest.raises(ValueError, match="max_length=1024 is longer than the model takes"):
        _learner(max_length=1024).fit(LEFT, RIGHT, SIM)
    for params, match in (
        ({"max_length": 1024}, "position table holds 512"),
        ({"batch_size": 0}, "batch_size"),
    ):
        original = learner.get_params()
        learner.set_params(**params)
        with pytest.raises(ValueError, match=match):
            learner.partial_fit(LEFT, RIGHT, SIM)
        learner.set_params(**original)
    assert torch.equal(_weights(learner.model_), weights) and learner.n_iter_ == 1


def test_tuner_auto_batch_size_follows_examples_per_class():
    # 4 examples per class: 32 pairs a step; 32 per class: 16 pairs a step (twice the steps)
    few = _tuner(batch_size="auto", n_pairs_per_example=2).fit(TEXTS, LABELS)
    assert few.learner_.batch_size == 32
    many_texts, many_labels = TEXTS * 8, LABELS * 8
    many = _tuner(batch_size="auto", n_pairs_per_example=1).fit(many_texts, many_labels)
    assert many.learner_.batch_size == 16
    assert many.learner_.t_ == 64 * 2 // 16  # one round: a similar and a dissimilar pair each
    assert SbertTuner().batch_size == "auto"
    with pytest.raises(
        ValueError,
        match=r"'batch_size' parameter of SbertTuner must be a str among \{'auto'\} or an int",
    ):
        _tuner(batch_size="big").fit(TEXTS, LABELS)


def test_tuner_auto_batch_size_is_resolved_on_each_partial_fit_call():
    tuner = _tuner(batch_size="auto", n_pairs_per_example=1)
    tuner.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    assert tuner.learner_.batch_size == 32
    tuner.partial_fit(TEXTS * 8, LABELS * 8)
    assert tuner.learner_.batch_size == 16
    learner, steps = tuner.learner_, tuner.learner_.t_
    with pytest.raises(TypeError, match="X must contain only strings"):
        tuner.partial_fit(TEXTS[:7] + [None], LABELS)
    tuner.set_params(batch_size=0)
    with pytest.raises(
        ValueError, match=r"'batch_size' parameter of SbertTuner .* an int in the range \[1, inf\)"
    ):
        tuner.partial_fit(TEXTS, LABELS)
    assert tuner.learner_ is learner and learner.batch_size == 16 and learner.t_ == steps


class _Stop(Exception):
    """Raised by the spy below once it has counted the pairs (no training needed)."""


def _pairs_sampled(monkeypatch, method, call):
    """Number of pairs each ``SbertLearner.<method>`` call receives from the tuner."""
    from embkit.tuning import sbert

    seen = []

    def spy(self, texts1, texts2, y):
        seen.append(len(y))
        raise _Stop

    monkeypatch.setattr(sbert.SbertLearner, method, spy)
    with pytest.raises(_Stop):
        call()
    return seen[-1]


def test_tuner_auto_pairs_per_example_follows_examples_per_class(monkeypatch):
    # 4 examples per class: 16 pairs each; 32 per class: 40 pairs each
    assert SbertTuner().n_pairs_per_example == "auto"
    auto = _tuner(n_pairs_per_example="auto")
    assert _pairs_sampled(monkeypatch, "fit", lambda: auto.fit(TEXTS, LABELS)) == 8 * 16
    many = lambda: auto.fit(TEXTS * 8, LABELS * 8)  # noqa: E731
    assert _pairs_sampled(monkeypatch, "fit", many) == 64 * 40
    fixed = _tuner(n_pairs_per_example=6)
    assert _pairs_sampled(monkeypatch, "fit", lambda: fixed.fit(TEXTS * 8, LABELS * 8)) == 64 * 6
    assert not hasattr(auto, "learner_")  # the failed calls left it unfitted
    with pytest.raises(ValueError, match=r"'n_pairs_per_example' parameter of SbertTuner must be"):
        _tuner(n_pairs_per_example="lots").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"'n_pairs_per_example' parameter .* range \[1, inf\)"):
        _tuner(n_pairs_per_example=0).fit(TEXTS, LABELS)


def test_tuner_auto_pairs_per_example_is_resolved_on_each_partial_fit_call(monkeypatch):
    tuner = _tuner(n_pairs_per_example="auto")
    few = lambda: tuner.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])  # noqa: E731
    assert _pairs_sampled(monkeypatch, "partial_fit", few) == 8 * 16
    many = lambda: tuner.partial_fit(TEXTS * 8, LABELS * 8, classes=["neg", "pos"])  # noqa: E731
    assert _pairs_sampled(monkeypatch, "partial_fit", many) == 64 * 40


def test_tuner_defaults_train_fewer_steps_on_a_few_examples():
    # the defaults on 4 examples per class: 16 pairs each, 32 a step -> 8 * 16 / 32 = 4 steps
    tuner = SbertTuner(max_length=16, random_state=0, device="cpu").fit(TEXTS, LABELS)
    learner = tuner.learner_
    assert learner.batch_size == 32 and learner.t_ == 4 and learner.learning_rate == 1e-4


def test_tuner_auto_learning_rate_follows_examples_per_class(monkeypatch):
    from embkit.tuning import sbert

    rates = []

    def spy(self, texts1, texts2, y):
        rates.append(self.learning_rate)
        raise _Stop

    monkeypatch.setattr(sbert.SbertLearner, "fit", spy)
    for texts, labels in ((TEXTS, LABELS), (TEXTS * 8, LABELS * 8)):
        with pytest.raises(_Stop):
            _tuner(learning_rate="auto").fit(texts, labels)
    with pytest.raises(_Stop):
        _tuner(learning_rate=3e-5).fit(TEXTS, LABELS)
    assert rates == [1e-4, 5e-5, 3e-5]
    assert SbertTuner().learning_rate == "auto"
    with pytest.raises(ValueError, match=r"'learning_rate' parameter of SbertTuner must be a str"):
        _tuner(learning_rate="fast").fit(TEXTS, LABELS)
    with pytest.raises(ValueError, match=r"'learning_rate' parameter of SbertTuner must be"):
        _tuner(learning_rate=-1.0).fit(TEXTS, LABELS)


def test_tuner_auto_learning_rate_is_set_on_each_partial_fit_call_and_undone_on_failure(
    monkeypatch,
):
    from embkit.tuning import sbert

    tuner = _tuner(learning_rate="auto", n_pairs_per_example=1, max_length=16)
    tuner.partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    assert tuner.learner_.learning_rate == 1e-4
    tuner.partial_fit(TEXTS * 4, LABELS * 4)
    assert tuner.learner_.learning_rate == 5e-5
    learner, steps = tuner.learner_, tuner.learner_.t_

    def fail(self, texts1, texts2, y):
        assert self.learning_rate == 1e-4  # swapped in for this call's 4 examples per class
        raise _Stop

    monkeypatch.setattr(sbert.SbertLearner, "partial_fit", fail)
    with pytest.raises(_Stop):
        tuner.partial_fit(TEXTS, LABELS)
    assert tuner.learner_ is learner and learner.learning_rate == 5e-5 and learner.t_ == steps


def test_a_truncated_body_gives_its_truncated_width():
    # encode_body sized its buffer by truncate_dim but filled it with the full embedding
    from sentence_transformers import SentenceTransformer

    from embkit._core.models import resolve_model

    body = SentenceTransformer(resolve_model("all-MiniLM-L6-v2"), device="cpu", truncate_dim=128)
    learner = _learner(model=body).fit(LEFT, RIGHT, SIM)
    out = learner.transform(LEFT)
    assert out.shape == (3, 128)
    np.testing.assert_allclose(out, learner.model_.encode(LEFT), atol=1e-5)


def test_set_params_reaches_the_tuner_learner_in_partial_fit():
    tuner = _tuner().partial_fit(TEXTS, LABELS, classes=["neg", "pos"])
    tuner.set_params(loss="contrastive", max_length=8, warmup_ratio=0.0).partial_fit(TEXTS, LABELS)
    learner = tuner.learner_
    assert (learner.loss, learner.max_length, learner.warmup_ratio) == ("contrastive", 8, 0.0)
