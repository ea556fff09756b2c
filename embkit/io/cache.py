"""An on-disk embedding cache on SQLite (standard library), safe across processes.

Rows are keyed by a 16-byte BLAKE2b hash of (namespace, text), the namespace naming the
model identity and every setting that changes the vectors; each value carries a CRC-32 of
key and bytes, so a bad row is a miss, never returned. A damaged file is moved aside
(``<name>.corrupt``) with one :class:`CacheDamagedWarning` and the cache starts afresh.
WAL mode and a busy timeout let processes share a file; reads and writes are batched. The
guarantees are in ``docs/reliability.md``, the storage choices in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import warnings
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from embkit.io._sqlite import SCHEMA_VERSION, TIMEOUT_S, prepare_with_retry

__all__ = ["CacheDamagedWarning", "EmbeddingCache"]

_FILE_NAME = "embeddings.sqlite3"
_FILE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_CHUNK = 900  # keys per SELECT; below SQLite's oldest limit of 999 host parameters
# SQLite's primary result codes for a damaged file: SQLITE_CORRUPT, SQLITE_NOTADB
_DAMAGED_CODES = (11, 26)


class CacheDamagedWarning(UserWarning):
    """The embedding cache was damaged; the bad entries or file were dropped and are rebuilt."""


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _DAMAGED_CODES
    text = str(exc).lower()  # pragma: no cover - Python without error codes
    return "malformed" in text or "not a database" in text


def _refuse_read_only(path: Path, exc: sqlite3.DatabaseError) -> None:
    """Raise the error for a write SQLite refused because the file or its folder is read-only."""
    if (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_READONLY:  # or variant
        raise ValueError(
            f"the embedding cache {path} cannot be written ({exc}): fix the permissions of "
            "the file and its folder, or point cache= (--cache) at a writable folder"
        ) from exc


def _checksum(key: bytes, blob: bytes) -> int:
    """CRC-32 of key and vector bytes: catches truncation and bit rot, not tampering."""
    return zlib.crc32(blob, zlib.crc32(key))


class EmbeddingCache:
    """Embedding vectors on disk, keyed by (namespace, text).

    Parameters
    ----------
    path : str or path-like
        A directory (created when needed; the database is ``embeddings.sqlite3`` inside
        it) or a file name ending in ``.sqlite``, ``.sqlite3`` or ``.db``.

    Attributes
    ----------
    path : pathlib.Path
        The database file.
    hits, misses, corrupt : int
        Texts found, not found, and found but failing their checksum, since creation.

    Notes
    -----
    A cache pickles as its path only. One connection per process, shared by its threads
    behind a lock.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     cache = EmbeddingCache(folder)
    ...     cache.set_many("demo", ["a", "b"], np.eye(2, 3, dtype=np.float32))
    ...     found, vectors = cache.get_many("demo", ["b", "c"], dim=3)
    ...     cache.close()
    >>> found.tolist(), vectors.tolist()
    ([0], [[0.0, 1.0, 0.0]])
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder or file path, got {type(path).__name__}")
        path = Path(path).expanduser()
        if path.suffix.lower() not in _FILE_SUFFIXES:
            path = path / _FILE_NAME
        self.path = path
        self.hits = 0
        self.misses = 0
        self.corrupt = 0
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        self._inode: int | None = None
        self._warned = False

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.path)!r})"

    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmbeddingCache) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    # -- connection -------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        """The process's connection, opened on first use (a damaged file is set aside)."""
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        try:
            return self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            self._set_aside(exc)
        return self._open()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._inode = _inode(self.path)  # the file this connection is about to use
            conn = sqlite3.connect(
                self.path, timeout=TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.OperationalError) as exc:  # a file in the way, a folder, rights
            raise ValueError(
                f"cannot use {self.path} as the embedding cache ({exc}); cache= (--cache) takes a "
                f"writable folder or a file name ending in {', '.join(_FILE_SUFFIXES)}"
            ) from exc
        try:
            version = prepare_with_retry(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            if _is_damage(exc):
                raise  # set aside by _connect
            _refuse_read_only(self.path, exc)
            raise ValueError(
                f"{self.path} is not a usable embedding cache ({exc}); delete it to start afresh"
            ) from exc
        if version != SCHEMA_VERSION:
            conn.close()
            raise ValueError(
                f"{self.path} has cache schema {version}, this embkit writes schema "
                f"{SCHEMA_VERSION}; delete it or use another folder"
            )
        self._conn, self._pid = conn, os.getpid()
        self._inode = _inode(self.path)  # set now if the file was just created
        return conn

    def _set_aside(self, exc: BaseException) -> None:
        """Move a damaged database aside (once per damaged file) and forget the connection."""
        if self._conn is not None and self._pid == os.getpid():
            try:
                self._conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass
        self._conn = None
        current = _inode(self.path)
        # another process (or object) may have replaced the file already: then just reopen
        if current is not None and (self._inode is None or current == self._inode):
            aside = self.path.with_name(self.path.name + ".corrupt")
            os.replace(self.path, aside)
            for suffix in ("-wal", "-shm"):  # they belong to the damaged file
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self._report(
                f"the embedding cache {self.path} is damaged ({exc}); it was moved to {aside} "
                "(safe to delete) and an empty cache was started: vectors will be recomputed"
            )
        self._inode = None

    def _report(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(CacheDamagedWarning(message), stacklevel=4)

    def _run(self, work: Any, default: Any = None) -> Any:
        """``work(conn)`` under the lock; on a damaged file, rebuild and return ``default``."""
        with self._lock:
            try:
                return work(self._connect())
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    _refuse_read_only(self.path, exc)
                    raise
                self._set_aside(exc)
                self._connect()
                return default

    def close(self) -> None:
        """Close this process's connection (the next use reopens it)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    # -- keys ---------------------------------------------------------------------------
    @staticmethod
    def keys(namespace: str, texts: Sequence[str]) -> list[bytes]:
        """The 16-byte keys of ``texts`` in ``namespace``.

        Examples
        --------
        >>> [len(k) for k in EmbeddingCache.keys("ns", ["a", "b"])]
        [16, 16]
        """
        texts = _check_namespace_texts(namespace, texts)
        base = hashlib.blake2b(digest_size=16, person=b"embkit-cache-v1")
        base.update(namespace.encode("utf-8") + b"\0")
        keys = []
        for text in texts:
            h = base.copy()
            h.update(text.encode("utf-8", "surrogatepass"))
            keys.append(h.digest())
        return keys

    # -- reads and writes -----------------------------------------------------------------
    def get_many(
        self, namespace: str, texts: Sequence[str], dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Look ``texts`` up.

        Parameters
        ----------
        namespace : str
            Model identity and settings; vectors of other namespaces are never returned.
        texts : sequence of str
        dim : int
            The expected vector length; a stored vector of another length is corrupt.

        Returns
        -------
        found : ndarray of int, shape (n_found,)
            Positions in ``texts`` that were found intact, ascending.
        vectors : ndarray of float32, shape (n_found, dim)
            Their vectors, in the order of ``found``.
        """
        from embkit._core.validation import check_positive_int

        texts = _check_namespace_texts(namespace, texts)
        dim = check_positive_int(dim, "dim")  # a wrong length would read as damage
        keys = self.keys(namespace, texts)
        unique = list(dict.fromkeys(keys))
        read = self._run(lambda conn: _read_rows(conn, unique, 4 * dim), default=None)
        row, buffer, bad = ({}, bytearray(), 0) if read is None else read  # None: rebuilt
        if bad:
            self.corrupt += bad
            self._report(
                f"{bad} entries of the embedding cache {self.path} failed their checksum; "
                "they are treated as missing and recomputed"
            )
        found = np.fromiter((i for i, k in enumerate(keys) if k in row), dtype=np.intp, count=-1)
        vectors = np.frombuffer(buffer, dtype=np.float32).reshape(len(row), dim)  # writable
        if len(found) > len(row):  # repeated texts: a row for each
            vectors = vectors[[row[keys[i]] for i in found]]
        self.hits += len(found)
        self.misses += len(keys) - len(found)
        return found, vectors

    def set_many(self, namespace: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store ``vectors`` (one row per text), replacing any entry under the same key.

        Parameters
        ----------
        namespace : str
        texts : sequence of str
        vectors : array-like of shape (len(texts), dim)
            Stored as float32.
        """
        texts = _check_namespace_texts(namespace, texts)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise ValueError(f"vectors must have shape ({len(texts)}, dim), got {vectors.shape}")
        if not np.all(np.isfinite(vectors)):
            raise ValueError("vectors contain NaN or infinity; they are not cached")
        keys = self.keys(namespace, texts)
        rows = []
        for key, row in zip(keys, vectors, strict=True):
            blob = row.tobytes()
            rows.append((key, blob, _checksum(key, blob)))

        def write(conn: sqlite3.Connection) -> bool:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)", rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return True

        if not self._run(write, default=False):  # the file was damaged and rebuilt
            self._run(write)

    def __len__(self) -> int:
        (n,) = self._run(
            lambda conn: conn.execute("SELECT COUNT(*) FROM embeddings").fetchone(), default=(0,)
        )
        return int(n)

    def clear(self) -> None:
        """Remove every stored vector (and the recorded widths)."""
        self._run(lambda conn: conn.execute("DELETE FROM embeddings"))
        self._run(lambda conn: conn.execute("DELETE FROM meta WHERE name LIKE 'width:%'"))

    def get_width(self, namespace: str) -> int | None:
        """The vector length :meth:`set_width` recorded for ``namespace``, or ``None``.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     cache = EmbeddingCache(folder)
        ...     cache.set_width("demo", 384)
        ...     print(cache.get_width("demo"), cache.get_width("other"))
        ...     cache.close()
        384 None
        """
        key = (_width_key(namespace),)
        sql = "SELECT value FROM meta WHERE name = ?"
        row = self._run(lambda conn: conn.execute(sql, key).fetchone())
        return int(row[0]) if row and str(row[0]).isdigit() else None

    def set_width(self, namespace: str, width: int) -> None:
        """Record the vector length of ``namespace``: an encoder whose texts are all cached
        then needs no model at all (its ``fit`` reads the width here)."""
        row = (_width_key(namespace), str(int(width)))
        self._run(lambda conn: conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", row))


def _read_rows(
    conn: sqlite3.Connection, unique: list[bytes], size: int
) -> tuple[dict[bytes, int], bytearray, int]:
    """Read the stored vectors of the distinct keys ``unique`` (``size`` bytes each).

    Returns the row of each key found intact, the buffer of their bytes in the order of
    ``unique``, and the number of rows that failed their checksum or have another length.
    Each row's bytes are appended to the one buffer as it is read, so the peak is about the
    vectors returned (no list of rows, no copy to join them).
    """
    row: dict[bytes, int] = {}
    buffer, bad = bytearray(), 0
    for start in range(0, len(unique), _CHUNK):
        chunk = unique[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        intact = {}
        for key, blob, checksum in conn.execute(
            f"SELECT key, vector, checksum FROM embeddings WHERE key IN ({marks})", chunk
        ):
            if isinstance(blob, bytes) and len(blob) == size and checksum == _checksum(key, blob):
                intact[key] = blob
            else:
                bad += 1
        for key in chunk:  # in the order of the keys (SQLite returns them in its own)
            if key in intact:
                row[key] = len(row)
                buffer += intact[key]
    return row, buffer, bad


def _width_key(namespace: str) -> str:
    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
    return "width:" + hashlib.blake2b(namespace.encode("utf-8"), digest_size=16).hexdigest()


def _check_namespace_texts(namespace: Any, texts: Any) -> list[str]:
    from embkit._core.validation import check_texts

    if not isinstance(namespace, str):
        raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
    return check_texts(texts, name="texts")


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


_shared_caches: dict[Path, EmbeddingCache] = {}
_shared_lock = threading.Lock()


def as_cache(cache: Any) -> EmbeddingCache | None:
    """Turn an encoder's ``cache`` parameter into a cache object (or ``None``).

    A path gives the process-wide :class:`EmbeddingCache` for that file, so every clone of
    an encoder shares one connection; a cache object is used as it is.

    Examples
    --------
    >>> as_cache(None) is None
    True
    >>> as_cache("/tmp/some-folder") is as_cache("/tmp/some-folder/")
    True
    """
    if cache is None or isinstance(cache, EmbeddingCache):
        return cache
    if not isinstance(cache, (str, os.PathLike)):
        raise TypeError(
            "cache must be None, a directory or file path, or an EmbeddingCache, "
            f"got {type(cache).__name__} ({cache!r})"
        )
    path = EmbeddingCache(cache).path.absolute()
    with _shared_lock:
        shared = _shared_caches.get(path)
        if shared is None:
            shared = _shared_caches[path] = EmbeddingCache(path)
        return shared
