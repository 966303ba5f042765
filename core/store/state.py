"""An account's bookkeeping in SQLite: what is stored, what is half-fetched, what is marked.

SQLite in WAL mode with ``synchronous=FULL``: every committed transaction is durable
before the call returns, and a crash at any point leaves the last committed state.
That is what the store's ordering relies on (a partial's offset is committed only after
its bytes are fsynced; a "delivering" intent is committed before the rename into the
Maildir, so reconciliation on the next open knows which renames may have happened).

Tables (schema version in ``PRAGMA user_version``):

- ``stored``: UIDLs delivered to the Maildir (file name, wire size, time). A UIDL is
  never stored twice.
- ``partials``: one per message being fetched: LIST size, wire octets accounted for,
  length of the LF file holding them. The file is ``<id>.part``; names never come
  from UIDLs.
- ``marks``: the user's deletion intent, by UIDL, kept across sessions and drops.
- ``delivering``: the rename into ``new/`` that may or may not have happened.

Thread-safety: one connection, shared by whichever thread calls (the engine uses it from
its worker thread); a lock serialises calls, so an occasional read from another thread
(a GUI asking ``stored_uidls()``) is safe, but nothing here runs concurrently.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from core.errors import StorageError

__all__ = ["AccountState", "Delivering", "PartialRecord", "StoredMessage"]

SCHEMA_VERSION = 1

_SCHEMA_V1 = """
CREATE TABLE stored (
    uidl TEXT PRIMARY KEY,
    name TEXT NOT NULL,          -- Maildir base name (without the ":2,..." info)
    size INTEGER NOT NULL,       -- wire octets received (CRLF form, comparable with LIST)
    stored_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE partials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,   -- the file is partial/<id>.part
    uidl TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,                  -- LIST size
    wire_offset INTEGER NOT NULL DEFAULT 0, -- wire octets whose LF form is durably in the file
    file_len INTEGER NOT NULL DEFAULT 0,    -- bytes of the file that hold them
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE marks (
    uidl TEXT PRIMARY KEY,
    marked_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE delivering (
    uidl TEXT PRIMARY KEY,
    name TEXT NOT NULL,          -- the name it gets in new/
    source TEXT NOT NULL,        -- the file renamed into new/ (partial or tmp/ file)
    size INTEGER NOT NULL,
    started_at REAL NOT NULL,
    batch INTEGER NOT NULL       -- one id per begin_delivering() call
) WITHOUT ROWID;
CREATE INDEX delivering_batch ON delivering (batch);
"""

# Index i upgrades version i to i + 1 (version 0 = empty database).
_MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1,)


@dataclass(frozen=True, slots=True)
class StoredMessage:
    uidl: str
    name: str
    size: int
    stored_at: float


@dataclass(frozen=True, slots=True)
class PartialRecord:
    id: int
    uidl: str
    size: int
    wire_offset: int
    file_len: int
    started_at: float
    updated_at: float

    @property
    def file_name(self) -> str:
        return f"{self.id}.part"


@dataclass(frozen=True, slots=True)
class Delivering:
    uidl: str
    name: str
    source: str
    size: int
    started_at: float


class AccountState:
    """The SQLite state of one account (see the module docstring for the guarantees)."""

    def __init__(self, db_path: Path) -> None:
        self.path = Path(db_path)
        self._lock = threading.RLock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
        except OSError as exc:
            raise StorageError(f"cannot create the state database {self.path}: {exc}") from exc
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a transaction
            # is exactly what the code says. check_same_thread=False: the lock guards it.
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the state database {self.path}: {exc}") from exc
        try:
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"state database {self.path}: WAL mode unavailable ({mode})")
            self._db.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"cannot use the state database {self.path}: {exc}") from exc
        except BaseException:
            self._db.close()
            raise

    # -- plumbing ----------------------------------------------------------------------

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"state database {self.path} has schema {version}, newer than this "
                f"popfetch understands ({SCHEMA_VERSION}); refusing to touch it"
            )
        while version < SCHEMA_VERSION:
            with self._txn() as db:
                db.executescript_in_txn(_MIGRATIONS[version])
                version += 1
                db.execute(f"PRAGMA user_version={version}")

    @contextlib.contextmanager
    def _txn(self) -> Iterator[_Txn]:
        """One IMMEDIATE transaction; any SQLite failure becomes a StorageError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StorageError(f"state database {self.path}: {exc}") from exc
            try:
                yield _Txn(self._db)
                self._db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StorageError(f"state database {self.path}: {exc}") from exc
                raise

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._db.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StorageError(f"state database {self.path}: {exc}") from exc

    def schema_version(self) -> int:
        return int(self._query("PRAGMA user_version")[0][0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> AccountState:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- stored messages ---------------------------------------------------------------

    def is_stored(self, uidl: str) -> bool:
        return bool(self._query("SELECT 1 FROM stored WHERE uidl = ?", (uidl,)))

    def stored_uidls(self) -> set[str]:
        return {str(row[0]) for row in self._query("SELECT uidl FROM stored")}

    def stored(self, uidl: str) -> StoredMessage | None:
        rows = self._query("SELECT uidl, name, size, stored_at FROM stored WHERE uidl = ?", (uidl,))
        return StoredMessage(*rows[0]) if rows else None

    def record_stored(self, messages: Iterable[StoredMessage]) -> None:
        """Record deliveries directly (without an intent): for imports and tests."""
        rows = [(m.uidl, m.name, m.size, m.stored_at) for m in messages]
        with self._txn() as db:
            db.executemany("INSERT OR REPLACE INTO stored VALUES (?, ?, ?, ?)", rows)

    def forget(self, uidls: Iterable[str]) -> list[PartialRecord]:
        """The server confirmed these are deleted: drop their stored entry, mark and
        partial record. Returns the dropped partial records (their files are the caller's)."""
        keys = [(u,) for u in uidls]
        with self._txn() as db:
            dropped = self._partial_rows(keys)
            db.executemany("DELETE FROM stored WHERE uidl = ?", keys)
            db.executemany("DELETE FROM marks WHERE uidl = ?", keys)
            db.executemany("DELETE FROM partials WHERE uidl = ?", keys)
        return dropped

    # -- partial downloads -------------------------------------------------------------

    _PARTIAL_COLS = "id, uidl, size, wire_offset, file_len, started_at, updated_at"

    def _partial_row(self, uidl: str) -> PartialRecord | None:
        row = self._db.execute(
            f"SELECT {self._PARTIAL_COLS} FROM partials WHERE uidl = ?", (uidl,)
        ).fetchone()
        return PartialRecord(*row) if row else None

    def _partial_rows(self, keys: list[tuple[str]]) -> list[PartialRecord]:
        """The partial records of these UIDLs (inside a transaction the caller holds)."""
        rows = (self._partial_row(uidl) for (uidl,) in keys)
        return [rec for rec in rows if rec is not None]

    def partial(self, uidl: str) -> PartialRecord | None:
        rows = self._query(f"SELECT {self._PARTIAL_COLS} FROM partials WHERE uidl = ?", (uidl,))
        return PartialRecord(*rows[0]) if rows else None

    def partials(self) -> list[PartialRecord]:
        rows = self._query(f"SELECT {self._PARTIAL_COLS} FROM partials ORDER BY id")
        return [PartialRecord(*row) for row in rows]

    def new_partial(self, uidl: str, size: int) -> PartialRecord:
        """Start a partial at offset 0 (an existing record for the UIDL is replaced)."""
        now = time.time()
        with self._txn() as db:
            db.execute("DELETE FROM partials WHERE uidl = ?", (uidl,))
            db.execute(
                "INSERT INTO partials (uidl, size, wire_offset, file_len, started_at, updated_at)"
                " VALUES (?, ?, 0, 0, ?, ?)",
                (uidl, size, now, now),
            )
            rec = self._partial_row(uidl)
        assert rec is not None
        return rec

    def update_partial(
        self, uidl: str, wire_offset: int, file_len: int, *, size: int | None = None
    ) -> None:
        """Record that the file durably holds ``file_len`` bytes for ``wire_offset`` octets."""
        with self._txn() as db:
            if size is None:
                cur = db.execute(
                    "UPDATE partials SET wire_offset = ?, file_len = ?, updated_at = ?"
                    " WHERE uidl = ?",
                    (wire_offset, file_len, time.time(), uidl),
                )
            else:
                cur = db.execute(
                    "UPDATE partials SET wire_offset = ?, file_len = ?, size = ?, updated_at = ?"
                    " WHERE uidl = ?",
                    (wire_offset, file_len, size, time.time(), uidl),
                )
            if cur.rowcount != 1:
                raise StorageError(f"no partial download recorded for UIDL {uidl!r}")

    def drop_partial(self, uidl: str) -> PartialRecord | None:
        with self._txn() as db:
            rec = self._partial_row(uidl)
            db.execute("DELETE FROM partials WHERE uidl = ?", (uidl,))
        return rec

    # -- deletion marks ----------------------------------------------------------------

    def marks(self) -> set[str]:
        return {str(row[0]) for row in self._query("SELECT uidl FROM marks")}

    def set_marks(self, uidls: Iterable[str], marked: bool) -> None:
        keys = [(u,) for u in uidls]
        with self._txn() as db:
            if marked:
                now = time.time()
                db.executemany(
                    "INSERT OR IGNORE INTO marks VALUES (?, ?)", [(u, now) for (u,) in keys]
                )
            else:
                db.executemany("DELETE FROM marks WHERE uidl = ?", keys)

    def clear_marks(self, uidls: Iterable[str] | None = None) -> None:
        """Unmark ``uidls``, or every mark when None."""
        if uidls is not None:
            self.set_marks(uidls, False)
            return
        with self._txn() as db:
            db.execute("DELETE FROM marks")

    # -- delivering intents ------------------------------------------------------------

    def begin_delivering(self, intents: Iterable[Delivering]) -> int:
        """Commit "about to rename ``source`` to ``new/name``" before doing it.

        Returns the batch id that :meth:`finish_batch` settles in one go.
        """
        with self._txn() as db:
            batch = int(
                db.execute("SELECT COALESCE(MAX(batch), 0) + 1 FROM delivering").fetchone()[0]
            )
            db.executemany(
                "INSERT OR REPLACE INTO delivering VALUES (?, ?, ?, ?, ?, ?)",
                ((d.uidl, d.name, d.source, d.size, d.started_at, batch) for d in intents),
            )
        return batch

    def delivering(self) -> list[Delivering]:
        rows = self._query("SELECT uidl, name, source, size, started_at FROM delivering")
        return [Delivering(*row) for row in rows]

    def finish_batch(self, batch: int) -> list[PartialRecord]:
        """The renames of ``batch`` happened and are durable: its intents become stored
        UIDLs and their partial records go, in one transaction. Returns those records
        (their files are the caller's to remove)."""
        now = time.time()
        with self._txn() as db:
            rows = db.execute(
                f"SELECT {self._PARTIAL_COLS} FROM partials WHERE uidl IN"
                " (SELECT uidl FROM delivering WHERE batch = ?)",
                (batch,),
            ).fetchall()
            db.execute(
                "INSERT OR REPLACE INTO stored (uidl, name, size, stored_at)"
                " SELECT uidl, name, size, ? FROM delivering WHERE batch = ?",
                (now, batch),
            )
            db.execute(
                "DELETE FROM partials WHERE uidl IN (SELECT uidl FROM delivering WHERE batch = ?)",
                (batch,),
            )
            db.execute("DELETE FROM delivering WHERE batch = ?", (batch,))
        return [PartialRecord(*row) for row in rows]

    def finish_delivering(self, uidls: Iterable[str]) -> list[PartialRecord]:
        """Like :meth:`finish_batch`, for chosen UIDLs (reconciliation)."""
        keys = [(u,) for u in uidls]
        now = time.time()
        with self._txn() as db:
            dropped = self._partial_rows(keys)
            db.executemany(
                "INSERT OR REPLACE INTO stored (uidl, name, size, stored_at)"
                " SELECT uidl, name, size, ? FROM delivering WHERE uidl = ?",
                [(now, u) for (u,) in keys],
            )
            db.executemany("DELETE FROM partials WHERE uidl = ?", keys)
            db.executemany("DELETE FROM delivering WHERE uidl = ?", keys)
        return dropped

    def abandon_delivering(self, uidls: Iterable[str]) -> None:
        """The renames did not happen: forget the intents (partials stay)."""
        keys = [(u,) for u in uidls]
        with self._txn() as db:
            db.executemany("DELETE FROM delivering WHERE uidl = ?", keys)


class _Txn:
    """The connection as seen inside a transaction (keeps COMMIT/ROLLBACK in ``_txn``)."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, params: Iterable[object] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> sqlite3.Cursor:
        return self._db.executemany(sql, rows)

    def executescript_in_txn(self, script: str) -> None:
        # executescript() would COMMIT first; run statement by statement instead.
        for statement in script.split(";"):
            if statement.strip():
                self._db.execute(statement)
