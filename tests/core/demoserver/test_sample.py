"""The demo mailbox: realistic, reproducible, made once, and served correctly."""

from __future__ import annotations

import email
import email.policy
import hashlib
import poplib
from collections.abc import Callable
from pathlib import Path

from core.demoserver import DemoServer
from core.demoserver.mailbox import default_uidl, scan
from core.demoserver.sample import MARKER, make_demo_mailbox

from .conftest import TIMEOUT

LARGE = (300_000, 1_200_000)


def digest(root: Path) -> dict[str, str]:
    return {Path(f).name: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in scan(root)}


def test_deterministic_and_idempotent(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    make_demo_mailbox(one, count=12, large_sizes=LARGE)
    make_demo_mailbox(two, count=12, large_sizes=LARGE)
    assert digest(one) == digest(two)
    assert len(digest(one)) == 14
    first = digest(one)
    victim = Path(scan(one)[0])
    victim.unlink()  # the demo user deleted one: a restart must not bring it back
    make_demo_mailbox(one, count=12, large_sizes=LARGE)
    assert digest(one) == {k: v for k, v in first.items() if k != victim.name}
    assert (one / MARKER).exists() and not any((one / "tmp").iterdir())


def test_an_interrupted_first_start_completes(tmp_path: Path) -> None:
    root = tmp_path / "md"
    make_demo_mailbox(root, count=5, large_sizes=())
    (root / MARKER).unlink()
    Path(scan(root)[0]).unlink()
    make_demo_mailbox(root, count=5, large_sizes=())
    assert len(scan(root)) == 5


def test_messages_look_like_mail(tmp_path: Path) -> None:
    root = tmp_path / "md"
    make_demo_mailbox(root, count=20, large_sizes=LARGE)
    files = [Path(f) for f in scan(root)]
    assert any(f.parent.name == "cur" and f.name.endswith(":2,S") for f in files)
    dotted = 0
    sizes = []
    for path in files:
        data = path.read_bytes()
        assert b"\r" not in data and data.endswith(b"\n")
        message = email.message_from_bytes(data, policy=email.policy.default)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version"):
            assert message[header], (path.name, header)
        dotted += any(line.startswith(b".") for line in data.split(b"\n"))
        sizes.append(len(data))
        assert len(default_uidl(path)) <= 70
    assert dotted >= 3
    assert any(abs(s - LARGE[1]) < 2_000 for s in sizes)
    assert any(abs(s - LARGE[0]) < 2_000 for s in sizes)
    big = max(files, key=lambda p: p.stat().st_size)
    message = email.message_from_bytes(big.read_bytes(), policy=email.policy.default)
    attachment = next(iter(message.iter_attachments()))
    assert len(attachment.get_content()) > LARGE[1] * 0.7


def test_served_with_poplib(tmp_path: Path, make_server: Callable[..., DemoServer]) -> None:
    root = tmp_path / "md"
    make_demo_mailbox(root, count=10, large_sizes=(200_000,))
    server = make_server(root)
    client = poplib.POP3(*server.address, timeout=TIMEOUT)
    client.user("demo")
    client.pass_("demo")
    _, listing, _ = client.list()
    assert len(listing) == 11
    for entry in listing:
        number, size = map(int, entry.split())
        _, lines, _ = client.retr(number)
        assert len(b"\r\n".join(lines)) + 2 == size
        data = Path(scan(root)[number - 1]).read_bytes()
        assert b"\n".join(lines) + b"\n" == data
    client.quit()
