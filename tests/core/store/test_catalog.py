"""core.store.catalog: the stored messages listed beside a live Store, read-only."""

from __future__ import annotations

from pathlib import Path

from core.store.catalog import read_catalog
from core.store.local import Store


def _mail(subject: str, body: bytes = b"hello\r\n") -> bytes:
    return (f"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\nSubject: {subject}\r\n"
            "Date: Mon, 2 Nov 2026 08:00:00 +0000\r\n\r\n").encode() + body


def test_a_new_account_has_an_empty_catalog(tmp_path: Path) -> None:
    assert read_catalog(tmp_path / "Mail", tmp_path / "state") == []


def test_stored_messages_are_listed_with_headers_while_the_store_is_open(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "Mail", tmp_path / "state")  # holds the lock, as the engine does
    try:
        paths = store.deliver_batch([("u1", _mail("first")), ("u2", _mail("second"))])
        entries = read_catalog(tmp_path / "Mail", tmp_path / "state")
    finally:
        store.close()
    assert [e.uidl for e in entries] == ["u1", "u2"]
    first = entries[0]
    assert first.subject == "first" and "j@example.org" in first.sender
    assert first.date.startswith("Mon, 2 Nov 2026")
    assert first.path == str(paths[0])
    assert first.size == len(_mail("first"))  # wire octets, as LIST counts them


def test_a_file_removed_by_a_mail_reader_is_listed_without_a_path(tmp_path: Path) -> None:
    with Store(tmp_path / "Mail", tmp_path / "state") as store:
        (path,) = store.deliver_batch([("u1", _mail("gone"))])
    path.unlink()
    (entry,) = read_catalog(tmp_path / "Mail", tmp_path / "state")
    assert entry.uidl == "u1" and entry.path == "" and entry.subject == ""
