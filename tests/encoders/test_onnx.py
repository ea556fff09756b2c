"""backend="onnx": export once and reuse, match torch, keep cache entries apart, rebuild damage.

Most tests export a tiny random sentence model (``_tiny_models``, a second or two); the
fidelity test exports the real bundled MiniLM, which the issue's cosine figure is about.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

pytest.importorskip("onnxruntime")

import embkit.encoders._base as base_module  # noqa: E402
import embkit.encoders._onnx_export as export_module  # noqa: E402
import embkit.encoders.onnx as onnx_module  # noqa: E402
from embkit import EmbeddingCache, SentenceEncoder, TextTruncatedWarning  # noqa: E402
from embkit._core.models import clear_models  # noqa: E402
from embkit.encoders.onnx import ExportDamagedWarning  # noqa: E402

TEXTS = ["i feel wonderful today", "this is terrible news", "a quiet afternoon", "ok"]
MANY = [f"{a} {b} movie" for a in ("good", "bad", "great", "sad") for b in ("very", "not", "so")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from _tiny_models import write_tiny_sentence_model

    return str(write_tiny_sentence_model(tmp_path_factory.mktemp("tiny-onnx")))


@pytest.fixture
def cache_dir(tmp_path, monkeypatch) -> Path:
    """A fresh export cache for one test, and a fresh in-process model registry."""
    monkeypatch.setenv("EMBKIT_CACHE_DIR", str(tmp_path / "cache"))
    clear_models()
    yield tmp_path / "cache" / "onnx"
    clear_models()


@pytest.fixture
def exports(monkeypatch) -> list[str]:
    """Counts the exports made (the model names passed to the sentence exporter)."""
    calls: list[str] = []
    real = export_module._EXPORTERS["sentence-transformers"]

    def counting(model, folder):
        calls.append(str(model))
        return real(model, folder)

    monkeypatch.setitem(export_module._EXPORTERS, "sentence-transformers", counting)
    return calls


def make(model: str, **params) -> SentenceEncoder:
    return SentenceEncoder(model, device="cpu", show_progress_bar=False, **params)


def cosine(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.sum(A * B, axis=1) / (np.linalg.norm(A, axis=1) * np.linalg.norm(B, axis=1))


def test_tiny_onnx_matches_torch(tiny, cache_dir, monkeypatch):
    texts = TEXTS + MANY + ["good " * 40]  # the last one is truncated by both backends
    for backend in ("torch", "onnx"):  # both read the window and warn (once per process)
        monkeypatch.setattr(base_module, "_TRUNCATION_WARNED", set())
        with pytest.warns(TextTruncatedWarning, match="24-token window"):
            make(tiny, backend=backend).fit(texts).transform(texts[-1:])
    expected = make(tiny).fit(texts).transform(texts)
    got = make(tiny, backend="onnx").fit(texts).transform(texts)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert np.abs(got - expected).max() < 1e-5
    int8 = make(tiny, backend="onnx", quantize="int8").fit(texts).transform(texts)
    assert cosine(int8, expected).mean() > 0.98
    assert not np.array_equal(int8, got)


def test_minilm_onnx_matches_torch_within_stated_cosine(cache_dir):
    texts = TEXTS + MANY + ["a much longer text about the weather " * 60]  # > 256 tokens
    with warnings.catch_warnings():  # maybe warned already in this process: either is fine
        warnings.simplefilter("ignore", TextTruncatedWarning)
        expected = make("all-MiniLM-L6-v2").fit(texts).transform(texts)
    got = make("all-MiniLM-L6-v2", backend="onnx").fit(texts).transform(texts)
    assert cosine(got, expected).min() >= 0.9999  # the documented figure
    int8 = make("all-MiniLM-L6-v2", backend="onnx", quantize="int8").fit(texts).transform(texts)
    assert cosine(int8, expected).mean() >= 0.98


def test_export_happens_once_and_is_reused(tiny, cache_dir, exports):
    first = make(tiny, backend="onnx").fit(TEXTS).transform(TEXTS)
    assert exports == [tiny]
    clear_models()  # as in a new process: the folder on disk is loaded, not re-exported
    again = make(tiny, backend="onnx").fit(TEXTS).transform(TEXTS)
    assert exports == [tiny]
    np.testing.assert_array_equal(first, again)
    make(tiny, backend="onnx", quantize="int8").fit(TEXTS)  # quantised from the same export
    assert exports == [tiny]
    assert len([p for p in cache_dir.iterdir() if not p.name.startswith(".")]) == 2


def test_export_is_reproducible(tiny, tmp_path, monkeypatch):
    digests = []
    for name in ("a", "b"):
        monkeypatch.setenv("EMBKIT_CACHE_DIR", str(tmp_path / name))
        clear_models()
        folder = Path(make(tiny, backend="onnx").fit(TEXTS)._loaded().folder)
        digests.append((folder.name, export_module._file_digest(folder / "model.onnx")))
    clear_models()
    assert digests[0] == digests[1]


@pytest.fixture
def onnx_runs(monkeypatch):
    """The number of texts of every call to onnxruntime, in order."""
    runs = []
    real = onnx_module.OnnxModel.run

    def counting(self, texts, max_length=None):
        runs.append(len(texts))
        return real(self, texts, max_length)

    monkeypatch.setattr(onnx_module.OnnxModel, "run", counting)
    return runs


def test_cache_keeps_backends_and_quantisation_apart(tiny, cache_dir, tmp_path, onnx_runs):
    store = EmbeddingCache(tmp_path / "vectors")
    torch_vectors = make(tiny, cache=store).fit(TEXTS).transform(TEXTS)
    onnx_vectors = make(tiny, backend="onnx", cache=store).fit(TEXTS).transform(TEXTS)
    assert sum(onnx_runs) == len(TEXTS)  # the torch entries were not served to the onnx encoder
    make(tiny, backend="onnx", quantize="int8", cache=store).fit(TEXTS).transform(TEXTS)
    assert sum(onnx_runs) == 2 * len(TEXTS)
    again = make(tiny, backend="onnx", cache=store).fit(TEXTS).transform(TEXTS)
    assert sum(onnx_runs) == 2 * len(TEXTS)  # its own entries are reused
    np.testing.assert_array_equal(again, onnx_vectors)
    assert np.abs(onnx_vectors - torch_vectors).max() < 1e-5
    namespaces = {
        make(tiny, backend=b, quantize=q)._cache_namespace()
        for b in ("torch", "onnx")
        for q in (None, "int8")
    }
    assert len(namespaces) == 4


@pytest.mark.parametrize("damage", ["truncate", "flip", "no-manifest", "lose-tokenizer"])
def test_damaged_export_is_detected_and_rebuilt(tiny, cache_dir, exports, damage):
    expected = make(tiny, backend="onnx").fit(TEXTS).transform(TEXTS)
    (folder,) = [p for p in cache_dir.iterdir() if not p.name.startswith(".")]
    graph = folder / "model.onnx"
    if damage == "truncate":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "flip":  # same size, one weight byte changed: loads, but wrong
        data = bytearray(graph.read_bytes())
        data[len(data) // 2] ^= 0xFF
        graph.write_bytes(bytes(data))
    elif damage == "no-manifest":
        (folder / export_module._MANIFEST).unlink()
    else:
        (folder / "tokenizer" / "tokenizer.json").unlink()
    clear_models()
    with pytest.warns(ExportDamagedWarning, match="damaged"):
        got = make(tiny, backend="onnx").fit(TEXTS).transform(TEXTS)
    assert len(exports) == 2
    np.testing.assert_array_equal(got, expected)
    assert (
        export_module.read_manifest(
            folder, export_module.provenance("sentence-transformers", tiny, None)
        )
        is not None
    )


def test_two_processes_racing_export_once(tiny, tmp_path):
    env = {**os.environ, "EMBKIT_CACHE_DIR": str(tmp_path / "cache")}
    code = (
        "import sys, numpy as np; from embkit import SentenceEncoder;"
        f"X = SentenceEncoder({tiny!r}, backend='onnx', device='cpu').fit(['x']).transform("
        f"{TEXTS!r}); np.save(sys.argv[1], X)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / f"{i}.npy")],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert sum(e.count("exporting") for e in errs) == 1  # the other process waited and loaded
    np.testing.assert_array_equal(np.load(tmp_path / "0.npy"), np.load(tmp_path / "1.npy"))
    folders = [p for p in (tmp_path / "cache" / "onnx").iterdir() if not p.name.startswith(".")]
    assert len(folders) == 1


def test_missing_onnxruntime_is_a_clear_import_error(tiny, cache_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime fails
    encoder = make(tiny, backend="onnx")
    with pytest.raises(ImportError, match=r'pip install "embkit\[onnx\]"'):
        encoder.fit(TEXTS)
    assert not hasattr(encoder, "embedding_dim_")
    make(tiny).fit(TEXTS)  # the torch backend does not need it


def test_pickle_holds_name_and_backend_not_weights(tiny, cache_dir):
    encoder = make(tiny, backend="onnx", quantize="int8").fit(TEXTS)
    expected = encoder.transform(TEXTS)
    blob = pickle.dumps(encoder)
    graph_size = (encoder._loaded().folder / "model.onnx").stat().st_size
    assert len(blob) < min(graph_size, 5000)
    assert b"InferenceSession" not in blob
    clear_models()
    restored = pickle.loads(blob)
    assert restored.get_params()["backend"] == "onnx"
    assert restored.get_params()["quantize"] == "int8"
    np.testing.assert_array_equal(restored.transform(TEXTS), expected)
    assert clone(encoder).get_params() == encoder.get_params()


def test_fitted_pipeline_switches_to_onnx_for_serving(tiny, cache_dir, onnx_runs):
    labels = ["pos" if ("good" in t or "great" in t) else "neg" for t in MANY]
    pipe = make_pipeline(make(tiny), LogisticRegression()).fit(MANY, labels)
    expected = pipe.predict(MANY + TEXTS)
    pipe.set_params(sentenceencoder__backend="onnx")
    np.testing.assert_array_equal(pipe.predict(MANY + TEXTS), expected)
    assert sum(onnx_runs) == len(MANY + TEXTS)  # every text went through onnxruntime


def test_onnx_threads_reach_the_session(tiny, cache_dir):
    default = make(tiny, backend="onnx").fit(TEXTS)._loaded()
    one = make(tiny, backend="onnx", onnx_threads=1).fit(TEXTS)._loaded()
    assert default.session.get_session_options().intra_op_num_threads == 0  # ORT's default
    assert one.session.get_session_options().intra_op_num_threads == 1


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"backend": "tensorrt"}, ValueError, r"'backend' parameter of \w+ must be a str among"),
        ({"backend": "onnx", "onnx_threads": 0}, ValueError, "onnx_threads"),
        ({"backend": "onnx", "quantize": "int4"}, ValueError, "quantize"),
    ],
)
def test_bad_parameters_are_clear_errors(tiny, cache_dir, params, error, match):
    encoder = make(tiny).fit(TEXTS)
    with pytest.raises(error, match=match):
        clone(encoder).set_params(**params).fit(TEXTS)
    with pytest.raises(error, match=match):  # a failed refit leaves the fitted one as it was
        encoder.set_params(**params).fit(TEXTS)
    assert encoder.embedding_dim_ == 32


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_transformer_encoder_onnx_matches_torch(tiny, cache_dir, pooling):
    from embkit import TransformerEncoder

    bert = str(Path(tiny).parent / "bert" / "0_Transformer")
    texts = TEXTS + MANY
    params = {"pooling": pooling, "max_length": 12, "device": "cpu", "batch_size": 5}
    expected = TransformerEncoder(bert, **params).fit(texts).transform(texts)
    got = TransformerEncoder(bert, backend="onnx", **params).fit(texts).transform(texts)
    assert np.abs(got - expected).max() < 1e-5
    int8 = TransformerEncoder(bert, backend="onnx", quantize="int8", **params).fit(texts)
    assert cosine(int8.transform(texts), expected).mean() > 0.98
    with pytest.raises(ValueError, match="quantize='int8' needs backend='onnx'"):
        TransformerEncoder(bert, quantize="int8", **params).fit(texts)


def test_onnx_stops_at_the_position_table_when_the_tokenizer_knows_no_limit(
    tiny, cache_dir, monkeypatch
):
    """The tiny BERT has 64 positions and a tokenizer without model_max_length (1e30): the
    ONNX graph failed inside onnxruntime on a 100-word text that torch truncates."""
    from embkit import TransformerEncoder
    from embkit.encoders import _base as encoder_base

    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    bert = str(Path(tiny).parent / "bert" / "0_Transformer")
    long = " ".join(["happy"] * 100)
    expected = TransformerEncoder(bert, device="cpu").fit(["x"])
    with pytest.warns(encoder_base.TextTruncatedWarning, match="64-token window"):
        want = expected.transform([long, "ok"])
    monkeypatch.setattr(encoder_base, "_TRUNCATION_WARNED", set())
    onnx = TransformerEncoder(bert, device="cpu", backend="onnx").fit(["x"])
    with pytest.warns(encoder_base.TextTruncatedWarning, match="64-token window"):
        got = onnx.transform([long, "ok"])
    assert np.abs(got - want).max() < 1e-5
