"""core.store.partial: one message being received: CRLF->LF on the fly with a held CR,
the LIST size limit, checkpoints, verified restart, and write or fsync errors."""

from __future__ import annotations

import errno
import itertools
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import MessageIntegrityError, StorageError
from core.store.local import Store
from tests.support.store import LF, MESSAGE, new_files, reference_lf, reopen, write_in_chunks


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    base = tmp_path_factory.mktemp("shared")
    s = Store(base / "Mail", base / "state")
    yield s
    s.close()


_uidls = itertools.count()


# -- receiving -----------------------------------------------------------------------------


def test_a_cr_at_a_chunk_end_is_held_until_the_next_octet(store: Store) -> None:
    p = store.begin("u", 7)
    p.write(b"A\r")
    assert (p.wire_offset, p.file_len) == (1, 1)  # the CR is not accounted for yet
    p.write(b"\nB\r")
    assert (p.wire_offset, p.file_len) == (4, 3)  # "A\r\nB" -> "A\nB"
    p.write(b"\r")  # a run of CRs is held whole: the offset never follows a CR
    assert (p.wire_offset, p.file_len) == (4, 3)
    p.write(b"\n")  # the first CR was bare, the second ends a CRLF
    assert (p.wire_offset, p.file_len) == (7, 5)
    assert p.path.read_bytes() == b"A\nB\r\n"


def test_a_bare_cr_at_the_very_end_is_kept(store: Store) -> None:
    p = store.begin("u", 4)
    p.write(b"ab\r\r")
    path = store.complete(p, exact=True)
    assert path.read_bytes() == b"ab\r\r"
    assert store.state.stored("u") is not None
    assert store.state.stored("u").size == 4  # type: ignore[union-attr]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"x", b"\r").replace(b"y", b"\n")),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=12),
)
def test_conversion_is_chunk_independent_and_offsets_never_follow_a_cr(
    shared_store: Store, data: bytes, cuts: list[int]
) -> None:
    s = shared_store
    p = s.begin(f"u{next(_uidls)}", len(data))
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for a, b in itertools.pairwise(bounds):
        p.write(data[a:b])
        off = p.wire_offset
        assert off == 0 or data[off - 1] != 0x0D
        assert p.file_len == len(data[:off].replace(b"\r\n", b"\n"))
    path = s.complete(p, exact=True)
    assert path.read_bytes() == data.replace(b"\r\n", b"\n")


# Lines, mostly clean CRLF (whole chunks take the translate path), some with bare CRs
# (their chunks take the replace path), and chunk cuts anywhere, also between CR and LF.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(
        st.one_of(
            st.sampled_from([b"", b".", b"..dots", b"QUJD" * 19, b"end\r", b"\r\r", b"a\rb"]),
            st.binary(max_size=12).map(lambda b: b.replace(b"x", b"\r")),
        ),
        max_size=60,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=16),
)
def test_any_chunking_stores_the_reference_lf_form(
    shared_store: Store, lines: list[bytes], cuts: list[int]
) -> None:
    data = b"\r\n".join(lines)
    p = shared_store.begin(f"u{next(_uidls)}", len(data))
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for a, b in itertools.pairwise(bounds):
        p.write(data[a:b])
        off = p.wire_offset
        assert off == 0 or data[off - 1] != 0x0D  # never an offset right after a CR
        assert p.file_len == len(reference_lf(data[:off]))
    path = shared_store.complete(p, exact=True)
    assert path.read_bytes() == reference_lf(data)


def test_a_large_message_is_written_in_constant_memory(store: Store) -> None:
    chunk = (b"0123456789" * 25 + b"\r\n") * 1000  # 252 KB, like one socket read
    total = 256 * len(chunk)  # 64 MB
    p = store.begin("big", total)
    tracemalloc.start()
    try:
        for _ in range(256):
            p.write(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * len(chunk), peak  # a few chunks, never the message
    path = store.complete(p, exact=True)
    assert path.stat().st_size == total - 256 * 1000  # one CR less per line


def test_a_body_running_past_the_list_size_is_refused_early(paths: tuple[Path, Path]) -> None:
    with Store(*paths, size_limit=lambda size: size + 10) as s:
        p = s.begin("u", 100)
        p.write(b"x" * 110)
        with pytest.raises(MessageIntegrityError, match="runs past its LIST size"):
            p.write(b"y")
        assert p.wire_offset == 0 and p.path.stat().st_size == 0
        with pytest.raises(MessageIntegrityError):
            p.write(b"z")  # refused until restart()
        p.restart(verify=False)
        p.write(b"a" * 100)
        assert s.complete(p, exact=False).read_bytes() == b"a" * 100


# -- checkpoints and resume ----------------------------------------------------------------


def test_checkpoint_records_offset_and_length_and_begin_resumes_there(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:40])
    assert store.state.partial("u").wire_offset == 0  # type: ignore[union-attr]
    p.checkpoint()
    rec = store.state.partial("u")
    assert rec is not None and (rec.wire_offset, rec.file_len) == (p.wire_offset, p.file_len)
    assert p.durable_offset == p.wire_offset
    store = reopen(store)
    q = store.begin("u", len(MESSAGE))
    assert q.resumed and q.wire_offset == 40 and q.spliced
    assert store.partial_offset("u") == 40
    assert store.partial_offsets() == {"u": 40}
    q.write(MESSAGE[40:])
    assert store.complete(q, exact=True).read_bytes() == LF
    store.close()


# -- restart without resume ----------------------------------------------------------------


def test_verified_restart_with_the_same_message_appends_after_the_stored_prefix(
    store: Store,
) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:45])
    p.checkpoint()
    store = reopen(store)
    q = store.begin("u", len(MESSAGE))
    q.restart(verify=True)
    assert q.wire_offset == 0 and q.verifying and not q.spliced
    write_in_chunks(q, MESSAGE, 5)
    assert not q.verifying
    assert store.complete(q, exact=False).read_bytes() == LF
    store.close()


def test_verified_restart_detects_a_changed_message(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:45])
    p.checkpoint()
    p.restart(verify=True)
    changed = MESSAGE.replace(b"resume me", b"RESUME ME")  # inside the first 45
    with pytest.raises(MessageIntegrityError, match="changed on the server"):
        write_in_chunks(p, changed, 8)
    # reset: empty and recorded empty, nothing spliced
    assert p.wire_offset == 0 and p.path.stat().st_size == 0
    rec = store.state.partial("u")
    assert rec is not None and (rec.wire_offset, rec.file_len) == (0, 0)
    with pytest.raises(MessageIntegrityError):
        p.write(changed)
    p.restart(verify=True)  # nothing stored any more: nothing to compare
    p.write(changed)
    assert store.complete(p, exact=False).read_bytes() == changed.replace(b"\r\n", b"\n")


def test_a_message_shorter_than_the_stored_prefix_is_detected(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:60])
    p.restart(verify=True)
    p.write(MESSAGE[:30])
    with pytest.raises(MessageIntegrityError, match="shorter"):
        store.complete(p, exact=False)
    assert not store.is_stored("u") and new_files(store) == []


def test_restart_without_verify_starts_empty_and_records_it_first(store: Store) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:60])
    p.checkpoint()
    p.restart(verify=False)
    rec = store.state.partial("u")
    assert rec is not None and (rec.wire_offset, rec.file_len) == (0, 0)
    assert p.path.stat().st_size == 0
    p.write(MESSAGE)
    assert store.complete(p, exact=False).read_bytes() == LF


# -- errors --------------------------------------------------------------------------------


def test_full_disk_while_receiving_keeps_the_state_consistent(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:40])
    p.checkpoint()

    def no_space(fd: int, data: object, pos: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "pwrite", no_space)
    with pytest.raises(StorageError, match="disk is full"):
        p.write(MESSAGE[40:70])
    assert p.wire_offset == 40
    monkeypatch.undo()
    store = reopen(store)
    q = store.begin("u", len(MESSAGE))
    assert q.wire_offset == 40
    q.write(MESSAGE[40:])
    assert store.complete(q, exact=True).read_bytes() == LF
    store.close()


def test_a_failed_fsync_records_nothing(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    p = store.begin("u", len(MESSAGE))
    p.write(MESSAGE[:40])

    def eio(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", eio)
    with pytest.raises(StorageError, match="Input/output error"):
        p.checkpoint()
    assert store.state.partial("u").wire_offset == 0  # type: ignore[union-attr]
