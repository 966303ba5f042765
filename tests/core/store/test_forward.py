"""The TargetStore: partials and bookkeeping as before, complete messages to a target."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest

from core.errors import TemporaryDeliveryError
from core.store.forward import TargetStore
from core.store.mbox import MboxTarget
from core.store.mda import MdaTarget
from core.store.targets import Receipt
from tests.support.store import LF, MESSAGE, write_in_chunks


def test_a_complete_partial_goes_to_the_target_whole(tmp_path: Path) -> None:
    box = tmp_path / "box"
    store = TargetStore(MboxTarget(box), tmp_path / "state")
    partial = store.begin("u1", len(MESSAGE))
    write_in_chunks(partial, MESSAGE, 7)
    receipt = store.complete(partial, exact=False)
    assert receipt == Receipt(f"mbox:{box}", "offset 0")
    assert store.is_stored("u1") and store.receipt("u1") == receipt
    assert store.partial_offsets() == {} and list(store.partial_dir.iterdir()) == []
    assert store.stored_path("u1") is None
    mbox = mailbox.mbox(str(box))
    assert [mbox.get_bytes(k) for k in mbox.iterkeys()] == [LF]
    store.close()
    assert not (tmp_path / "state" / "Maildir").exists()  # no Maildir made on the side


def test_a_deferred_delivery_keeps_the_complete_partial_for_the_next_run(tmp_path: Path) -> None:
    state = tmp_path / "state"
    busy = tmp_path / "busy"
    busy.touch()
    out = tmp_path / "out"
    command = f"if [ -e {busy} ]; then echo busy >&2; exit 75; fi; cat > {out}"
    store = TargetStore(MdaTarget(command, timeout=30), state)
    partial = store.begin("u1", len(MESSAGE))
    partial.write(MESSAGE)
    with pytest.raises(TemporaryDeliveryError, match="busy"):
        store.complete(partial, exact=False)
    assert not store.is_stored("u1")
    store.close()

    busy.unlink()
    store = TargetStore(MdaTarget(command, timeout=30), state)
    partial = store.begin("u1", len(MESSAGE))
    assert partial.resumed and partial.wire_offset == len(MESSAGE)  # nothing to fetch again
    receipt = store.complete(partial, exact=True)
    assert str(receipt) == f"mda:{command} exit 0"
    assert out.read_bytes() == LF
    store.close()


def test_a_batch_has_an_outcome_per_message_and_never_delivers_twice(tmp_path: Path) -> None:
    box = tmp_path / "box"
    store = TargetStore(MboxTarget(box), tmp_path / "state")
    kept = store.begin("u2", len(MESSAGE))  # a part left by an earlier, broken read
    kept.write(MESSAGE[:10])
    kept.close()
    items = [(f"u{i}", MESSAGE.replace(b"resume me", b"message %d" % i)) for i in range(4)]
    first = store.deliver_batch(items)
    assert all(isinstance(r, Receipt) and r.where == f"mbox:{box}" for r in first)
    offsets = [int(str(r).rsplit(" ", 1)[1]) for r in first]
    assert offsets[0] == 0 and offsets == sorted(set(offsets))
    assert store.partial_offsets() == {}
    assert list(store.deliver_batch(items)) == list(first)
    store.forget(["u0"])
    assert store.delivery.journal.entry("u0") is None
    store.close()
    assert len(mailbox.mbox(str(box))) == 4
