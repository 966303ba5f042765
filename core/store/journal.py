"""The in-flight journal of deliveries to a target, and :class:`Delivery` that keeps it.

The journal (:class:`DeliveryJournal`, ``deliveries.sqlite3`` in the account's state
directory) makes a crash between "the target took it" and "the engine recorded it" harmless:

1. before delivering, commit an *in-flight* record with the target's hint (the Maildir
   file name, the mbox offset, the IMAP UIDVALIDITY and a UIDNEXT lower bound);
2. deliver; 3. commit *delivered* with the receipt; 4. the engine records the UIDL stored.

A crash after 3 finds the receipt (nothing is delivered again). A crash between 1 and 3
makes :class:`Delivery` ask the target (:meth:`~core.store.targets.Target.find`) whether
the message arrived before delivering it again. Targets that cannot look (an MDA, LMTP)
deliver again: a duplicate is the lesser harm than a lost message, and the window is one
SQLite commit.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import DeliveryError, StorageError
from core.store.targets import Message, Outcome, Receipt, Target

__all__ = ["Delivery", "DeliveryJournal", "journal_for"]


# -- the journal -------------------------------------------------------------------------------

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    uidl TEXT PRIMARY KEY,
    target TEXT NOT NULL,        -- the target's url when the delivery began
    state TEXT NOT NULL CHECK (state IN ('in-flight', 'delivered')),
    hint TEXT NOT NULL,          -- what Target.find needs after a crash
    receipt TEXT,                -- where it went (state 'delivered')
    updated_at REAL NOT NULL
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    uidl: str
    target: str
    state: str
    hint: str
    receipt: Receipt | None


class DeliveryJournal:
    """In-flight and delivered records by UIDL, in SQLite (WAL, synchronous=FULL: a
    commit is durable on return). A file of its own beside the account state, so
    delivery bookkeeping never contends with the engine's transactions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_JOURNAL_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the delivery journal {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise StorageError(f"delivery journal {self.path}: {exc}") from exc

    def begin(self, target: str, items: Sequence[tuple[str, str]]) -> None:
        """Commit in-flight records ``(uidl, hint)`` for ``target``."""
        now = time.time()
        self._write(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, 'in-flight', ?, NULL, ?)",
            [(uidl, target, hint, now) for uidl, hint in items],
        )

    def delivered(self, items: Sequence[tuple[str, Receipt]]) -> None:
        """Commit receipts: these UIDLs are durably at their target."""
        now = time.time()
        self._write(
            "UPDATE deliveries SET state = 'delivered', receipt = ?, updated_at = ?"
            " WHERE uidl = ?",
            [(str(receipt), now, uidl) for uidl, receipt in items],
        )

    def abandon(self, uidls: Sequence[str]) -> None:
        """The target refused these: no longer in flight."""
        self._write(
            "DELETE FROM deliveries WHERE uidl = ? AND state = 'in-flight'",
            [(u,) for u in uidls],
        )

    def forget(self, uidls: Sequence[str]) -> None:
        """The server deleted these (QUIT +OK): their records go."""
        self._write("DELETE FROM deliveries WHERE uidl = ?", [(u,) for u in uidls])

    def entry(self, uidl: str) -> JournalEntry | None:
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT uidl, target, state, hint, receipt FROM deliveries WHERE uidl = ?",
                    (uidl,),
                ).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"delivery journal {self.path}: {exc}") from exc
        if row is None:
            return None
        receipt = Receipt.parse(row[4]) if row[4] is not None else None
        return JournalEntry(row[0], row[1], row[2], row[3], receipt)

    def receipts(self) -> dict[str, Receipt]:
        """Every delivered UIDL and where it went (for the message list)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uidl, receipt FROM deliveries WHERE state = 'delivered'"
            ).fetchall()
        return {str(u): Receipt.parse(str(r)) for u, r in rows}


class Delivery:
    """A target plus the journal: deliver by UIDL, never twice (see the module docstring)."""

    def __init__(self, target: Target, journal: DeliveryJournal) -> None:
        self.target = target
        self.journal = journal

    def deliver(self, uidl: str, message: Message) -> Receipt:
        """Deliver one message; raises its DeliveryError."""
        outcome = self.deliver_many([(uidl, message)])[0]
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome

    def deliver_many(self, items: Sequence[tuple[str, Message]]) -> list[Outcome]:
        """Deliver a batch (two journal commits for all of it); an outcome per item.

        A UIDL already delivered returns its old receipt; one left in flight by a crash is
        looked for in the target first.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        todo: list[int] = []
        for i, (uidl, message) in enumerate(items):
            entry = self.journal.entry(uidl)
            if entry is not None and entry.receipt is not None:
                outcomes[i] = entry.receipt
            elif entry is not None and entry.target == self.target.url and self.target.can_look:
                found = self.target.find(message, entry.hint)
                if found is not None:
                    self.journal.delivered([(uidl, found)])
                    outcomes[i] = found
                else:
                    todo.append(i)
            else:
                todo.append(i)
        if todo:
            messages = [items[i][1] for i in todo]
            hints = self.target.prepare(messages)
            self.journal.begin(
                self.target.url, [(items[i][0], h) for i, h in zip(todo, hints, strict=True)]
            )
            results = self.target.deliver_many(messages, hints)
            done = [
                (items[i][0], r)
                for i, r in zip(todo, results, strict=True)
                if isinstance(r, Receipt)
            ]
            if done:
                self.journal.delivered(done)
            failed = [
                items[i][0]
                for i, r in zip(todo, results, strict=True)
                if isinstance(r, DeliveryError)
            ]
            if failed:
                self.journal.abandon(failed)
            for i, r in zip(todo, results, strict=True):
                outcomes[i] = r
        return [o for o in outcomes if o is not None]

    def close(self) -> None:
        try:
            self.target.close()
        finally:
            self.journal.close()



def journal_for(state_dir: Path) -> DeliveryJournal:
    """The account's delivery journal (``state_dir/deliveries.sqlite3``)."""
    return DeliveryJournal(Path(state_dir) / "deliveries.sqlite3")
