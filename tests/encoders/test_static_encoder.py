"""StaticEncoder: distil once, cache atomically, load given folders, the encoder contract.

Most tests distil a tiny random BERT (``_tiny_models``), which takes well under a second;
one ``slow`` test distils the real bundled MiniLM.
"""

from __future__ import annotations

import io
import json
import pickle
import threading
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from test_encoders import TEXTS

pytest.importorskip("model2vec.distill")

import embkit.encoders.static as static_module  # noqa: E402
from embkit import StaticEncoder  # noqa: E402
from embkit._core.models import clear_models  # noqa: E402
from embkit.encoders.static import default_cache_dir, is_static_folder  # noqa: E402

DIM = 8


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> str:
    from _tiny_models import write_tiny_sentence_transformer

    return str(write_tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st")))


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("static-cache"))


@pytest.fixture
def make(tiny_source, shared_cache):
    """A StaticEncoder on the tiny model, distilled once per module into ``shared_cache``."""

    def make(**params) -> StaticEncoder:
        params = {
            "model": tiny_source,
            "dim": DIM,
            "cache_dir": shared_cache,
            "device": "cpu",
            **params,
        }
        return StaticEncoder(**params)

    return make


@pytest.fixture
def fitted(make):
    return make().fit(TEXTS)


@pytest.fixture
def distillations(monkeypatch):
    """Count the calls to model2vec's distillation."""
    calls = []
    original = static_module._distil

    def counting(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(static_module, "_distil", counting)
    return calls


def _entries(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# -- output ---------------------------------------------------------------------------------
def test_shape_dtype_norm_and_input_kinds(fitted):
    X = fitted.transform(TEXTS)
    assert X.shape == (4, DIM) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert fitted.embedding_dim_ == DIM and fitted.device_.type == "cpu"
    for kind in (tuple(TEXTS), np.array(TEXTS), np.array(TEXTS, dtype=object), pd.Series(TEXTS)):
        np.testing.assert_allclose(fitted.transform(kind), X, atol=1e-6)
    assert not np.allclose(X[0], X[1])


def test_fit_transform_equals_fit_then_transform(make):
    np.testing.assert_allclose(make().fit_transform(TEXTS), make().fit(TEXTS).transform(TEXTS))


def test_empty_input_and_empty_text(fitted):
    assert fitted.transform([]).shape == (0, DIM)
    X = fitted.transform(["", "ok"])
    assert np.isfinite(X).all()


def test_max_length_truncates(make):
    long = ["good " * 5 + "bad " * 50]
    full = make().fit(long).transform(long)
    short = make(max_length=6).fit(long).transform(long)
    assert not np.allclose(full, short, atol=1e-3)


def _token_outputs(source: str, tokens: list[str]) -> np.ndarray:
    """The tiny transformer's mean output for ``[CLS] token [SEP]``, one row per token."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = f"{source}/0_Transformer"
    tokenizer = AutoTokenizer.from_pretrained(folder)
    net = AutoModel.from_pretrained(folder).eval()
    ids = [
        [tokenizer.cls_token_id, i, tokenizer.sep_token_id]
        for i in tokenizer.convert_tokens_to_ids(tokens)
    ]
    with torch.inference_mode():
        return net(input_ids=torch.tensor(ids)).last_hidden_state.mean(dim=1).numpy()


def _rows(static, tokens: list[str]) -> np.ndarray:
    vocab = static.tokenizer.get_vocab()
    return static.embedding[[vocab[t] for t in tokens]]


def test_rows_are_the_transformer_outputs_of_their_tokens(make):
    # Without PCA and weighting, the row of every token is the transformer's output for it.
    static = make(dim=None, sif_coefficient=None).fit(TEXTS)._loaded()
    tokens = [t for t in static.tokenizer.get_vocab() if not t.startswith("[")]
    np.testing.assert_allclose(
        _rows(static, tokens), _token_outputs(make().model, tokens), atol=1e-5
    )


def test_stored_pca_rows_are_an_affine_map_of_the_transformer_outputs(make):
    # PCA returns a Fortran-ordered array; stored as it was, the rows on disk held other
    # tokens' numbers. Loaded from disk, they must be (centred) projections of the outputs.
    clear_models()
    static = make().fit(TEXTS)._loaded()
    tokens = sorted(static.tokenizer.get_vocab(), key=static.tokenizer.get_vocab().get)
    outputs = _token_outputs(make().model, tokens)
    design = np.c_[outputs, np.ones(len(outputs))]
    rows = _rows(static, tokens)
    coef = np.linalg.lstsq(design, rows, rcond=None)[0]
    residual = np.sum((design @ coef - rows) ** 2) / np.sum((rows - rows.mean(axis=0)) ** 2)
    assert len(tokens) > design.shape[1] and residual < 1e-6


def test_a_text_is_the_mean_of_its_own_tokens_without_padding(fitted):
    # The tiny tokenizer pads to 16 tokens, as MiniLM's pads to 128: never in the mean.
    static = fitted._loaded()
    for text in ["good", "i feel wonderful today"]:
        ids = static.tokenizer.encode(text, add_special_tokens=False).ids
        expected = (static.embedding[ids] * static.weights[ids, None]).mean(axis=0)
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(fitted.transform([text])[0], expected, atol=1e-5)
    assert static.tokenizer.padding is None
    saved = json.loads((Path(fitted.model_path_) / "tokenizer.json").read_text())
    assert saved["padding"] is None


def test_a_given_folder_whose_tokenizer_pads_is_not_padded(fitted, tmp_path):
    import shutil

    folder = tmp_path / "padded-model"
    shutil.copytree(fitted.model_path_, folder)
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    tokenizer["padding"] = {
        "strategy": {"Fixed": 32},
        "direction": "Right",
        "pad_to_multiple_of": None,
        "pad_id": 0,
        "pad_type_id": 0,
        "pad_token": "[PAD]",
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    direct = StaticEncoder(str(folder)).fit(TEXTS)
    np.testing.assert_allclose(direct.transform(TEXTS), fitted.transform(TEXTS), atol=1e-6)


# -- distil once, cache folder ------------------------------------------------------------------
def test_distils_once_then_loads_from_disk(tiny_source, tmp_path, distillations, capsys):
    params = {"dim": DIM, "cache_dir": tmp_path, "device": "cpu"}
    first = StaticEncoder(tiny_source, **params).fit(TEXTS)
    assert len(distillations) == 1
    assert "distilling" in capsys.readouterr().err  # it says what it does, once
    X = first.transform(TEXTS)
    clone(first).fit(TEXTS)  # same process: the shared model
    clear_models()  # as in a new process: loaded from the cache folder, not distilled
    again = StaticEncoder(tiny_source, **params).fit(TEXTS)
    assert len(distillations) == 1
    assert "distilling" not in capsys.readouterr().err
    np.testing.assert_array_equal(again.transform(TEXTS), X)
    assert again.model_path_ == first.model_path_
    StaticEncoder(tiny_source, **{**params, "dim": 4}).fit(TEXTS)  # new settings: new model
    assert len(distillations) == 2
    assert len(_entries(tmp_path)) == 2


def test_cache_folder_layout(fitted, shared_cache):
    from pathlib import Path

    folder = Path(fitted.model_path_)
    assert folder.parent == Path(shared_cache)
    assert is_static_folder(folder)
    provenance = json.loads((folder / "embkit-static.json").read_text())
    assert provenance["dim"] == DIM and provenance["source"].startswith("blake2b:")
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp dirs


def test_show_progress_bar_false_is_quiet(tiny_source, tmp_path, capsys):
    StaticEncoder(tiny_source, dim=DIM, cache_dir=tmp_path, show_progress_bar=False).fit(TEXTS)
    assert "embkit: distilling" not in capsys.readouterr().err


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBKIT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "static"
    monkeypatch.delenv("EMBKIT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "embkit" / "static"


def test_a_failed_distillation_leaves_no_folder(tiny_source, tmp_path, monkeypatch):
    class Broken:
        def save_pretrained(self, path):
            (path / "half-written").write_text("x")
            raise OSError("disk full")

    monkeypatch.setattr(static_module, "_distil", lambda *a, **k: Broken())
    with pytest.raises(OSError, match="disk full"):
        StaticEncoder(tiny_source, dim=DIM, cache_dir=tmp_path, device="cpu").fit(TEXTS)
    assert _entries(tmp_path) == []  # neither a broken model folder nor a temp folder


def test_concurrent_distillations_publish_one_complete_folder(tiny_source, tmp_path, monkeypatch):
    # Two writers (as two processes would) distil at the same time and race to rename.
    barrier = threading.Barrier(2, timeout=60)
    original = static_module._distil

    def together(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(static_module, "_distil", together)
    encoder = StaticEncoder(tiny_source, dim=DIM, cache_dir=tmp_path, device="cpu")
    settings = encoder._settings()
    folders, errors = [], []

    def run():
        try:
            folders.append(
                encoder._distilled_folder(
                    static_module.resolve_model(tiny_source), tmp_path, settings, "cpu"
                )
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert folders[0] == folders[1]
    assert _entries(tmp_path) == [folders[0].name]  # the loser's temp folder is gone
    assert is_static_folder(folders[0])
    clear_models()
    X = encoder.fit(TEXTS).transform(TEXTS)
    assert X.shape == (4, DIM)


def test_given_model2vec_folder_is_used_directly(fitted, tmp_path, distillations):
    import shutil

    folder = tmp_path / "my-static-model"
    shutil.copytree(fitted.model_path_, folder)
    direct = StaticEncoder(str(folder), dim=123, cache_dir=tmp_path / "unused").fit(TEXTS)
    assert distillations == [] and not (tmp_path / "unused").exists()
    assert direct.model_path_ == str(folder.resolve())
    np.testing.assert_allclose(direct.transform(TEXTS), fitted.transform(TEXTS), atol=1e-6)


def test_embedding_cache_namespace_depends_on_settings(make, tmp_path):
    a = make(cache=tmp_path / "vectors").fit(TEXTS)
    b = make(cache=tmp_path / "vectors", max_length=3).fit(TEXTS)
    assert a._cache_namespace() != b._cache_namespace()
    X = a.transform(TEXTS)
    np.testing.assert_array_equal(clone(a).fit(TEXTS).transform(TEXTS), X)  # from the cache


# -- parameters (bad texts: tests/test_text_estimators.py) ---------------------------------
@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"dim": 0}, ValueError, "dim"),
        ({"dim": 2.5}, TypeError, "dim"),
        ({"sif_coefficient": 0}, ValueError, "sif_coefficient"),
        ({"sif_coefficient": 1.5}, ValueError, "sif_coefficient"),
        ({"sif_coefficient": "x"}, ValueError, "sif_coefficient"),
        ({"max_length": 0}, ValueError, "max_length"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"cache_dir": 3}, TypeError, "cache_dir"),
        ({"cache": 3}, TypeError, "cache must be"),
        ({"device": "tpu"}, ValueError, "device"),
        ({"show_progress_bar": "yes"}, TypeError, "show_progress_bar"),
        ({"model": 3}, TypeError, "model must be"),
    ],
)
def test_bad_params_fail_at_fit(make, params, error, match):
    encoder = make(**params)  # __init__ never validates
    with pytest.raises(error, match=match):
        encoder.fit(TEXTS)


def test_unknown_model_is_a_clear_offline_error(tmp_path):
    encoder = StaticEncoder(str(tmp_path / "no-such-model"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="could not load model .*offline"):
        encoder.fit(TEXTS)


def test_a_folder_without_a_transformer_is_a_clear_error(tmp_path):
    (tmp_path / "empty-model").mkdir()
    encoder = StaticEncoder(str(tmp_path / "empty-model"), cache_dir=tmp_path / "c")
    with pytest.raises(ValueError, match="neither a transformer"):
        encoder.fit(TEXTS)


def test_a_file_as_cache_dir_a_dim_too_large_and_a_damaged_folder_are_clear_errors(make, tmp_path):
    (tmp_path / "file").write_text("x")
    for cache_dir in (tmp_path / "file", tmp_path / "file" / "sub"):
        with pytest.raises(ValueError, match="cache_dir .* cannot hold distilled models"):
            make(cache_dir=cache_dir, dim=4).fit(TEXTS)
    with pytest.raises(ValueError, match=r"dim=64 is larger than the hidden size .* \(32\)"):
        make(cache_dir=tmp_path / "c", dim=64).fit(TEXTS)
    encoder = make(cache_dir=tmp_path / "c").fit(TEXTS)
    before = dict(vars(encoder))
    folder = Path(encoder.model_path_)
    (folder / "model.safetensors").write_bytes(b"damaged")
    clear_models()
    with pytest.raises(ValueError, match="cannot load the static model in .* delete that folder"):
        encoder.fit(TEXTS)
    assert vars(encoder) == before


# -- scikit-learn contract (data-free checks and tags: tests/test_text_estimators.py) -----
def test_get_params_set_params_clone(make):
    encoder = make(dim=4)
    assert encoder.set_params(dim=16) is encoder and encoder.dim == 16
    assert clone(encoder).get_params() == encoder.get_params()
    assert StaticEncoder(**encoder.get_params()).get_params() == encoder.get_params()


def test_not_fitted_and_clone_of_fitted(fitted):
    with pytest.raises(NotFittedError):
        StaticEncoder().transform(TEXTS)
    with pytest.raises(NotFittedError):
        StaticEncoder().get_feature_names_out()
    copy = clone(fitted)
    with pytest.raises(NotFittedError):
        copy.transform(TEXTS)
    assert copy.fit(TEXTS)._loaded() is fitted._loaded()  # one shared model per process


def test_fit_is_idempotent(fitted):
    before = fitted.transform(TEXTS)
    state = {k: v for k, v in vars(fitted).items() if k.endswith("_") and not k.startswith("_")}
    assert fitted.fit(TEXTS) is fitted
    after = {k: v for k, v in vars(fitted).items() if k.endswith("_") and not k.startswith("_")}
    assert after == state and set(state) == {"device_", "embedding_dim_", "model_path_"}
    np.testing.assert_array_equal(fitted.transform(TEXTS), before)


def test_feature_names_and_pandas_output(fitted):
    names = fitted.get_feature_names_out()
    assert names.tolist() == [f"staticencoder{i}" for i in range(DIM)]
    df = clone(fitted).fit(TEXTS).set_output(transform="pandas").transform(pd.Series(TEXTS))
    assert isinstance(df, pd.DataFrame) and list(df.columns) == list(names)


def test_pickle_is_small_and_reloads_without_distilling(fitted, distillations):
    expected = fitted.transform(TEXTS)
    blob = pickle.dumps(fitted)
    assert len(blob) < 5_000
    clear_models()
    loaded = pickle.loads(blob)
    np.testing.assert_allclose(loaded.transform(TEXTS), expected, atol=1e-6)
    buffer = io.BytesIO()
    joblib.dump(fitted, buffer)
    assert len(buffer.getvalue()) < 5_000
    assert distillations == []


def test_in_a_pipeline_with_grid_search(make):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    texts = ["good movie", "great film", "love it", "bad movie", "terrible film", "hate it"] * 2
    labels = [1, 1, 1, 0, 0, 0] * 2
    pipe = make_pipeline(make(), LogisticRegression())
    search = GridSearchCV(pipe, {"staticencoder__max_length": [2, 8]}, cv=2).fit(texts, labels)
    assert [p["staticencoder__max_length"] for p in search.cv_results_["params"]] == [2, 8]
    best = search.best_estimator_  # refitted with the chosen max_length, which reached it
    assert best[0].max_length == search.best_params_["staticencoder__max_length"]
    assert search.predict(texts).tolist() == best.predict(texts).tolist()


# -- the real model ------------------------------------------------------------------------------
@pytest.mark.slow
def test_distils_the_bundled_minilm(tmp_path):
    from embkit import SentenceEncoder

    encoder = StaticEncoder(cache_dir=tmp_path, device="cpu").fit(TEXTS)
    X = encoder.transform(["i am so happy", "i feel joyful", "the train is late"])
    assert X.shape == (3, 256)
    assert X[0] @ X[1] > X[0] @ X[2]  # related texts stay closer
    # Words: neighbours in the table are sensible (a scrambled table gave happy ~ systemic).
    happy, glad, joyful, systemic, movie, film = encoder.transform(
        ["happy", "glad", "joyful", "systemic", "movie", "film"]
    )
    assert happy @ glad > 0.3 and happy @ joyful > 0.3 and movie @ film > 0.5
    assert happy @ glad > happy @ systemic + 0.2 and happy @ joyful > happy @ systemic + 0.2
    # Sentences: similarities follow the transformer's (Pearson about 0.69 when measured).
    sentences = [
        "i am so happy today",
        "what a wonderful day, i feel great",
        "this is terrible news",
        "i am sad and lonely",
        "the train was late again",
        "stock prices fell sharply",
        "a great movie with fine acting",
        "the film was boring and too long",
    ]
    S = encoder.transform(sentences)
    T = SentenceEncoder(device="cpu", normalize=True).fit(TEXTS).transform(sentences)
    upper = np.triu_indices(len(sentences), 1)
    assert np.corrcoef((S @ S.T)[upper], (T @ T.T)[upper])[0, 1] > 0.5


def test_the_embedding_cache_key_follows_the_distilled_table(make, monkeypatch, tmp_path):
    # a new distillation format (or model2vec release) distils a new table; vectors of the
    # old one in cache= must not be served beside the new ones
    enc = make(cache=tmp_path / "vectors").fit(TEXTS)
    first = enc._cache_namespace()
    assert enc._cache_namespace() == first
    monkeypatch.setattr(static_module, "_FORMAT", static_module._FORMAT + 1)
    assert enc._cache_namespace() != first


def test_another_dim_after_fit_is_a_clear_error(fitted):
    fitted.set_params(dim=DIM * 2)
    with pytest.raises(ValueError, match=f"now gives vectors of length {DIM * 2}, fitted for"):
        fitted.transform(TEXTS)


def test_a_model2vec_hub_name_in_the_local_cache_is_used_directly(
    fitted, tmp_path, distillations, monkeypatch
):
    # "minishlab/potion-base-8M" was taken for a transformer to distil, and failed inside
    # transformers; a fake hub cache holds a model2vec model under a hub name here
    import shutil

    hub = tmp_path / "hub"
    repo = hub / "models--someone--tiny-static"
    shutil.copytree(fitted.model_path_, repo / "snapshots" / "abc123")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(hub))
    clear_models()
    enc = StaticEncoder("someone/tiny-static", device="cpu").fit(TEXTS)
    assert distillations == []
    assert Path(enc.model_path_) == repo / "snapshots" / "abc123"
    np.testing.assert_allclose(enc.transform(TEXTS), fitted.transform(TEXTS), atol=1e-6)


def test_first_distillation_prints_nothing_foreign(tiny_source, tmp_path):
    """model2vec's distiller imports torchao where it is installed (the dev environment):
    its CUDA-kernel and torch deprecation lines are muted like the rest of model loading."""
    import os
    import subprocess
    import sys

    pytest.importorskip("torchao")
    code = (
        "from embkit import StaticEncoder; "
        f"StaticEncoder({tiny_source!r}, dim={DIM}, cache_dir={str(tmp_path)!r}, device='cpu')"
        ".fit(['a text'])"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "default"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr
    assert "torchao" not in run.stderr and "_pytree" not in run.stderr, run.stderr


def test_numpy_integers_from_a_grid_work_as_dim_and_max_length(make, tmp_path):
    """ParameterGrid over np.arange gives numpy integers: the cache key is JSON."""
    enc = make(dim=np.int64(DIM), max_length=np.int64(16), cache=str(tmp_path / "c"))
    out = enc.fit(TEXTS).transform(TEXTS)
    np.testing.assert_array_equal(out, make(max_length=16).fit(TEXTS).transform(TEXTS))


def test_a_quiet_distillation_draws_no_progress_bar(tiny_source, tmp_path, capfd):
    """model2vec's own bar ("Encoding tokens") obeys show_progress_bar=False (--quiet)."""
    quiet = StaticEncoder(tiny_source, dim=DIM, cache_dir=str(tmp_path / "q"), device="cpu")
    quiet.set_params(show_progress_bar=False).fit(TEXTS)
    assert "Encoding tokens" not in capfd.readouterr().err
    loud = StaticEncoder(tiny_source, dim=DIM, cache_dir=str(tmp_path / "l"), device="cpu")
    loud.set_params(show_progress_bar=True).fit(TEXTS)
    assert "Encoding tokens" in capfd.readouterr().err


def test_distillations_in_threads_leave_model2vec_as_it_was(tiny_source, tmp_path):
    """The muted bar is a patch of model2vec's module: two threads (one quiet, one not)
    could leave it muted for good."""
    from concurrent.futures import ThreadPoolExecutor

    from model2vec.distill import inference

    original = inference.tqdm

    def distil(i):
        enc = StaticEncoder(tiny_source, dim=DIM, cache_dir=str(tmp_path / str(i)), device="cpu")
        return enc.set_params(show_progress_bar=bool(i % 2)).fit(TEXTS).transform(TEXTS)

    with ThreadPoolExecutor(2) as pool:
        outs = list(pool.map(distil, range(4)))
    assert inference.tqdm is original
    for out in outs[1:]:
        np.testing.assert_allclose(out, outs[0], atol=1e-6)
