"""core.store.local: opening and resuming partials, size checks, delivery with crash
reconciliation, batches, errors. What a partial does while receiving (CRLF->LF on the
fly, checkpoints, verified restart) is in test_partial.py."""

from __future__ import annotations

import contextlib
import errno
import itertools
import mailbox
import os
import re
import threading
from pathlib import Path

import pytest

from core.errors import MessageIntegrityError, StorageError
from core.store.local import Store
from core.store.maildir import Maildir
from core.store.state import AccountState
from tests.core.store.test_maildir import read_only
from tests.support.store import LF, MESSAGE, new_files, reopen, write_in_chunks


class Crash(BaseException):
    """Stands for the process dying at that point (not caught by `except Exception`)."""


# -- receiving ---------------------------------------------------------------------------


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 16])
def test_a_message_in_any_chunking_is_stored_with_lf_endings(store: Store, chunk: int) -> None:
    p = store.begin("u1", len(MESSAGE))
    assert not p.resumed and p.wire_offset == 0
    write_in_chunks(p, MESSAGE, chunk)
    path = store.complete(p, exact=True)
    assert path.parent == store.maildir.new
    assert path.read_bytes() == LF
    assert store.is_stored("u1") and store.stored_uidls() == {"u1"}
    assert store.stored_path("u1") == path
    assert not p.path.exists()  # the partial file became the Maildir file
    assert store.state.partial("u1") is None


# -- checkpoints and resume ----------------------------------------------------------------


def test_bytes_past_the_recorded_length_are_not_trusted(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:30])
    p.checkpoint()
    p.write(MESSAGE[30:50])  # reaches the file, never recorded
    file = p.path
    store.state.update_partial("u", 30, len(MESSAGE[:30].replace(b"\r\n", b"\n")))
    p._close_fd()  # the process "dies" here: no checkpoint on the way out
    with open(file, "ab") as f:
        f.write(b"garbage a crash left behind")
    store = reopen(store)
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == 30
    assert file.read_bytes() == MESSAGE[:30].replace(b"\r\n", b"\n")
    q.write(MESSAGE[30:])
    assert store.complete(q, exact=True).read_bytes() == LF
    store.close()


def test_a_partial_file_shorter_than_its_record_starts_over(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:50])
    p.checkpoint()
    p.close()
    os.truncate(p.path, 10)
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == 0 and not q.resumed
    q.write(MESSAGE)
    assert store.complete(q, exact=False).read_bytes() == LF


def test_a_missing_partial_file_starts_over(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:50])
    p.close()
    p.path.unlink()
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == 0
    q.write(MESSAGE)
    assert store.complete(q, exact=False).read_bytes() == LF


def test_another_list_size_means_another_message_so_start_over(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:50])
    p.close()
    q = store.begin("u", len(MESSAGE) + 5)
    assert q.wire_offset == 0 and q.size == len(MESSAGE) + 5


def test_begin_again_after_a_drop_drops_the_held_cr(store: Store) -> None:
    p = store.begin("u", 6)
    p.write(b"ab\r")  # dropped here: the server resends from offset 2, i.e. the CR
    q = store.begin("u", 6)
    assert p.closed and q.wire_offset == 2
    q.write(b"\r\ncd")
    assert store.complete(q, exact=True).read_bytes() == b"ab\ncd"


def test_begin_for_a_stored_uidl_is_refused(store: Store) -> None:
    store.deliver_batch([("u", MESSAGE)])
    with pytest.raises(ValueError, match="already stored"):
        store.begin("u", len(MESSAGE))


# -- size checks -------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [b"", b"\r\n"])
def test_exact_accepts_the_list_size_or_two_more(store: Store, extra: bytes) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE + extra)
    assert store.complete(p, exact=True).read_bytes() == (MESSAGE + extra).replace(b"\r\n", b"\n")


@pytest.mark.parametrize("delta", [-1, 1, 3])
def test_exact_rejects_other_sizes_and_discards(store: Store, delta: int) -> None:
    body = MESSAGE[:delta] if delta < 0 else MESSAGE + b"x" * delta
    p = store.begin("u", len(MESSAGE))
    p.write(body)
    with pytest.raises(MessageIntegrityError, match="LIST says"):
        store.complete(p, exact=True)
    assert not store.is_stored("u") and store.state.partial("u") is None
    assert not p.path.exists() and new_files(store) == []


def test_a_resumed_transfer_is_checked_exactly_even_if_not_asked(store: Store) -> None:
    # A server that ignores "RETR n offset" (Courier) sends the whole message again.
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:40])
    p.checkpoint()
    store = reopen(store)
    q = store.begin("u", len(MESSAGE))
    q.write(MESSAGE)
    with pytest.raises(MessageIntegrityError):
        store.complete(q, exact=False)
    assert store.partial_offset("u") == 0 and new_files(store) == []
    store.close()


def test_a_fresh_transfer_may_differ_within_the_margin(paths: tuple[Path, Path]) -> None:
    with Store(*paths, size_limit=lambda size: size + 5) as s:
        p = s.begin("short", 100)
        p.write(b"x" * 60)
        assert s.complete(p, exact=False).read_bytes() == b"x" * 60
        p = s.begin("long", 100)
        p.write(b"x" * 105)
        s.complete(p, exact=False)
        p = s.begin("too-long", 100)
        p.write(b"x" * 105)
        with pytest.raises(MessageIntegrityError):
            p.write(b"\r")  # even a held CR counts against the limit
        assert s.stored_uidls() == {"short", "long"}


# -- delivery and crash reconciliation ----------------------------------------------------


def test_delivered_files_are_read_by_stdlib_mailbox(store: Store) -> None:
    p = store.begin("a", len(MESSAGE))
    p.write(MESSAGE)
    one = store.complete(p, exact=True)
    many = store.deliver_batch([(f"b{i}", b"Subject: %d\r\n\r\nhi\r\n" % i) for i in range(20)])
    box = mailbox.Maildir(store.maildir.root, create=False)
    assert len(box) == 21
    assert box[one.name]["Subject"] == "resume me"
    assert box.get_bytes(one.name) == LF
    assert sorted(box[p.name]["Subject"] for p in many) == sorted(str(i) for i in range(20))


def test_complete_across_filesystems_copies_then_renames(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Maildir, "same_filesystem", lambda self, path: False)
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE)
    path = store.complete(p, exact=True)
    assert path.read_bytes() == LF and not p.path.exists()
    assert os.listdir(store.maildir.tmp) == [] and os.listdir(store.partial_dir) == []


def crash_at(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
    def die(*args: object, **kwargs: object) -> None:
        raise Crash(name)

    monkeypatch.setattr(owner, name, die)


def test_crash_before_the_rename_keeps_the_partial_and_delivers_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE)
    crash_at(monkeypatch, store.maildir, "publish")
    with pytest.raises(Crash):
        store.complete(p, exact=True)
    monkeypatch.undo()
    store = reopen(store)
    assert not store.is_stored("u") and new_files(store) == []
    assert store.state.delivering() == []
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == len(MESSAGE)  # nothing left to fetch
    assert store.complete(q, exact=True).read_bytes() == LF
    assert len(new_files(store)) == 1
    store.close()


@pytest.mark.parametrize("reader", ["leaves it", "moves it to cur", "deletes it"])
def test_crash_after_the_rename_counts_as_stored_whatever_a_reader_did(
    store: Store, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE)
    crash_at(monkeypatch, store.state, "finish_delivering")
    with pytest.raises(Crash):
        store.complete(p, exact=True)
    monkeypatch.undo()
    assert not store.is_stored("u")  # not yet: the intent is pending
    [path] = new_files(store)
    if reader == "moves it to cur":
        path.rename(store.maildir.cur / (path.name + ":2,S"))
    elif reader == "deletes it":
        path.unlink()
    store = reopen(store)
    assert store.is_stored("u")
    assert store.state.delivering() == [] and store.state.partial("u") is None
    assert len(new_files(store)) == (0 if reader == "deletes it" else 1)
    if reader == "moves it to cur":
        assert store.stored_path("u") == store.maildir.cur / (path.name + ":2,S")
    store.close()


def test_crash_mid_batch_before_renames_stores_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at(monkeypatch, store.maildir, "publish_many")
    with pytest.raises(Crash):
        store.deliver_batch([(f"u{i}", MESSAGE) for i in range(10)])
    monkeypatch.undo()
    store = reopen(store)
    assert store.stored_uidls() == set()
    assert new_files(store) == [] and os.listdir(store.maildir.tmp) == []
    store.close()


def test_crash_mid_batch_after_renames_stores_each_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_at(monkeypatch, store.state, "finish_batch")
    with pytest.raises(Crash):
        store.deliver_batch([(f"u{i}", MESSAGE) for i in range(10)])
    monkeypatch.undo()
    store = reopen(store)
    assert store.stored_uidls() == {f"u{i}" for i in range(10)}
    assert len(new_files(store)) == 10
    assert store.deliver_batch([(f"u{i}", MESSAGE) for i in range(10)])  # no-op
    assert len(new_files(store)) == 10
    store.close()


def test_orphan_partial_files_are_removed_on_open(store: Store) -> None:
    (store.partial_dir / "999.part").write_bytes(b"left by a crash")
    p = store.begin("u", 10)
    p.write(b"12345")
    p.close()
    store = reopen(store)
    assert os.listdir(store.partial_dir) == [p.path.name]
    store.close()


def test_discard_forgets_the_partial(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:20])
    store.discard(p)
    assert not p.path.exists() and store.state.partial("u") is None
    assert store.partial_offset("u") == 0


# -- batches -------------------------------------------------------------------------------


def test_deliver_batch_fsyncs_each_file_then_publishes_then_fsyncs_new(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsynced: list[tuple[int, int]] = []  # (device, inode), in order
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        real_fsync(fd)
        st = os.fstat(fd)
        fsynced.append((st.st_dev, st.st_ino))

    def key(path: Path) -> tuple[int, int]:
        st = os.stat(path)
        return st.st_dev, st.st_ino

    real_begin = store.state.begin_delivering
    at_intent: list[tuple[int, set[tuple[int, int]]]] = []

    def spy_begin(intents):  # type: ignore[no-untyped-def]
        # Nothing is recorded before every file of the batch is durable in tmp/.
        at_intent.append(
            (len(os.listdir(store.maildir.new)), {key(p) for p in store.maildir.tmp.iterdir()})
        )
        assert set(fsynced) >= at_intent[-1][1]
        return real_begin(intents)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    monkeypatch.setattr(store.state, "begin_delivering", spy_begin)
    items = [(f"u/{i}/..", b"Subject: %d\r\n\r\nbody\r\n" % i) for i in range(100)]
    paths = store.deliver_batch(items)
    assert len(at_intent) == 1 and at_intent[0][0] == 0 and len(at_intent[0][1]) == 100
    assert {key(p) for p in paths} == at_intent[0][1]  # the files fsynced are those published
    assert fsynced[-1] == key(store.maildir.new)  # then new/, after the renames
    assert store.stored_uidls() == {u for u, _ in items}
    assert [p.read_bytes() for p in paths] == [d.replace(b"\r\n", b"\n") for _, d in items]
    assert all(p.parent == store.maildir.new for p in paths)
    assert all(re.match(r"^\d+\.M\d+P\d+Q\d+\.", p.name) for p in paths)  # not from UIDLs
    assert os.listdir(store.maildir.tmp) == []


def test_deliver_batch_fsyncs_several_files_at_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two fsyncs must be in flight together (so the filesystem can share one journal
    # commit between them): sequential fsyncs would leave the barrier waiting, and fail.
    together = threading.Barrier(2, timeout=30)
    calls = itertools.count()
    real_fsync = os.fsync

    def spy_fsync(fd: int) -> None:
        if next(calls) < 2:  # the first two calls wait for each other
            with contextlib.suppress(threading.BrokenBarrierError):
                together.wait()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy_fsync)
    store.deliver_batch([(f"u{i}", MESSAGE) for i in range(20)])
    assert not together.broken
    assert len(store.stored_uidls()) == 20


def test_a_failed_fsync_in_a_batch_publishes_and_records_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    calls = itertools.count(1)

    def failing_fsync(fd: int) -> None:
        if next(calls) == 7:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    fds_before = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StorageError, match=r"cannot sync the new files in .*Input/output error"):
        store.deliver_batch([(f"u{i}", MESSAGE) for i in range(30)])
    assert os.listdir(store.maildir.tmp) == [] and os.listdir(store.maildir.new) == []
    assert store.stored_uidls() == set() and store.state.delivering() == []
    if fds_before is not None:
        assert len(os.listdir("/proc/self/fd")) == fds_before  # every file closed
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert len(store.deliver_batch([(f"u{i}", MESSAGE) for i in range(30)])) == 30


def test_deliver_batch_never_stores_a_uidl_twice(store: Store) -> None:
    first = store.deliver_batch([("a", b"one\r\n")])
    paths = store.deliver_batch([("a", b"again\r\n"), ("b", b"two\r\n"), ("b", b"dup\r\n")])
    assert paths[0] == first[0] and paths[1] == paths[2]
    assert paths[1].read_bytes() == b"two\n"
    assert len(new_files(store)) == 2


def test_deliver_batch_drops_a_partial_of_the_same_uidl(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:10])
    store.deliver_batch([("u", MESSAGE)])
    assert p.closed and not p.path.exists() and store.state.partial("u") is None


def test_full_disk_during_a_batch_stores_nothing(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def failing_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 7:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", failing_write)
    with pytest.raises(StorageError, match="disk is full"):
        store.deliver_batch([(f"u{i}", MESSAGE) for i in range(20)])
    monkeypatch.undo()
    assert store.stored_uidls() == set() and store.state.delivering() == []
    assert os.listdir(store.maildir.tmp) == [] and new_files(store) == []
    store.deliver_batch([(f"u{i}", MESSAGE) for i in range(20)])
    assert len(store.stored_uidls()) == 20


@pytest.mark.slow
def test_a_batch_of_10000_small_messages_is_stored_whole(store: Store) -> None:
    """Its cost against the bare files is measured by tests/bench/bench_floor.py."""
    items = [
        (f"uidl-{i}", b"Subject: %d\r\n\r\n" % i + (b"x" * 78 + b"\r\n") * 50)
        for i in range(10_000)
    ]
    paths = store.deliver_batch(items)
    assert len(os.listdir(store.maildir.new)) == 10_000 and not os.listdir(store.maildir.tmp)
    assert store.stored_uidls() == {uidl for uidl, _ in items}
    for (_, wire), path in zip(items[::997], paths[::997], strict=True):
        assert isinstance(path, Path) and path.read_bytes() == wire.replace(b"\r\n", b"\n")


# -- errors --------------------------------------------------------------------------------


def test_read_only_maildir_keeps_the_partial_for_later(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE)
    with read_only(store.maildir.new), pytest.raises(StorageError, match="read-only"):
        store.complete(p, exact=True)
    assert not store.is_stored("u") and store.state.delivering() == []
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == len(MESSAGE)
    assert store.complete(q, exact=True).read_bytes() == LF


def test_one_store_per_state_directory(store: Store, paths: tuple[Path, Path]) -> None:
    with pytest.raises(StorageError, match="another popfetch"):
        Store(*paths)
    store.close()
    Store(*paths).close()


# -- marks and forget ----------------------------------------------------------------------


def test_marks_and_forget(store: Store) -> None:
    store.deliver_batch([("a", b"1\r\n"), ("b", b"2\r\n")])
    p = store.begin("c", 10)
    p.write(b"12345")
    store.set_marks(["a", "b", "c"], True)
    store.set_marks(["b"], False)
    assert store.marks() == {"a", "c"}
    store.forget(["a", "c"])  # the server confirmed the deletion
    assert store.marks() == set()
    assert store.stored_uidls() == {"b"}
    assert p.closed and not p.path.exists()
    assert len(new_files(store)) == 2  # the user's mail stays
    store.set_marks(["b"], True)
    store.clear_marks()
    assert store.marks() == set()


def test_state_is_plain_sqlite_readable_by_account_state(store: Store) -> None:
    store.deliver_batch([("a", b"1\r\n")])
    db = store.state_dir / "state.sqlite3"
    store.close()
    with AccountState(db) as st:
        assert st.stored_uidls() == {"a"}
