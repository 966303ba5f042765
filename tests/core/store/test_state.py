"""core.store.state: the account's SQLite bookkeeping (WAL, durable commits, schema version)."""

from __future__ import annotations

import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import StorageError
from core.store.state import SCHEMA_VERSION, AccountState, Delivering, StoredMessage


@pytest.fixture
def state(tmp_path: Path) -> Iterator[AccountState]:
    st = AccountState(tmp_path / "state" / "state.sqlite3")
    yield st
    st.close()


def test_new_database_is_wal_private_and_versioned(tmp_path: Path) -> None:
    path = tmp_path / "s" / "state.sqlite3"
    with AccountState(path) as st:
        assert st.schema_version() == SCHEMA_VERSION
        assert st._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        other.close()


def test_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer than this popfetch"):
        AccountState(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    db.close()


def test_unusable_location_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(StorageError):
        AccountState(tmp_path / "afile" / "state.sqlite3")


def test_stored_uidls_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with AccountState(path) as st:
        st.record_stored([StoredMessage("a/../b", "123.M1P1Q1.host", 42, 1.5)])
        assert st.is_stored("a/../b") and not st.is_stored("b")
    with AccountState(path) as st:
        assert st.stored_uidls() == {"a/../b"}
        assert st.stored("a/../b") == StoredMessage("a/../b", "123.M1P1Q1.host", 42, 1.5)
        assert st.stored("nope") is None


def test_partial_records_are_named_by_id_never_by_uidl(state: AccountState) -> None:
    a = state.new_partial("../../etc/passwd", 100)
    b = state.new_partial("x/y", 50)
    assert a.file_name == f"{a.id}.part" and b.file_name == f"{b.id}.part"
    assert a.id != b.id
    assert (a.wire_offset, a.file_len, a.size) == (0, 0, 100)
    state.update_partial("x/y", 30, 28)
    rec = state.partial("x/y")
    assert rec is not None and (rec.wire_offset, rec.file_len) == (30, 28)
    assert [r.uidl for r in state.partials()] == ["../../etc/passwd", "x/y"]
    dropped = state.drop_partial("x/y")
    assert dropped is not None and dropped.id == b.id
    assert state.partial("x/y") is None


def test_a_replaced_partial_gets_a_new_id(state: AccountState) -> None:
    first = state.new_partial("u", 10)
    state.update_partial("u", 5, 5)
    second = state.new_partial("u", 12)
    assert second.id != first.id and second.wire_offset == 0 and second.size == 12


def test_updating_an_unknown_partial_is_an_error(state: AccountState) -> None:
    with pytest.raises(StorageError, match="no partial download"):
        state.update_partial("ghost", 1, 1)


def test_marks_are_a_persistent_set(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with AccountState(path) as st:
        st.set_marks(["a", "b", "c"], True)
        st.set_marks(["a"], True)  # idempotent
        st.set_marks(["b"], False)
        assert st.marks() == {"a", "c"}
    with AccountState(path) as st:
        assert st.marks() == {"a", "c"}
        st.clear_marks(["c", "zzz"])
        assert st.marks() == {"a"}
        st.set_marks(["d", "e"], True)
        st.clear_marks()
        assert st.marks() == set()


def test_forget_drops_stored_marks_and_partials(state: AccountState) -> None:
    state.record_stored([StoredMessage("a", "n1", 1, 0.0), StoredMessage("b", "n2", 1, 0.0)])
    state.set_marks(["a", "b"], True)
    rec = state.new_partial("c", 10)
    dropped = state.forget(["a", "c"])
    assert [r.id for r in dropped] == [rec.id]
    assert state.stored_uidls() == {"b"}
    assert state.marks() == {"b"}
    assert state.partials() == []


def test_delivering_intents_become_stored_in_one_batch(state: AccountState) -> None:
    state.new_partial("p", 10)
    batch = state.begin_delivering(
        [Delivering("p", "n1", "/src/1", 10, 1.0), Delivering("q", "n2", "/src/2", 20, 1.0)]
    )
    other = state.begin_delivering([Delivering("r", "n3", "/src/3", 30, 1.0)])
    assert other != batch
    assert {d.uidl for d in state.delivering()} == {"p", "q", "r"}
    assert state.stored_uidls() == set()  # an intent is not a delivery
    dropped = state.finish_batch(batch)
    assert [r.uidl for r in dropped] == ["p"]
    assert state.stored_uidls() == {"p", "q"}
    stored_q = state.stored("q")
    assert stored_q is not None and (stored_q.name, stored_q.size) == ("n2", 20)
    assert state.partial("p") is None
    assert [d.uidl for d in state.delivering()] == ["r"]
    state.abandon_delivering(["r"])
    assert state.delivering() == [] and not state.is_stored("r")


def test_finish_delivering_by_uidl(state: AccountState) -> None:
    state.begin_delivering(
        [Delivering("a", "n1", "/s", 1, 0.0), Delivering("b", "n2", "/s", 1, 0.0)]
    )
    state.finish_delivering(["b"])
    assert state.stored_uidls() == {"b"}
    assert [d.uidl for d in state.delivering()] == ["a"]


def test_a_failed_transaction_changes_nothing(state: AccountState) -> None:
    state.set_marks(["keep"], True)
    with pytest.raises(StorageError), state._txn() as db:
        db.execute("INSERT INTO marks VALUES ('new', 0)")
        db.execute("INSERT INTO nosuchtable VALUES (1)")
    assert state.marks() == {"keep"}


def test_usable_from_several_threads_one_at_a_time(state: AccountState) -> None:
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(50):
                state.set_marks([f"{k}-{i}"], True)
                state.marks()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(state.marks()) == 200
