"""SentenceEncoder and TransformerEncoder on the real bundled MiniLM (offline)."""

from __future__ import annotations

import io
import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from _model_calls import model_calls  # noqa: F401 - fixture
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import embkit.encoders._base as encoder_base
from embkit import SentenceEncoder, TransformerEncoder
from embkit._core.models import clear_models, load_sentence_transformer, resolve_model

TEXTS = ["i feel wonderful today", "this is terrible news", "a quiet afternoon", "ok"]
ENCODERS = [SentenceEncoder, TransformerEncoder]


@pytest.fixture(params=ENCODERS, ids=lambda cls: cls.__name__)
def encoder_cls(request):
    return request.param


@pytest.fixture
def fitted(encoder_cls):
    return encoder_cls(device="cpu").fit(TEXTS)


# -- output ---------------------------------------------------------------------------------
def test_shape_dtype_and_input_kinds(fitted):
    X = fitted.transform(TEXTS)
    assert X.shape == (4, 384)
    assert X.dtype == np.float32
    assert np.isfinite(X).all()
    for kind in (tuple(TEXTS), np.array(TEXTS), np.array(TEXTS, dtype=object), pd.Series(TEXTS)):
        np.testing.assert_allclose(fitted.transform(kind), X, atol=1e-6)


def test_fit_transform_equals_fit_then_transform(encoder_cls):
    a = encoder_cls(device="cpu").fit_transform(TEXTS)
    b = encoder_cls(device="cpu").fit(TEXTS).transform(TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_sentence_encoder_matches_raw_sentence_transformers(model_path):
    from sentence_transformers import SentenceTransformer

    raw = SentenceTransformer(model_path, device="cpu").encode(TEXTS)
    ours = SentenceEncoder(device="cpu").fit(TEXTS).transform(TEXTS)
    np.testing.assert_allclose(ours, raw, atol=1e-5)


def test_transformer_encoder_mean_pooling_is_minilm_sentence_embedding():
    # all-MiniLM-L6-v2 is mean pooling + L2 normalisation: our mean pooling must agree.
    mean = TransformerEncoder(device="cpu", pooling="mean").fit(TEXTS).transform(TEXTS)
    mean /= np.linalg.norm(mean, axis=1, keepdims=True)
    sentence = SentenceEncoder(device="cpu").fit(TEXTS).transform(TEXTS)
    np.testing.assert_allclose(mean, sentence, atol=1e-5)
    cls = TransformerEncoder(device="cpu", pooling="cls").fit(TEXTS).transform(TEXTS)
    assert not np.allclose(cls / np.linalg.norm(cls, axis=1, keepdims=True), sentence, atol=1e-2)


def test_transformer_encoder_results_do_not_depend_on_batching():
    # Length-sorted batches with padding: a text's vector must not depend on its neighbours.
    texts = TEXTS + ["a much longer text " * 10, "short"]
    full = TransformerEncoder(device="cpu", batch_size=64).fit(texts).transform(texts)
    single = TransformerEncoder(device="cpu", batch_size=1).fit(texts).transform(texts)
    np.testing.assert_allclose(full, single, atol=1e-5)


def test_max_length_truncates(monkeypatch):
    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    long = ["word " * 100]
    with pytest.warns(encoder_base.TextTruncatedWarning, match="8-token window"):
        short = TransformerEncoder(device="cpu", max_length=8).fit(long).transform(long)
    full = TransformerEncoder(device="cpu", max_length=256).fit(long).transform(long)
    assert not np.allclose(short, full, atol=1e-3)


def test_normalize():
    enc = TransformerEncoder(device="cpu").fit(TEXTS)
    assert not np.allclose(np.linalg.norm(enc.transform(TEXTS), axis=1), 1.0, atol=1e-3)
    X = SentenceEncoder(device="cpu", normalize=True).fit(TEXTS).transform(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_repeated_texts_are_encoded_once(encoder_cls, model_calls):  # noqa: F811
    enc = encoder_cls(device="cpu").fit(TEXTS)
    model_calls.reset()
    X = enc.transform(["b", "a", "b", "b", "a"])
    assert model_calls.n == 2
    np.testing.assert_array_equal(X[0], X[2])
    np.testing.assert_array_equal(X[1], X[4])
    assert not np.allclose(X[0], X[1])


# -- empty and bad input --------------------------------------------------------------------
def test_empty_input_gives_zero_rows(fitted):
    for empty in ([], (), np.array([], dtype=str), pd.Series([], dtype=object)):
        X = fitted.transform(empty)
        assert X.shape == (0, 384) and X.dtype == np.float32
    assert clone(fitted).fit([]).embedding_dim_ == 384  # fit accepts it too


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.5}, TypeError, "batch_size"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"cache": 3}, TypeError, "cache must be"),
        ({"show_progress_bar": "yes"}, TypeError, "show_progress_bar"),
        ({"model": 3}, TypeError, "model must be"),
    ],
)
def test_bad_params_fail_at_fit(encoder_cls, params, error, match):
    enc = encoder_cls(**params)  # __init__ never validates
    with pytest.raises(error, match=match):
        enc.fit(TEXTS)


@pytest.mark.parametrize(
    ("cls", "params", "error", "match"),
    [
        (SentenceEncoder, {"normalize": "yes"}, TypeError, "normalize"),
        (TransformerEncoder, {"pooling": "max"}, ValueError, "pooling"),
        (TransformerEncoder, {"max_length": 0}, ValueError, "max_length"),
    ],
)
def test_bad_own_params_fail_at_fit(cls, params, error, match):
    with pytest.raises(error, match=match):
        cls(**params).fit(TEXTS)


def test_unknown_model_is_a_clear_offline_error(encoder_cls, tmp_path):
    with pytest.raises(ValueError, match="could not load model .*offline.* no such folder"):
        encoder_cls(model=str(tmp_path / "no-such-model"), device="cpu").fit(TEXTS)


# -- scikit-learn contract (data-free checks, tags, not-fitted errors and bad texts for every
# text estimator: tests/test_text_estimators.py) ------------------------------------------
def test_get_params_set_params_clone(encoder_cls, tmp_path):
    enc = encoder_cls(batch_size=8, cache=str(tmp_path))
    assert enc.get_params()["batch_size"] == 8
    assert enc.set_params(batch_size=16) is enc and enc.batch_size == 16
    copy = clone(enc)
    assert copy.get_params() == enc.get_params()
    assert encoder_cls(**enc.get_params()).get_params() == enc.get_params()


def test_clone_of_fitted_is_unfitted_and_shares_the_model(fitted):
    copy = clone(fitted)
    with pytest.raises(NotFittedError):
        copy.transform(TEXTS)
    copy.fit(TEXTS)
    assert copy._loaded() is fitted._loaded()  # loaded once per process, shared by clones


def test_fit_is_idempotent_and_returns_self(fitted):
    before = fitted.transform(TEXTS)
    state = {k: v for k, v in vars(fitted).items() if k.endswith("_") and not k.startswith("_")}
    assert fitted.fit(TEXTS) is fitted
    after = {k: v for k, v in vars(fitted).items() if k.endswith("_") and not k.startswith("_")}
    assert after == state == {"device_": fitted.device_, "embedding_dim_": 384}
    np.testing.assert_array_equal(fitted.transform(TEXTS), before)


def test_device_auto_is_resolved_at_fit_without_touching_the_parameter(encoder_cls):
    enc = encoder_cls().fit(TEXTS)
    assert enc.device == "auto"
    assert enc.device_.type in {"cpu", "cuda", "mps"}


def test_feature_names_and_pandas_output(fitted):
    name = type(fitted).__name__.lower()
    names = fitted.get_feature_names_out()
    assert names.shape == (384,) and names[0] == f"{name}0" and names[-1] == f"{name}383"
    fitted.set_output(transform="pandas")
    texts = pd.Series(TEXTS, index=[10, 11, 12, 13])
    df = fitted.transform(texts)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == list(names)
    assert list(df.index) == [10, 11, 12, 13]
    assert df.to_numpy().dtype == np.float32


def test_pickle_round_trip_is_small_and_reloads_by_name(fitted):
    expected = fitted.transform(TEXTS)
    before = fitted._loaded()
    blob = pickle.dumps(fitted)
    assert len(blob) < 5_000  # no weights inside
    clear_models()  # as in a fresh process: the model must be loaded again, by name
    loaded = pickle.loads(blob)
    np.testing.assert_allclose(loaded.transform(TEXTS), expected, atol=1e-6)
    assert loaded._loaded() is not before  # really reloaded


def test_joblib_dump_is_small(fitted):
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    assert len(buffer.getvalue()) < 5_000
    buffer.seek(0)
    np.testing.assert_allclose(
        joblib.load(buffer).transform(TEXTS[:2]), fitted.transform(TEXTS[:2]), atol=1e-6
    )


# -- model resolution --------------------------------------------------------------------------
def test_default_model_names_resolve_offline_to_the_bundled_folder(model_path):
    from pathlib import Path

    assert resolve_model("all-MiniLM-L6-v2") == str(Path(model_path).resolve())
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == resolve_model(
        "all-MiniLM-L6-v2"
    )
    bundled = load_sentence_transformer("all-MiniLM-L6-v2", "cpu")
    assert load_sentence_transformer(model_path, "cpu") is bundled


def test_models_load_once_under_threads():
    from concurrent.futures import ThreadPoolExecutor

    clear_models()
    with ThreadPoolExecutor(4) as pool:
        models = list(
            pool.map(lambda _: load_sentence_transformer("all-MiniLM-L6-v2", "cpu"), range(8))
        )
    assert all(m is models[0] for m in models)


# -- progress bar ---------------------------------------------------------------------------
def test_progress_bar_only_on_long_inputs_unless_asked(encoder_cls, capsys, monkeypatch):
    monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", "0")  # every transform runs the model
    enc = encoder_cls(device="cpu").fit(TEXTS)
    capsys.readouterr()
    enc.transform(TEXTS)
    assert "%" not in capsys.readouterr().err  # short input: quiet
    monkeypatch.setattr(encoder_base, "PROGRESS_MIN_TEXTS", 3)
    enc.transform(TEXTS)
    assert "%" not in capsys.readouterr().err  # "long" input into a log (not a terminal)
    monkeypatch.setattr(encoder_base, "interactive", lambda: True)
    enc.transform(TEXTS)
    assert "100%" in capsys.readouterr().err  # "long" input on a terminal: a bar
    enc.set_params(show_progress_bar=False).transform(TEXTS)
    assert "%" not in capsys.readouterr().err
    monkeypatch.setattr(encoder_base, "PROGRESS_MIN_TEXTS", 1000)
    enc.set_params(show_progress_bar=True).transform(TEXTS)
    assert "100%" in capsys.readouterr().err


# -- models changed on disk, windows, threads, parameters changed after fit -----------------
@pytest.mark.filterwarnings("ignore::embkit.encoders._base.TextTruncatedWarning")
def test_a_model_folder_rewritten_in_place_is_loaded_anew(tmp_path):
    # the registry was keyed by path only: the old weights kept serving, and with cache=
    # their vectors were stored under the new folder's identity
    from _tiny_models import write_tiny_sentence_model

    folder = write_tiny_sentence_model(tmp_path / "a")
    other = write_tiny_sentence_model(tmp_path / "b", max_seq_length=4)  # truncates more
    texts = ["i feel wonderful today this is terrible news a quiet afternoon"]
    enc = SentenceEncoder(str(folder), device="cpu", cache=tmp_path / "cache").fit(texts)
    before = enc.transform(texts)
    for path in other.rglob("*"):  # the folder "saved again", now with a shorter window
        if path.is_file():
            (folder / path.relative_to(other)).write_bytes(path.read_bytes())
    after = SentenceEncoder(str(folder), device="cpu").fit(texts).transform(texts)
    expected = SentenceEncoder(str(other), device="cpu").fit(texts).transform(texts)
    np.testing.assert_allclose(after, expected, atol=1e-6)
    assert not np.allclose(after, before, atol=1e-3)
    cached = SentenceEncoder(str(folder), device="cpu", cache=tmp_path / "cache").fit(texts)
    np.testing.assert_allclose(cached.transform(texts), expected, atol=1e-6)


@pytest.mark.filterwarnings("ignore::embkit.encoders._base.TextTruncatedWarning")
def test_a_cached_encoder_never_stores_old_weights_under_the_new_folder(tmp_path):
    """The folder saved again while a fitted encoder with cache= lives (no refit): its next
    transform runs the new weights, so the cache holds no old vectors under their key."""
    from _tiny_models import write_tiny_sentence_model

    folder = write_tiny_sentence_model(tmp_path / "a")
    other = write_tiny_sentence_model(tmp_path / "b", max_seq_length=4)
    text = "i feel wonderful today this is terrible news a quiet afternoon"
    enc = SentenceEncoder(str(folder), device="cpu", cache=tmp_path / "cache").fit(["x"])
    enc.transform(["x"])
    for path in other.rglob("*"):
        if path.is_file():
            (folder / path.relative_to(other)).write_bytes(path.read_bytes())
    expected = SentenceEncoder(str(other), device="cpu").fit([text]).transform([text])
    np.testing.assert_allclose(enc.transform([text]), expected, atol=1e-6)  # no refit
    fresh = SentenceEncoder(str(folder), device="cpu", cache=tmp_path / "cache").fit([text])
    np.testing.assert_allclose(fresh.transform([text]), expected, atol=1e-6)
    plain = SentenceEncoder(str(folder), device="cpu").fit(["x"])  # no cache, fitted at 32
    wide = write_tiny_sentence_model(tmp_path / "c", hidden=48)  # saved again, wider
    for path in wide.rglob("*"):
        if path.is_file():
            (folder / path.relative_to(wide)).write_bytes(path.read_bytes())
    with pytest.raises(ValueError, match="now gives vectors of length 48, fitted for 32"):
        enc.transform(["another text"])  # reloads the shared model
    with pytest.raises(ValueError, match="now gives vectors of length 48, fitted for 32"):
        plain.transform(["another text"])  # which this one shares


@pytest.mark.parametrize("cls", [SentenceEncoder, TransformerEncoder])
def test_with_every_text_cached_no_model_is_loaded(cls, tmp_path, monkeypatch):
    """docs/cli.md: "a second run skips the model". fit loaded it for its width alone;
    the cache now records the width, so fit and transform of cached texts need no model."""
    from embkit._core.models import clear_models

    texts = ["a first text", "a second text"]
    expected = cls(device="cpu", cache=tmp_path).fit(texts).transform(texts)
    clear_models()  # as in a new process
    loads = []
    original = cls._load
    monkeypatch.setattr(
        cls, "_load", lambda self, device: loads.append(1) or original(self, device)
    )
    again = cls(device="cpu", cache=tmp_path).fit(texts)
    np.testing.assert_array_equal(again.transform(texts), expected)
    assert loads == [] and again.embedding_dim_ == expected.shape[1]
    again.transform(["a text not cached yet"])
    assert loads  # the model is loaded when a text needs it


def test_the_truncation_warning_counts_bytes_not_characters(monkeypatch):
    """180 Korean characters are 362 MiniLM tokens (jamo): cut at 256 and warned about,
    though the text has fewer characters than the window."""
    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    text = "한국어는 정말 아름다운 언어입니다. " * 9
    assert len(text) < 256
    encoder = SentenceEncoder(device="cpu").fit([text])
    with pytest.warns(encoder_base.TextTruncatedWarning, match="256-token window") as caught:
        encoder.transform([text])
    assert caught[0].filename == __file__  # points at the caller's line, not into embkit
    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", "0")  # the model must read the text again
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    pipe = make_pipeline(SentenceEncoder(device="cpu"), Normalizer())
    with pytest.warns(encoder_base.TextTruncatedWarning) as caught:
        pipe.fit_transform([text])  # through joblib's Memory inside the pipeline
    assert caught[0].filename == __file__


def test_transformer_max_length_beyond_the_model_window_is_capped(monkeypatch):
    # MiniLM has 512 positions: max_length=1024 used to reach them and fail in torch
    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    long_text = "word " * 800
    wide = TransformerEncoder(device="cpu", max_length=1024).fit([long_text])
    with pytest.warns(encoder_base.TextTruncatedWarning, match="512-token window"):
        out = wide.transform([long_text, "short"])
    capped = TransformerEncoder(device="cpu", max_length=512).fit(["x"]).transform([long_text])
    np.testing.assert_allclose(out[:1], capped, atol=1e-5)


@pytest.mark.filterwarnings("ignore::embkit.encoders._base.TextTruncatedWarning")
def test_two_windows_on_one_shared_tokenizer_under_threads():
    # every encoder of a model shares its fast tokenizer, whose truncation is state
    from concurrent.futures import ThreadPoolExecutor

    short = TransformerEncoder(device="cpu", max_length=8, show_progress_bar=False).fit(["x"])
    wide = TransformerEncoder(device="cpu", max_length=256, show_progress_bar=False).fit(["x"])
    assert short._loaded()[0] is wide._loaded()[0]
    texts = [f"text number {i} " * 12 for i in range(16)]
    expected = {8: short.transform(texts), 256: wide.transform(texts)}
    encoders = [short, wide] * 8
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda enc: (enc.max_length, enc.transform(texts)), encoders))
    for window, out in outs:
        np.testing.assert_allclose(out, expected[window], atol=1e-5)


def test_counting_tokens_leaves_the_shared_tokenizer_alone():
    from embkit._core.models import count_tokens

    tokenizer = load_sentence_transformer("all-MiniLM-L6-v2", "cpu").tokenizer
    tokenizer(["a b c"], truncation=True, max_length=5)
    before = tokenizer.backend_tokenizer.truncation
    assert count_tokens(tokenizer, ["word " * 600]) == [602]
    assert tokenizer.backend_tokenizer.truncation == before


def test_a_model_of_another_width_after_fit_is_a_clear_error(tmp_path):
    from _tiny_models import write_tiny_sentence_model

    tiny = str(write_tiny_sentence_model(tmp_path))  # 32-wide, MiniLM is 384
    enc = SentenceEncoder(device="cpu").fit(TEXTS).set_params(model=tiny)
    with pytest.raises(ValueError, match="length 32, fitted for 384; call fit again"):
        enc.transform(TEXTS)
    enc.set_params(cache=tmp_path / "cache")  # no numpy broadcast error from the cache either
    with pytest.raises(ValueError, match="call fit again"):
        enc.transform(TEXTS)
    assert enc.fit(TEXTS).transform(TEXTS).shape == (len(TEXTS), 32)


def test_a_refused_combination_set_after_fit_is_refused_at_transform():
    enc = TransformerEncoder(device="cpu").fit(TEXTS).set_params(quantize="int8")
    with pytest.raises(ValueError, match="quantize='int8' needs backend='onnx'"):
        enc.transform(TEXTS)
