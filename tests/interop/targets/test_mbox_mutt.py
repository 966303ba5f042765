"""An mbox written by the mbox target, read back by mutt (Debian's mutt, driven headless in a
pseudo-terminal by ``script``): every message, in order, headers and body intact."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from core.store.mbox import MboxTarget
from core.store.targets import Message, Receipt
from tests.interop.targets.conftest import unavailable

pytestmark = pytest.mark.interop

MESSAGES = [
    b"Return-Path: <a@example.org>\nSubject: one\n\nFrom the start\n>From once\nend\n",
    b"Subject: two\n\nno final newline",
    b"Subject: three\nX-Long: folded\n header\n\nbody\n\n\nwith blank lines\n",
]
# mutt reads mbox the mboxo way (no '>' removed) and adds these when it copies a message.
_MUTT_HEADERS = (b"Content-Length: ", b"Lines: ")


def test_mutt_reads_every_message_back(tmp_path: Path) -> None:
    if shutil.which("mutt") is None or shutil.which("script") is None:
        unavailable("mutt is not installed (apt-get install mutt)")
    box = tmp_path / "box"
    target = MboxTarget(box)
    messages = [Message(data=d) for d in MESSAGES]
    outcomes = target.deliver_many(messages, target.prepare(messages))
    assert all(isinstance(o, Receipt) for o in outcomes)
    out = tmp_path / "copied"
    rc = tmp_path / "muttrc"
    rc.write_text(
        "set mbox_type=Maildir\nset confirmcreate=no\nset confirmappend=no\nset quit=yes\n"
        "set move=no\nset mark_old=no\nset auto_tag=yes\nset sort=mailbox-order\n"
    )
    keys = f"<tag-pattern>~A<enter><copy-message>{out}<enter><quit>"
    command = f"TERM=xterm mutt -n -F {rc} -R -f {box} -e 'push \"{keys}\"'"
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"], capture_output=True, timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-2000:]
    copies = sorted((out / "new").iterdir(), key=lambda p: int(p.name.split("_")[1].split(".")[0]))
    got = [
        b"".join(
            line for line in p.read_bytes().splitlines(keepends=True)
            if not line.startswith(_MUTT_HEADERS)
        )
        for p in copies
    ]
    want = [d.replace(b"\nFrom ", b"\n>From ").replace(b"\n>From once", b"\n>>From once")
            for d in MESSAGES]
    want = [w if w.endswith(b"\n") else w + b"\n" for w in want]
    assert got == want
