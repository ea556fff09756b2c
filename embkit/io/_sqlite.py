"""Opening an embedding-cache database: the schema, WAL mode and the busy timeout, retried
while another process is creating the same file (see :mod:`embkit.io.cache`)."""

from __future__ import annotations

import sqlite3
import time

__all__ = ["SCHEMA_VERSION", "TIMEOUT_S", "prepare_with_retry"]

SCHEMA_VERSION = "1"
TIMEOUT_S = 60.0


def _prepare(conn: sqlite3.Connection) -> str:
    """Set the connection up and make the schema; return the file's schema version."""
    conn.execute(f"PRAGMA busy_timeout = {int(TIMEOUT_S * 1000)}")
    # larger pages suit ~1.5 KB vectors (no overflow pages); only on a new file, before WAL
    conn.execute("PRAGMA page_size = 16384")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS embeddings ("
        " key BLOB PRIMARY KEY, vector BLOB NOT NULL, checksum INTEGER NOT NULL)"
    )
    conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
    conn.execute("COMMIT")
    (version,) = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    return version


def prepare_with_retry(conn: sqlite3.Connection) -> str:
    """``_prepare``, retried for up to the busy timeout while another process holds the lock.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers "locked" at once,
    without the busy timeout, while another process creates the same file.
    """
    deadline = time.monotonic() + TIMEOUT_S
    pause = 0.01
    while True:
        try:
            return _prepare(conn)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
