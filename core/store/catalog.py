"""What the store holds, read without the engine: the stored messages and their headers.

The app lists stored mail before (and without) a connection to the server. The account's
engine owns the store (an flock on its state directory), so this reads the state database
read-only (SQLite WAL lets a reader in beside the writer) and the headers of each stored
file, and never writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.pop3.headers import parse_headers
from core.store.maildir import Maildir

__all__ = ["HEADER_LIMIT", "StoredEntry", "read_catalog"]

HEADER_LIMIT = 64 * 1024  # octets of a file read for its headers


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One stored message: ``size`` in wire octets (as LIST counts them), ``path`` where the
    Maildir file is now (empty if a mail reader removed it), or for an account that
    delivers to a target, ``receipt``: where it went (``Receipt`` text) and no path."""

    uidl: str
    size: int
    path: str
    sender: str
    subject: str
    date: str
    stored_at: float = 0.0  # wall-clock time it was first stored (leave-on-server rules)
    receipt: str = ""


def _headers(path: Path) -> tuple[str, str, str]:
    try:
        with path.open("rb") as fh:
            head = fh.read(HEADER_LIMIT)
    except OSError:
        return "", "", ""
    end = head.find(b"\n\n")
    if end >= 0:
        head = head[: end + 1]
    headers = parse_headers(head)  # the list's own decoding, so both show the same text
    return headers.sender, headers.subject, headers.date


def read_catalog(maildir: Path | None, state_dir: Path) -> list[StoredEntry]:
    """Every message the store recorded as stored, oldest first; [] for a new account.
    ``maildir`` None: the account delivers to a target, and each entry has its receipt."""
    db_path = Path(state_dir) / "state.sqlite3"
    if not db_path.exists():
        return []
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10.0)
    try:
        rows = db.execute(
            "SELECT uidl, name, size, stored_at FROM stored ORDER BY stored_at").fetchall()
    except sqlite3.OperationalError:  # no table yet: nothing was ever stored
        rows = []
    finally:
        db.close()
    if maildir is None:
        return [StoredEntry(uidl, int(size), "", "", "", "", float(stored_at), receipt=name)
                for uidl, name, size, stored_at in rows]
    box = Maildir(Path(maildir), create=False) if Path(maildir).is_dir() else None
    out = []
    for uidl, name, size, stored_at in rows:
        where = box.locate(name) if box is not None else None
        sender, subject, date = _headers(where) if where is not None else ("", "", "")
        out.append(StoredEntry(uidl, int(size), str(where or ""), sender, subject, date,
                               float(stored_at)))
    return out
