"""embkit.save / embkit.load: identical output after a round trip, refusal of bad files."""

from __future__ import annotations

import hashlib
import json
import pickle
import zipfile

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import make_pipeline, make_union
from sklearn.preprocessing import FunctionTransformer, Normalizer, StandardScaler

import embkit
from embkit import (
    ContrastiveLearner,
    ContrastiveTuner,
    DifferentiableHead,
    FeedForwardTuner,
    KNeighborsTuner,
    SentenceEncoder,
    TransformerEncoder,
    load,
    save,
)
from embkit.io.persistence import FORMAT_VERSION, SUPPORTED_CLASSES, _peek

TEXTS = ["what a wonderful film", "i loved it", "a boring mess", "i hated this movie"]
LABELS = ["pos", "pos", "neg", "neg"]


def _outputs(est, X):
    """Every output the estimator gives for ``X`` (transform, proba, predict)."""
    out = {}
    for method in ("transform", "predict_proba", "predict"):
        if hasattr(est, method) and (method != "predict" or is_classifier(est)):
            out[method] = np.asarray(getattr(est, method)(X))
    return out


def _assert_same_outputs(a, b, X):
    oa, ob = _outputs(a, X), _outputs(b, X)
    assert oa.keys() == ob.keys() and oa
    for key in oa:
        np.testing.assert_array_equal(oa[key], ob[key], err_msg=key)


def _round_trip(est, tmp_path):
    return load(save(est, tmp_path / "model.embkit"))


# ------------------------------------------------------------- numeric estimators, pipelines
NUMERIC = {
    "FeedForwardTuner": FeedForwardTuner(6, n_epochs=3, batch_size=16, random_state=0),
    "FeedForwardTuner-multilabel": FeedForwardTuner(5, n_epochs=2, random_state=0),
    "DifferentiableHead": DifferentiableHead(n_epochs=3, random_state=0, class_weight="balanced"),
    "DifferentiableHead-hidden": DifferentiableHead(hidden_dim=4, n_epochs=3, random_state=0),
    "ContrastiveTuner": ContrastiveTuner(hidden_dim=5, n_epochs=2, batch_size=16, random_state=0),
    "KNeighborsTuner": KNeighborsTuner(4),
    "KNeighborsTuner-multilabel": KNeighborsTuner(4, output="tuned"),
    "scaler-pca-sgd": make_pipeline(StandardScaler(), PCA(4), SGDClassifier(random_state=0)),
    "union-lr": make_pipeline(make_union(PCA(2), Normalizer()), LogisticRegression()),
    "tuner-lr": make_pipeline(
        FeedForwardTuner(6, n_epochs=2, random_state=0), LogisticRegression()
    ),
    "contrastive-head": make_pipeline(
        ContrastiveTuner(hidden_dim=4, n_epochs=2, random_state=0),
        DifferentiableHead(n_epochs=2, random_state=0),
    ),
}


@pytest.mark.parametrize("name", list(NUMERIC))
def test_numeric_round_trip_gives_identical_output(name, blobs, tmp_path):
    X, y = blobs
    est = clone(NUMERIC[name])
    if name.endswith("multilabel"):
        y = np.stack([X[:, 0] > 0, X[:, 1] > 0], axis=1).astype(int)
    est.fit(X, y)
    loaded = _round_trip(est, tmp_path)
    assert type(loaded) is type(est)
    assert repr(loaded) == repr(est)
    _assert_same_outputs(est, loaded, X)


def test_contrastive_learner_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X1, X2 = rng.normal(size=(2, 50, 6)).astype("float32")
    y = (np.sign(X1[:, 0]) == np.sign(X2[:, 0])).astype("float32")
    learner = ContrastiveLearner(3, n_epochs=2, random_state=0).fit(X1, X2, y)
    loaded = _round_trip(learner, tmp_path)
    np.testing.assert_array_equal(loaded.transform(X1), learner.transform(X1))
    np.testing.assert_array_equal(loaded.predict(X1, X2), learner.predict(X1, X2))
    assert loaded.loss_curve_ == learner.loss_curve_ and loaded.n_iter_ == learner.n_iter_


# a fitted estimator, then parameters that shape its network changed by set_params (no refit)
RESHAPED = {
    "FeedForwardTuner": (
        FeedForwardTuner(6, n_epochs=3, random_state=0),
        {"hidden_dim": 9, "activation": "tanh"},
    ),
    "FeedForwardTuner-residual": (
        FeedForwardTuner(6, n_epochs=3, output="residual", random_state=0),
        {"output": "concat"},
    ),
    "DifferentiableHead": (
        DifferentiableHead(hidden_dim=4, n_epochs=3, random_state=0),
        {"hidden_dim": None, "activation": "gelu"},
    ),
    "ContrastiveLearner": (
        ContrastiveLearner(3, n_epochs=2, random_state=0),
        {"n_layers": 2, "activation": "relu"},
    ),
}


@pytest.mark.parametrize("name", list(RESHAPED))
def test_the_network_is_saved_as_fitted_not_as_the_parameters_now_say(name, blobs, tmp_path):
    """As pickle does: the loaded estimator has the changed parameters and the fitted network."""
    X, y = blobs
    est, changes = RESHAPED[name]
    est = clone(est)
    if name == "ContrastiveLearner":
        est.fit(X[:60], X[60:120], (y[:60] == y[60:120]).astype("float32"))
    else:
        est.fit(X, y)
    fitted_params, before = est.get_params(), _outputs(est, X)
    est.set_params(**changes)
    for loaded in (_round_trip(est, tmp_path), pickle.loads(pickle.dumps(est))):
        assert loaded.get_params() == est.get_params()
        loaded.set_params(**fitted_params)
        after = _outputs(loaded, X)
        assert after.keys() == before.keys()
        for key in before:
            np.testing.assert_array_equal(after[key], before[key], err_msg=key)


@pytest.mark.parametrize("name", ["FeedForwardTuner", "DifferentiableHead", "ContrastiveTuner"])
def test_partial_fit_after_load_continues_exactly(name, blobs, tmp_path):
    """Weights, optimiser state and random state are all kept."""
    X, y = blobs
    classes = np.unique(y)
    est = clone(NUMERIC[name]).partial_fit(X[:60], y[:60], classes=classes)
    loaded = _round_trip(est, tmp_path)
    est.partial_fit(X[60:], y[60:])
    loaded.partial_fit(X[60:], y[60:])
    np.testing.assert_array_equal(_outputs(loaded, X)["transform" if name != "DifferentiableHead"
                                  else "predict_proba"],
                                  _outputs(est, X)["transform" if name != "DifferentiableHead"
                                  else "predict_proba"])  # fmt: skip


def test_unfitted_estimator_round_trip(tmp_path):
    est = FeedForwardTuner(
        7, n_epochs=3, class_weight={"a": 2.0}, random_state=np.random.RandomState(3)
    )
    loaded = _round_trip(est, tmp_path)
    assert loaded.get_params()["class_weight"] == {"a": 2.0}
    assert loaded.random_state.randint(1000) == np.random.RandomState(3).randint(1000)
    assert not hasattr(loaded, "module_")


def test_column_transformer_on_pandas_round_trip(blobs, tmp_path):
    X, y = blobs
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    ct = ColumnTransformer(
        [("scale", StandardScaler(), ["f0", "f1"]), ("pca", PCA(2), slice(2, 6))],
        remainder="passthrough",
    )
    pipe = make_pipeline(ct, FeedForwardTuner(4, n_epochs=2, random_state=0))
    pipe.set_output(transform="pandas").fit(df, y)
    loaded = _round_trip(pipe, tmp_path)
    _assert_same_outputs(pipe, loaded, df)
    pd.testing.assert_frame_equal(loaded[:-1].transform(df), pipe[:-1].transform(df))


def test_saved_on_gpu_loads_on_cpu(blobs, tmp_path):
    """Tensors are stored on the CPU; a device that is missing here falls back to the CPU."""
    X, y = blobs
    tuner = clone(NUMERIC["FeedForwardTuner"]).fit(X, y)
    path = save(tuner, tmp_path / "m.embkit")
    tree = _read(path, "object.json")
    assert '"__device__": "cpu"' in tree  # so the edit below does change the file
    tree = tree.replace('"__device__": "cpu"', '"__device__": "cuda:0"')
    _rewrite(path, "object.json", tree.encode(), fix_checksum=True)
    if torch.cuda.is_available():  # pragma: no cover - CPU-only CI
        pytest.skip("needs a machine without CUDA")
    loaded = load(path)
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), tuner.transform(X))


def test_pickle_and_joblib_still_work(blobs, tmp_path):
    X, y = blobs
    tuner = clone(NUMERIC["ContrastiveTuner"]).fit(X, y)
    for again in (
        pickle.loads(pickle.dumps(tuner)),
        joblib.load(joblib.dump(tuner, tmp_path / "j")[0]),
    ):
        np.testing.assert_array_equal(again.transform(X), tuner.transform(X))


def test_same_object_same_bytes(blobs, tmp_path):
    X, y = blobs
    tuner = clone(NUMERIC["FeedForwardTuner"]).fit(X, y)
    a = save(tuner, tmp_path / "a.embkit").read_bytes()
    b = save(tuner, tmp_path / "b.embkit").read_bytes()
    assert a == b


def test_manifest_says_format_and_version(blobs, tmp_path):
    X, y = blobs
    path = save(clone(NUMERIC["DifferentiableHead"]).fit(X, y), tmp_path / "h.embkit")
    manifest = _peek(path)
    assert manifest["format"] == "embkit" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["embkit_version"] == embkit.__version__
    assert manifest["root_class"] == "embkit.DifferentiableHead"
    assert set(zipfile.ZipFile(path).namelist()) == {
        "embkit.json", "object.json", "tensors.safetensors"
    }  # fmt: skip


# ---------------------------------------------------------------------- refusing bad files
def _read(path, member):
    with zipfile.ZipFile(path) as zf:
        return zf.read(member).decode()


def _rewrite(path, member, data, *, fix_checksum=False, extra=None):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[member] = data
    if fix_checksum:
        manifest = json.loads(members["embkit.json"])
        manifest["files"][member] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        members["embkit.json"] = json.dumps(manifest).encode()
    members.update(extra or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


@pytest.fixture
def saved(blobs, tmp_path):
    X, y = blobs
    return save(clone(NUMERIC["FeedForwardTuner"]).fit(X, y), tmp_path / "t.embkit")


def test_unknown_class_is_refused_without_running_anything(saved):
    tree = _read(saved, "object.json").replace("embkit.FeedForwardTuner", "os.system")
    _rewrite(saved, "object.json", tree.encode(), fix_checksum=True)
    with pytest.raises(ValueError, match="unknown class 'os.system'"):
        load(saved)


def test_unknown_tag_is_refused(saved):
    tree = _read(saved, "object.json").replace('"__device__"', '"__reduce__"')
    _rewrite(saved, "object.json", tree.encode(), fix_checksum=True)
    with pytest.raises(ValueError, match="unknown value tag '__reduce__'"):
        load(saved)


def test_checksum_mismatch_is_refused(saved):
    tree = _read(saved, "object.json").replace('"hidden_dim": 6', '"hidden_dim": 7')
    _rewrite(saved, "object.json", tree.encode())
    with pytest.raises(ValueError, match="checksum mismatch for object.json"):
        load(saved)


def test_changed_weights_are_refused(saved):
    with zipfile.ZipFile(saved) as zf:
        blob = bytearray(zf.read("tensors.safetensors"))
    blob[-3] ^= 0xFF
    _rewrite(saved, "tensors.safetensors", bytes(blob))
    with pytest.raises(ValueError, match="checksum mismatch for tensors.safetensors"):
        load(saved)


def test_weights_of_the_wrong_shape_are_refused(saved):
    tree = _read(saved, "object.json").replace('"hidden_dim": 6', '"hidden_dim": 7')
    _rewrite(saved, "object.json", tree.encode(), fix_checksum=True)
    with pytest.raises(ValueError, match="weights do not fit"):
        load(saved)


def test_extra_member_is_refused(saved):
    _rewrite(saved, "object.json", _read(saved, "object.json").encode(), extra={"x.pkl": b"c"})
    with pytest.raises(ValueError, match=r"unexpected members \['x.pkl'\]"):
        load(saved)


def test_future_format_version_is_a_clear_error(saved):
    manifest = json.loads(_read(saved, "embkit.json"))
    manifest["format_version"] = FORMAT_VERSION + 1
    _rewrite(saved, "embkit.json", json.dumps(manifest).encode())
    with pytest.raises(ValueError, match=rf"format version {FORMAT_VERSION + 1} .*upgrade embkit"):
        load(saved)


def test_a_pickle_is_never_unpickled(blobs, tmp_path):
    path = tmp_path / "evil.embkit"
    joblib.dump(clone(NUMERIC["FeedForwardTuner"]), path)
    with pytest.raises(ValueError, match="not a file written by embkit.save"):
        load(path)
    with pytest.raises(FileNotFoundError):
        load(tmp_path / "missing.embkit")


def test_truncated_file_is_refused(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a file written by embkit.save|damaged"):
        load(saved)


def test_a_flipped_byte_anywhere_is_a_value_error(tmp_path):
    # a damaged central directory or compressed stream used to escape as
    # zipfile.BadZipFile or zlib.error; every byte of a small archive is flipped in turn
    path = save(StandardScaler().fit([[0.0], [2.0]]), tmp_path / "s.embkit")
    good = path.read_bytes()
    kinds = set()
    for offset in range(len(good)):
        damaged = bytearray(good)
        damaged[offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            loaded = load(path)
        except ValueError as exc:
            kinds.add(str(exc).split(": ", 1)[1][:20])
            continue
        # bytes zip readers ignore (timestamps, the comment, ...) may change nothing
        np.testing.assert_array_equal(loaded.transform([[1.0]]), [[0.0]])
    assert any(kind.startswith("the archive is dama") for kind in kinds)


def test_unsupported_content_is_a_clear_type_error(tmp_path):
    with pytest.raises(TypeError, match=r"obj must be an estimator of one of"):
        save(object(), tmp_path / "x")
    pipe = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression())
    with pytest.raises(TypeError, match=r"cannot save obj.steps\[0\]\[1\].func"):
        save(pipe, tmp_path / "x")
    assert not (tmp_path / "x").exists()

    class MyScaler(StandardScaler):
        pass

    with pytest.raises(TypeError, match="MyScaler"):
        save(make_pipeline(MyScaler()), tmp_path / "x")
    with pytest.raises(ValueError, match="is a folder"):
        save(StandardScaler(), tmp_path)


def test_supported_classes_are_listed():
    assert "embkit.FeedForwardTuner" in SUPPORTED_CLASSES
    assert "sklearn.linear_model.LogisticRegression" in SUPPORTED_CLASSES


def test_allow_list_is_every_public_estimator_class():
    from sklearn.base import BaseEstimator

    public = {
        f"embkit.{name}"
        for name in embkit.__all__
        if isinstance(getattr(embkit, name), type)
        and issubclass(getattr(embkit, name), BaseEstimator)
    }
    listed = {name for name in SUPPORTED_CLASSES if name.startswith("embkit.")}
    assert public == listed


def _as_format_1(path):
    """Rewrite a saved tuner in the layout format 1 used (weights and optimiser apart)."""
    tree = json.loads(_read(path, "object.json"))
    node = tree["root"]["__estimator__"]
    node["module"] = node.pop("weights")["module_"]
    node["optimizer"] = node["state"].pop("optimizer_")
    _rewrite(path, "object.json", json.dumps(tree).encode(), fix_checksum=True)
    data = json.loads(_read(path, "embkit.json"))
    data["format_version"] = 1
    _rewrite(path, "embkit.json", json.dumps(data).encode())


def test_format_1_files_still_load(blobs, tmp_path):
    X, y = blobs
    tuner = clone(NUMERIC["FeedForwardTuner"]).fit(X, y)
    path = save(tuner, tmp_path / "old.embkit")
    _as_format_1(path)
    assert _peek(path)["format_version"] == 1
    loaded = load(path)
    _assert_same_outputs(tuner, loaded, X)
    tuner.partial_fit(X, y)  # the optimiser state came back too: both continue alike
    loaded.partial_fit(X, y)
    _assert_same_outputs(tuner, loaded, X)


# ------------------------------------------------------------------------ text estimators
@pytest.mark.parametrize("cls", [SentenceEncoder, TransformerEncoder], ids=lambda c: c.__name__)
def test_text_encoders_save_settings_not_weights(cls, tmp_path):
    enc = cls(device="cpu", cache=tmp_path / "cache").fit(TEXTS)
    path = save(enc, tmp_path / "enc.embkit")
    assert path.stat().st_size < 5_000  # the model's name, not its 90 MB of weights
    loaded = load(path)
    assert loaded.get_params() == enc.get_params()
    np.testing.assert_array_equal(loaded.transform(TEXTS), enc.transform(TEXTS))


def test_encoder_pipeline_round_trip(tmp_path):
    pipe = make_pipeline(
        SentenceEncoder(device="cpu"),
        FeedForwardTuner(4, n_epochs=2, random_state=0),
        LogisticRegression(),
    ).fit(TEXTS, LABELS)
    loaded = _round_trip(pipe, tmp_path)
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), pipe.predict_proba(TEXTS))


@pytest.fixture(scope="module")
def tuned_bodies():
    from embkit import FineTuneClassifier, SbertTuner

    tuner = SbertTuner(n_pairs_per_example=2, batch_size=4, max_length=16, random_state=0,
                       device="cpu").fit(TEXTS, LABELS)  # fmt: skip
    clf = FineTuneClassifier(n_epochs=1, batch_size=4, max_length=16, random_state=0,
                             device="cpu").fit(TEXTS, LABELS)  # fmt: skip
    return {"SbertTuner": tuner, "SbertLearner": tuner.learner_, "FineTuneClassifier": clf}


@pytest.mark.parametrize("name", ["SbertTuner", "SbertLearner", "FineTuneClassifier"])
def test_tuned_bodies_keep_their_weights(name, tuned_bodies, tmp_path):
    est = tuned_bodies[name]
    path = save(est, tmp_path / "b.embkit")
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("tensors.safetensors").file_size > 10_000_000  # the tuned weights
    loaded = load(path)
    _assert_same_outputs(est, loaded, TEXTS)


def test_body_given_as_an_object_is_refused(tuned_bodies, tmp_path):
    learner = clone(tuned_bodies["SbertLearner"])
    learner.model_ = tuned_bodies["SbertLearner"].model_
    learner.set_params(model=learner.model_)
    with pytest.raises(TypeError, match="pass the model's name or folder"):
        save(learner, tmp_path / "x")
