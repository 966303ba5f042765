"""The maildrop: numbering, UIDLs, marks, the Update state, the lock and the size cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.demoserver.mailbox import (
    LockTable,
    Maildrop,
    MessageCache,
    MessageDeleted,
    NoSuchMessage,
    default_uidl,
    scan,
    valid_uidl,
)

from .conftest import MSG_A, MSG_B, crlf, write_maildir


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_maildir(
        tmp_path / "md", {"b.2:2,S": MSG_B, "a.1": MSG_A, ".hidden": b"x\n", "c.3": b""}
    )


def test_uidl_rules() -> None:
    assert valid_uidl("a" * 70) and not valid_uidl("a" * 71)
    assert valid_uidl("../a/b!~") and not valid_uidl("") and not valid_uidl("a b")
    assert not valid_uidl("é")
    assert default_uidl(Path("cur/1.M2P3.host:2,FS")) == "1.M2P3.host"
    assert default_uidl(Path("new/1.M2P3.host")) == "1.M2P3.host"
    odd = default_uidl(Path("new/" + "x" * 80))
    assert valid_uidl(odd) and len(odd) == 40


def test_scan_orders_by_name_and_skips_hidden(root: Path) -> None:
    (root / "tmp" / "junk").write_bytes(b"not delivered\n")
    assert [Path(f).name for f in scan(root)] == ["a.1", "b.2:2,S", "c.3"]
    assert scan(root / "missing") == []


def test_maildrop_numbers_sizes_and_listings(root: Path) -> None:
    drop = Maildrop(root, MessageCache())
    assert [m.uidl for m in drop.messages] == ["a.1", "b.2", "c.3"]
    assert [m.size for m in drop.messages] == [len(crlf(MSG_A)), len(crlf(MSG_B)), 0]
    assert drop.stat() == (3, len(crlf(MSG_A)) + len(crlf(MSG_B)))
    assert drop.scan_listing() == b"1 %d\r\n2 %d\r\n3 0\r\n" % (
        len(crlf(MSG_A)),
        len(crlf(MSG_B)),
    )
    assert drop.uidl_listing() == b"1 a.1\r\n2 b.2\r\n3 c.3\r\n"
    first = drop.get(1)
    assert first.wire is not None and first.wire.endswith(b"\r\n.\r\n")
    for bad in (0, 4, -1):
        with pytest.raises(NoSuchMessage):
            drop.get(bad)


def test_custom_uidls_and_invalid_ones(root: Path) -> None:
    names = {"a.1": "../etc/passwd", "b.2:2,S": "x/y", "c.3": "bad uidl"}
    drop = Maildrop(root, MessageCache(), uidls=lambda p: names[p.name])
    uidls = [m.uidl for m in drop.messages]
    assert uidls[:2] == ["../etc/passwd", "x/y"]
    assert valid_uidl(uidls[2]) and uidls[2] != "bad uidl"


def test_marks_hide_messages_and_rset_restores(root: Path) -> None:
    drop = Maildrop(root, MessageCache())
    drop.mark(2)
    with pytest.raises(MessageDeleted):
        drop.get(2)
    with pytest.raises(MessageDeleted):
        drop.mark(2)
    assert drop.stat() == (2, len(crlf(MSG_A)))
    assert b"2 " not in drop.scan_listing() and b"b.2" not in drop.uidl_listing()
    drop.reset()
    assert drop.get(2).uidl == "b.2"
    assert b"2 b.2" in drop.uidl_listing()


def test_commit_removes_only_marked_files(root: Path) -> None:
    drop = Maildrop(root, MessageCache())
    drop.mark(1)
    drop.mark(3)
    (root / "new" / "c.3").unlink()  # already gone: still counts as removed
    assert drop.commit() == (["a.1", "c.3"], [])
    assert [Path(f).name for f in scan(root)] == ["b.2:2,S"]


def test_commit_reports_files_it_cannot_remove(root: Path) -> None:
    drop = Maildrop(root, MessageCache())
    drop.mark(1)
    (root / "new" / "a.1").unlink()
    (root / "new" / "a.1").mkdir()  # unlink() fails on a directory, even for root
    assert drop.commit() == ([], ["a.1"])


def test_lock_table() -> None:
    locks = LockTable()
    first, second = object(), object()
    assert locks.acquire("k", first)
    assert not locks.acquire("k", second)
    locks.release("k", second)  # not the owner: no effect
    assert locks.held("k")
    locks.release("k", first)
    assert not locks.held("k") and locks.acquire("k", second)


def test_cache_notices_changed_files(tmp_path: Path) -> None:
    path = str(tmp_path / "m")
    Path(path).write_bytes(b"a\n")
    cache = MessageCache()
    assert cache.lookup(path)[0].size == 3
    Path(path).write_bytes(b"a\nb\nc\n")
    assert cache.lookup(path)[0].size == 9
    cache.forget(path)
    assert cache.lookup(path)[1] == b"a\r\nb\r\nc\r\n.\r\n"


def test_cache_budget_and_large_files(tmp_path: Path) -> None:
    small, big = tmp_path / "s", tmp_path / "b"
    small.write_bytes(b"x\n" * 100)
    big.write_bytes(b"y\n" * 200_000)  # above the in-memory limit
    cache = MessageCache(budget=10)
    layout, wire = cache.lookup(str(small))
    assert wire is None and layout.size == 300
    layout, wire = cache.lookup(str(big))
    assert wire is None and layout.size == 600_000
