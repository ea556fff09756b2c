"""EmbeddingCache on its own, and behind the encoders (hits, misses, invalidation, corruption)."""

from __future__ import annotations

import multiprocessing
import pickle
import shutil
import signal
import sqlite3
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from _cache_writer import fake_vectors, write_and_read, write_forever
from _model_calls import model_calls  # noqa: F401 - fixture
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from embkit import EmbeddingCache, SentenceEncoder, TransformerEncoder
from embkit._core.models import model_identity
from embkit.io.cache import CacheDamagedWarning, as_cache

TEXTS = ["i feel wonderful today", "this is terrible news", "a quiet afternoon", "ok"]


# -- the cache object ---------------------------------------------------------------------------
def test_round_trip_and_namespaces(tmp_path):
    cache = EmbeddingCache(tmp_path)
    assert cache.path == tmp_path / "embeddings.sqlite3"
    vectors = fake_vectors(["a", "b", "c"])
    cache.set_many("ns1", ["a", "b", "c"], vectors)
    found, got = cache.get_many("ns1", ["c", "x", "a"], dim=8)
    assert found.tolist() == [0, 2]
    np.testing.assert_array_equal(got, vectors[[2, 0]])
    assert got.flags.writeable
    found, got = cache.get_many("ns2", ["a", "b"], dim=8)  # another namespace: nothing
    assert found.tolist() == [] and got.shape == (0, 8)
    assert len(cache) == 3
    assert (cache.hits, cache.misses) == (2, 3)


def test_file_path_and_reopen(tmp_path):
    path = tmp_path / "sub" / "vectors.sqlite3"
    cache = EmbeddingCache(path)
    cache.set_many("ns", ["a"], fake_vectors(["a"]))
    cache.close()
    assert path.is_file()
    found, got = EmbeddingCache(path).get_many("ns", ["a"], dim=8)
    assert found.tolist() == [0]
    np.testing.assert_array_equal(got, fake_vectors(["a"]))


def test_pickle_holds_the_path_only(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.set_many("ns", ["a"], fake_vectors(["a"]))
    assert cache.__getstate__() == {"path": str(cache.path)}
    copy = pickle.loads(pickle.dumps(cache))
    assert len(pickle.dumps(cache)) < 500
    assert copy == cache and copy._conn is None
    assert copy.get_many("ns", ["a"], dim=8)[0].tolist() == [0]


def test_as_cache(tmp_path):
    assert as_cache(None) is None
    cache = EmbeddingCache(tmp_path)
    assert as_cache(cache) is cache
    assert as_cache(str(tmp_path)) is as_cache(tmp_path)  # one shared object per file
    with pytest.raises(TypeError, match="cache must be"):
        as_cache(3.5)


def test_wrong_length_and_bad_checksum_are_misses(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.set_many("ns", ["a", "b", "c"], fake_vectors(["a", "b", "c"]))
    conn = sqlite3.connect(cache.path)
    key_a, key_b = EmbeddingCache.keys("ns", ["a", "b"])
    with conn:
        conn.execute("UPDATE embeddings SET vector = substr(vector, 1, 12) WHERE key = ?", (key_a,))
        blob = bytearray(
            conn.execute("SELECT vector FROM embeddings WHERE key = ?", (key_b,)).fetchone()[0]
        )
        blob[5] ^= 0xFF  # one flipped byte, same length
        conn.execute("UPDATE embeddings SET vector = ? WHERE key = ?", (bytes(blob), key_b))
    conn.close()
    with pytest.warns(CacheDamagedWarning, match="2 entries .* failed their checksum"):
        found, got = cache.get_many("ns", ["a", "b", "c"], dim=8)
    assert found.tolist() == [2]
    assert cache.corrupt == 2
    found, _ = cache.get_many("ns", ["c"], dim=4)  # wrong dimension: corrupt too
    assert found.tolist() == []


def test_repeated_texts_misses_and_a_bad_entry_over_several_queries(tmp_path):
    cache = EmbeddingCache(tmp_path)
    stored = [f"s{i}" for i in range(1500)]  # more keys than one query takes (900)
    cache.set_many("ns", stored, fake_vectors(stored))
    conn = sqlite3.connect(cache.path)
    with conn:
        conn.execute(
            "UPDATE embeddings SET checksum = checksum + 1 WHERE key = ?", cache.keys("ns", ["s7"])
        )
    conn.close()
    texts = ["s1499", "new", "s3", "s7", "s1499", "s3", *stored[::-1], "s3"]
    with pytest.warns(CacheDamagedWarning, match="1 entries"):
        found, got = cache.get_many("ns", texts, dim=8)
    expected = [i for i, t in enumerate(texts) if t not in ("new", "s7")]
    assert found.tolist() == expected
    np.testing.assert_array_equal(got, fake_vectors([texts[i] for i in expected]))
    assert got.flags.writeable
    assert (cache.hits, cache.misses, cache.corrupt) == (len(expected), 3, 1)


def test_not_a_database_is_reported_once_and_rebuilt(tmp_path):
    path = tmp_path / "broken.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    cache = EmbeddingCache(path)
    with pytest.warns(CacheDamagedWarning, match="is damaged .* moved to .*broken.sqlite3.corrupt"):
        found, _ = cache.get_many("ns", ["a"], dim=8)
    assert found.tolist() == []
    assert (tmp_path / "broken.sqlite3.corrupt").read_bytes().startswith(b"this is not")
    cache.set_many("ns", ["a"], fake_vectors(["a"]))  # a working cache again, no new warning
    np.testing.assert_array_equal(cache.get_many("ns", ["a"], dim=8)[1], fake_vectors(["a"]))


def test_a_bad_dim_or_path_names_it_and_reports_no_damage(tmp_path):
    cache = EmbeddingCache(tmp_path)
    cache.set_many("ns", ["a"], fake_vectors(["a"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # dim=0 used to report the entry as damaged
        for dim, error in ((0, ValueError), (-1, ValueError), (2.5, TypeError), ("8", TypeError)):
            with pytest.raises(error, match="dim must be an integer >= 1"):
                cache.get_many("ns", ["a"], dim=dim)
    assert cache.corrupt == 0
    for path in (None, 5):
        with pytest.raises(TypeError, match="path must be a folder or file path"):
            EmbeddingCache(path)


def _foreign_database(path):
    """A healthy SQLite file that is no embedding cache (its ``meta`` table differs)."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE meta (name TEXT)")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize(
    ("where", "match"),
    [
        (lambda tmp: tmp / "notes.txt", "notes.txt/embeddings.sqlite3 as the embedding cache"),
        (lambda tmp: tmp / "notes.txt" / "sub", "notes.txt/sub/embeddings.sqlite3 as the"),
        (lambda tmp: (tmp / "x.sqlite3").mkdir() or tmp / "x.sqlite3", "x.sqlite3 as the"),
        (lambda tmp: _foreign_database(tmp / "other.db"), "other.db is not a usable embedding"),
    ],
    ids=["a file", "below a file", "a folder named .sqlite3", "another database"],
)
def test_a_path_that_cannot_be_a_cache_is_a_value_error_naming_it(where, match, tmp_path):
    (tmp_path / "notes.txt").write_text("not a folder")
    path = where(tmp_path)
    with pytest.raises(ValueError, match=match):
        EmbeddingCache(path).get_many("ns", ["a"], dim=8)
    encoder = SentenceEncoder(device="cpu", cache=path).fit(["a"])
    with pytest.raises(ValueError, match="cache"):
        encoder.transform(["a"])
    assert (tmp_path / "notes.txt").read_text() == "not a folder"


def _open_read_only(monkeypatch):
    """Make every ``sqlite3.connect`` open its file in SQLite's read-only URI mode.

    The tests run as root, which file permissions do not stop, so chmod cannot make a cache
    unwritable here; SQLite's ``mode=ro`` refuses every write with the same error
    (SQLITE_READONLY, "attempt to write a readonly database") as a file or folder without
    write permission.
    """
    connect = sqlite3.connect

    def read_only(path, **kwargs):
        return connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", read_only)


@pytest.mark.parametrize("journal", ["wal", "delete"])
def test_a_read_only_cache_says_so_and_is_left_alone(journal, tmp_path, monkeypatch):
    """No advice to delete a read-only cache (it may be a shared one), and no set-aside.

    Opening writes (the schema check, the switch to WAL), so the refusal comes on first use,
    as it does for a file or folder without write permission.
    """
    cache = EmbeddingCache(tmp_path)
    cache.set_many("ns", ["a"], fake_vectors(["a"]))
    cache.close()
    if journal == "delete":
        conn = sqlite3.connect(cache.path)
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.close()
    before = cache.path.read_bytes()
    _open_read_only(monkeypatch)
    for use in (
        lambda c: c.get_many("ns", ["a"], dim=8),
        lambda c: c.set_many("ns", ["b"], fake_vectors(["b"])),
    ):
        with pytest.raises(ValueError, match="cannot be written") as refused:
            use(EmbeddingCache(tmp_path))
        message = str(refused.value)
        assert (
            str(cache.path) in message and "point cache= (--cache) at a writable folder" in message
        )
        assert "delete" not in message
    monkeypatch.undo()
    assert cache.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".corrupt")] == []
    assert EmbeddingCache(tmp_path).get_many("ns", ["a", "b"], dim=8)[0].tolist() == [0]


def test_a_write_refused_after_opening_says_the_cache_cannot_be_written(tmp_path):
    """A file that turns read-only while in use (a remount, changed rights), mimicked by
    ``PRAGMA query_only``: SQLite refuses the write with the same SQLITE_READONLY."""
    cache = EmbeddingCache(tmp_path)
    cache.set_many("ns", ["a"], fake_vectors(["a"]))
    cache._connect().execute("PRAGMA query_only = ON")
    np.testing.assert_array_equal(cache.get_many("ns", ["a"], dim=8)[1], fake_vectors(["a"]))
    for write in (lambda: cache.set_many("ns", ["b"], fake_vectors(["b"])), cache.clear):
        with pytest.raises(
            ValueError, match=r"cannot be written .*point cache= \(--cache\) at a writable"
        ):
            write()
    assert len(cache) == 1


def test_a_foreign_database_is_still_advised_to_be_deleted(tmp_path):
    path = _foreign_database(tmp_path / "other.db")
    with pytest.raises(ValueError, match="is not a usable embedding cache .* delete it"):
        EmbeddingCache(path).get_many("ns", ["a"], dim=8)


def _filled(path, n=3000, dim=64):
    cache = EmbeddingCache(path)
    texts = [f"text {i}" for i in range(n)]
    cache.set_many("ns", texts, fake_vectors(texts, dim))
    cache.close()
    return texts


@pytest.mark.parametrize("damage", ["truncate", "zero-middle", "wal-garbage"])
def test_damaged_file_never_gives_a_wrong_vector(damage, tmp_path):
    texts = _filled(tmp_path)
    db = tmp_path / "embeddings.sqlite3"
    size = db.stat().st_size
    if damage == "truncate":
        with open(db, "r+b") as fh:
            fh.truncate(size // 2)
    elif damage == "zero-middle":
        with open(db, "r+b") as fh:
            fh.seek(size // 3)
            fh.write(b"\0" * (size // 3))
    else:  # a leftover write-ahead log full of garbage
        (tmp_path / "embeddings.sqlite3-wal").write_bytes(b"\x37\x7f\x06\x82" + b"x" * 50_000)
    cache = EmbeddingCache(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(2):  # reported once, however often it is read
            found, got = cache.get_many("ns", texts, dim=64)
            np.testing.assert_array_equal(got, fake_vectors([texts[i] for i in found], 64))
    reports = [w for w in caught if issubclass(w.category, CacheDamagedWarning)]
    if damage == "wal-garbage":  # SQLite ignores a WAL whose header is not valid
        assert not reports and len(found) == len(texts)
    else:  # reported once, however often it is read, and the file moved aside
        assert len(reports) == 1
        assert (tmp_path / "embeddings.sqlite3.corrupt").exists()
    cache.set_many("ns", texts[:5], fake_vectors(texts[:5], 64))  # and it works again
    assert cache.get_many("ns", texts[:5], dim=64)[0].tolist() == [0, 1, 2, 3, 4]


def test_writer_killed_mid_write_leaves_no_wrong_vector(tmp_path):
    """kill -9 a process in the middle of its writes, three times; then read everything."""
    ctx = multiprocessing.get_context("spawn")
    for delay in (0.0, 0.15, 0.4):
        started = ctx.Event()
        proc = ctx.Process(target=write_forever, args=(str(tmp_path), started))
        proc.start()
        assert started.wait(120), "the writer never committed a batch"
        time.sleep(delay)
        proc.kill()  # SIGKILL: no cleanup, no rollback by the writer
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
    conn = sqlite3.connect(tmp_path / "embeddings.sqlite3")
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    cache = EmbeddingCache(tmp_path)
    texts = [f"batch {b} text {i}" for b in range(200) for i in range(2000)]
    found, got = cache.get_many("ns", texts, dim=64)
    assert len(found) >= 2000 and len(found) % 2000 == 0  # whole batches only
    np.testing.assert_array_equal(got, fake_vectors([texts[i] for i in found], 64))
    assert cache.corrupt == 0


def test_two_processes_writing_one_cache(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    procs = [
        ctx.Process(target=write_and_read, args=(str(tmp_path), w, 30, barrier)) for w in range(2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    cache = EmbeddingCache(tmp_path)
    texts = [f"text {i}" for i in range(29 * 50 + 100)]
    found, got = cache.get_many("ns", texts, dim=8)
    assert len(found) == len(texts) == len(cache)
    np.testing.assert_array_equal(got, fake_vectors(texts))
    assert cache.corrupt == 0


# -- behind the encoders ------------------------------------------------------------------------
@pytest.fixture(params=[SentenceEncoder, TransformerEncoder], ids=lambda c: c.__name__)
def encoder_cls(request):
    return request.param


def test_hit_returns_the_same_vectors_without_the_model(encoder_cls, tmp_path, model_calls):  # noqa: F811
    plain = encoder_cls(device="cpu").fit(TEXTS).transform(TEXTS)
    enc = encoder_cls(device="cpu", cache=tmp_path).fit(TEXTS)
    model_calls.reset()
    first = enc.transform(TEXTS)
    assert model_calls.n == len(TEXTS)  # all misses
    second = clone(enc).fit(TEXTS).transform(TEXTS)
    assert model_calls.n == len(TEXTS)  # all hits: the model did not run again
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(first, plain, atol=1e-6)
    assert second.dtype == np.float32


def test_partial_miss_encodes_only_new_texts(encoder_cls, tmp_path, model_calls):  # noqa: F811
    enc = encoder_cls(device="cpu", cache=EmbeddingCache(tmp_path)).fit(TEXTS)
    enc.transform(TEXTS[:2])
    model_calls.reset()
    X = enc.transform(TEXTS + [TEXTS[3]])
    assert model_calls.n == 2  # TEXTS[2] and TEXTS[3], the repeat once
    # the new texts ran as a batch of 2, the reference as a batch of 4: other padding, so
    # other float32 rounding (up to 1.5e-6 measured on an AVX-512 CPU); a row in the wrong
    # place would differ by about 0.1
    np.testing.assert_allclose(
        X[:4], encoder_cls(device="cpu").fit(TEXTS).transform(TEXTS), atol=1e-5
    )
    np.testing.assert_array_equal(X[3], X[4])


@pytest.mark.filterwarnings("ignore::embkit.TextTruncatedWarning")
@pytest.mark.parametrize(
    ("cls", "change"),
    [
        (TransformerEncoder, {"pooling": "cls"}),
        (TransformerEncoder, {"max_length": 4}),
    ],
)
def test_settings_that_change_vectors_invalidate(cls, change, tmp_path, model_calls):  # noqa: F811
    long = ["a text long enough to be truncated by a small max_length"]
    before = cls(device="cpu", cache=tmp_path).fit(long).transform(long)
    model_calls.reset()
    after = cls(device="cpu", cache=tmp_path, **change).fit(long).transform(long)
    assert model_calls.n == 1
    assert not np.allclose(before, after, atol=1e-3)
    np.testing.assert_allclose(after, cls(device="cpu", **change).fit(long).transform(long))


def test_settings_that_do_not_change_raw_vectors_share_entries(tmp_path, model_calls):  # noqa: F811
    SentenceEncoder(device="cpu", cache=tmp_path).fit(TEXTS).transform(TEXTS)
    model_calls.reset()
    enc = SentenceEncoder(device="cpu", cache=tmp_path, normalize=True, batch_size=2)
    X = enc.fit(TEXTS).transform(TEXTS)
    assert model_calls.n == 0  # normalisation runs after the cache
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-6)
    assert SentenceEncoder()._cache_kind != TransformerEncoder()._cache_kind


@pytest.mark.filterwarnings("ignore::embkit.TextTruncatedWarning")
def test_model_change_invalidates(tmp_path, model_path, model_calls):  # noqa: F811
    # Another model: the bundled weights behind a different sentence-transformers config
    # (max_seq_length 4), in a folder of symlinks to the bundled files.
    other = tmp_path / "other-model"
    shutil.copytree(model_path, other, symlinks=True, copy_function=_symlink)
    config = other / "sentence_bert_config.json"
    config.unlink()
    config.write_text('{"max_seq_length": 4, "do_lower_case": false}')
    assert model_identity(other) != model_identity("all-MiniLM-L6-v2")

    # the same files somewhere else are the same model: identity follows the contents
    twin = tmp_path / "twin"
    shutil.copytree(model_path, twin, symlinks=True, copy_function=_symlink)
    assert model_identity(twin) == model_identity(Path(model_path))

    long = ["a text long enough to be truncated after four tokens"]
    cache = tmp_path / "cache"
    base = SentenceEncoder(device="cpu", cache=cache).fit(long).transform(long)
    model_calls.reset()
    changed = SentenceEncoder(str(other), device="cpu", cache=cache).fit(long).transform(long)
    assert model_calls.n == 1
    assert not np.allclose(base, changed, atol=1e-3)
    model_calls.reset()
    SentenceEncoder(str(twin), device="cpu", cache=cache).fit(long).transform(long)
    assert model_calls.n == 0


def _symlink(src, dst):
    import os

    os.symlink(os.path.abspath(src), dst)


def test_model_identity_follows_file_changes(tmp_path, model_path):
    folder = tmp_path / "m"
    shutil.copytree(model_path, folder, symlinks=True, copy_function=_symlink)
    first = model_identity(folder)
    assert model_identity(folder) == first  # memoised and stable
    (folder / "config.json").unlink()
    original = (Path(model_path) / "config.json").read_text()
    (folder / "config.json").write_text(original + " ")
    assert model_identity(folder) != first


def test_corrupt_entry_is_recomputed_never_returned(encoder_cls, tmp_path, model_calls):  # noqa: F811
    enc = encoder_cls(device="cpu", cache=tmp_path).fit(TEXTS)
    good = enc.transform(TEXTS)
    cache = as_cache(tmp_path)
    key = EmbeddingCache.keys(enc._cache_namespace(), [TEXTS[1]])[0]
    conn = sqlite3.connect(cache.path)
    with conn:
        conn.execute(
            "UPDATE embeddings SET vector = zeroblob(length(vector)) WHERE key = ?", (key,)
        )
    conn.close()
    model_calls.reset()
    with pytest.warns(CacheDamagedWarning, match="failed their checksum"):
        again = enc.transform(TEXTS)
    assert model_calls.n == 1  # only the corrupt entry
    np.testing.assert_allclose(again, good, atol=1e-6)
    model_calls.reset()
    enc.transform(TEXTS)
    assert model_calls.n == 0  # and it was repaired on disk


def test_grid_search_runs_the_model_once_per_unique_text(tmp_path, model_calls):  # noqa: F811
    positive = ["what a lovely day", "i am so happy", "this is great", "wonderful news"]
    negative = ["what an awful day", "i am so sad", "this is terrible", "dreadful news"]
    texts = (positive + negative) * 2 + ["i am so happy", "dreadful news"]  # repeats
    labels = ["pos"] * 4 + ["neg"] * 4
    labels = labels * 2 + ["pos", "neg"]
    pipe = make_pipeline(SentenceEncoder(device="cpu", cache=tmp_path), LogisticRegression())
    grid = {"logisticregression__C": [0.1, 1.0, 10.0], "sentenceencoder__normalize": [False, True]}
    search = GridSearchCV(pipe, grid, cv=3).fit(texts, labels)
    assert sorted(model_calls.st_texts) == sorted(set(texts))
    assert search.best_estimator_.predict(["so happy today"]).tolist() == ["pos"]


def test_grid_search_without_cache_would_encode_again(model_calls, monkeypatch):  # noqa: F811
    # the control for the test above: the counter does see repeated work, once the
    # in-memory cache that encoders without cache= use is turned off
    texts = ["a", "b", "c", "d", "e", "f"]
    labels = ["x", "y"] * 3
    pipe = make_pipeline(SentenceEncoder(device="cpu"), LogisticRegression())
    monkeypatch.setenv("EMBKIT_MEMORY_CACHE_MB", "0")
    GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(texts, labels)
    assert len(model_calls.st_texts) > len(set(texts))


def test_grid_search_without_cache_runs_each_text_once_in_memory(model_calls):  # noqa: F811
    # a sweep fits a clone per candidate and fold: they share the process's memory cache
    texts = ["a", "b", "c", "d", "e", "f"]
    labels = ["x", "y"] * 3
    pipe = make_pipeline(SentenceEncoder(device="cpu"), LogisticRegression())
    search = GridSearchCV(pipe, {"logisticregression__C": [0.1, 1.0]}, cv=2).fit(texts, labels)
    assert sorted(model_calls.st_texts) == texts
    fresh = SentenceEncoder(device="cpu", cache=None).fit(texts)
    model_calls.reset()
    memory = search.best_estimator_[0].transform(texts)
    assert model_calls.n == 0
    from embkit.io.memory_cache import memory_cache

    memory_cache().clear()
    np.testing.assert_allclose(memory, fresh.transform(texts), atol=1e-6)
    assert model_calls.n == len(texts)  # cleared: the model ran again
