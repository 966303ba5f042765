"""The mbox target: mboxrd quoting read back by Python's mailbox, locks, cut back on failure,
a crash's half copy trimmed."""

from __future__ import annotations

import fcntl
import mailbox
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.errors import TargetUnavailable, TemporaryDeliveryError
from core.store.journal import Delivery, journal_for
from core.store.mbox import MboxTarget, render
from core.store.targets import Message, Receipt

TRICKY = [
    b"Return-Path: <sender@example.org>\nSubject: quoting\n\nFrom the start\n>From once\n"
    b">>From twice\nnot From here\n",
    b"Subject: no final newline\n\nlast line",
    b"Subject: blank lines\n\n\n\nFrom \n\n",
    b"Subject: crlf kept as bytes\n\nbare\rCR\n",
]


def unquote(data: bytes) -> bytes:
    """What an mboxrd reader does: one '>' less before '>*From '."""
    return re.sub(rb"(?m)^>(>*From )", rb"\1", data)


def deliver(target: MboxTarget, datas: list[bytes]) -> list[object]:
    messages = [Message(data=d) for d in datas]
    return list(target.deliver_many(messages, target.prepare(messages)))


def read_back(box: Path) -> list[bytes]:
    """Each message's bytes as Python's mailbox.mbox finds them, mboxrd quoting undone."""
    mbox = mailbox.mbox(str(box))
    return [unquote(mbox.get_bytes(key)) for key in mbox.iterkeys()]


def expected(data: bytes) -> bytes:
    return data if data.endswith(b"\n") else data + b"\n"


def test_mboxrd_round_trip_through_python_mailbox(tmp_path: Path) -> None:
    box = tmp_path / "box"
    target = MboxTarget(box)
    outcomes = deliver(target, TRICKY[:2]) + deliver(target, TRICKY[2:])
    assert all(isinstance(o, Receipt) for o in outcomes)
    read = read_back(box)
    assert read == [expected(d) for d in TRICKY]
    assert not box.with_name("box.lock").exists()
    assert os.stat(box).st_mode & 0o777 == 0o600


def test_appends_after_a_message_without_its_blank_line(tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.write_bytes(b"From x Thu Jan  1 00:00:00 2026\nSubject: old\n\nold body")
    deliver(MboxTarget(box), [b"Subject: new\n\nFrom new body\n"])
    read = read_back(box)
    assert read[1] == b"Subject: new\n\nFrom new body\n"
    assert read[0].startswith(b"Subject: old\n\nold body")


def _hold_lock(box: Path) -> subprocess.Popen[bytes]:
    """A process holding the mbox's fcntl lock until its stdin closes; waits until it does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import fcntl, os, sys
            fd = os.open({str(box)!r}, os.O_RDWR | os.O_CREAT)
            fcntl.lockf(fd, fcntl.LOCK_EX)
            print("locked", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == b"locked\n"
    return holder


def test_waits_for_the_fcntl_lock_and_gives_up_temporarily(tmp_path: Path) -> None:
    box = tmp_path / "box"
    holder = _hold_lock(box)
    try:
        with pytest.raises(TemporaryDeliveryError, match="locked"):
            MboxTarget(box, lock_timeout=0.2).prepare([Message(data=b"Subject: x\n\n")])
    finally:
        holder.communicate(b"", timeout=10)
    assert isinstance(deliver(MboxTarget(box), [b"Subject: x\n\ny\n"])[0], Receipt)


def test_dotlock_is_respected_and_a_stale_one_removed(tmp_path: Path) -> None:
    box = tmp_path / "box"
    lock = tmp_path / "box.lock"
    lock.touch()
    with pytest.raises(TemporaryDeliveryError, match=r"box\.lock"):
        MboxTarget(box, lock_timeout=0.2).prepare([Message(data=b"Subject: x\n\n")])
    old = time.time() - 3600
    os.utime(lock, (old, old))
    assert isinstance(deliver(MboxTarget(box), [b"Subject: x\n\ny\n"])[0], Receipt)
    assert not lock.exists()


def test_a_failed_append_is_cut_back_to_the_old_length(tmp_path: Path) -> None:
    """A file size limit (RLIMIT_FSIZE) makes the write fail half way, as a full disk would."""
    box = tmp_path / "box"
    deliver(MboxTarget(box), [b"Subject: first\n\nkept\n"])
    before = box.read_bytes()
    child = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import resource, signal, sys
            from pathlib import Path
            from core.store.mbox import MboxTarget
            from core.store.targets import Message
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)} + 5000, -1))
            target = MboxTarget(Path({str(box)!r}))
            big = b"Subject: big\\n\\n" + (b"x" * 99 + b"\\n") * 10
            messages = [Message(data=big) for _ in range(9)]
            print(target.deliver_many(messages, target.prepare(messages))[0])
        """)],
        capture_output=True, timeout=60, cwd=Path(__file__).parents[3],
    )
    assert child.returncode == 0, child.stderr.decode()
    assert b"cut back to" in child.stdout
    assert box.read_bytes() == before


def test_find_after_a_crash(tmp_path: Path) -> None:
    box = tmp_path / "box"
    deliver(MboxTarget(box), [b"Subject: before\n\nx\n"])
    message = Message(data=b"Subject: in flight\n\nFrom a body\n")
    target = MboxTarget(box)
    [hint] = target.prepare([message])
    target.close()
    rendered = b"".join(render(message, float(hint.split()[1])))
    start = int(hint.split()[0])
    with open(box, "r+b") as f:  # a crash half way through the write
        f.seek(start)
        f.write(rendered[:20])
    assert MboxTarget(box).find(message, hint) is None
    assert box.stat().st_size == start  # the half copy is gone
    with open(box, "r+b") as f:  # a crash after the whole write
        fcntl.lockf(f, fcntl.LOCK_EX)
        f.seek(start)
        f.write(rendered)
    found = MboxTarget(box).find(message, hint)
    assert found == Receipt(f"mbox:{box}", f"offset {start}")


def test_delivery_never_appends_twice(tmp_path: Path) -> None:
    box = tmp_path / "box"
    items = [(f"u{i}", Message(data=d)) for i, d in enumerate(TRICKY)]
    first = Delivery(MboxTarget(box), journal_for(tmp_path / "state"))
    receipts = first.deliver_many(items)
    first.close()
    again = Delivery(MboxTarget(box), journal_for(tmp_path / "state"))
    assert again.deliver_many(items) == receipts
    again.close()
    assert len(mailbox.mbox(str(box))) == len(TRICKY)


@pytest.mark.parametrize("where", ["missing/box", "dir"])
def test_a_path_that_cannot_be_an_mbox_stops_the_target(tmp_path: Path, where: str) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(TargetUnavailable, match="cannot open"):
        MboxTarget(tmp_path / where).prepare([Message(data=b"Subject: x\n\n")])
