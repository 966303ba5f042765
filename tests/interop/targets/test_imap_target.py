"""The IMAP target against a real Dovecot (dovecot-imapd): STARTTLS and TLS, once and intact,
reruns, a SIGKILL between APPEND and bookkeeping, a dropped link, refusals."""

from __future__ import annotations

import email.utils
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.errors import CertificateError, PermanentDeliveryError, TargetUnavailable
from core.net import TlsPolicy
from core.store.imap import ImapTarget
from core.store.journal import Delivery, journal_for
from core.store.targets import ImapSpec, Message, Receipt, parse_deliver
from tests.interop.targets.conftest import start_dovecot
from tests.support.dovecot import Dovecot, User, make_messages
from tests.support.proxy import CuttingProxy

pytestmark = pytest.mark.interop


def spec_for(dovecot: Dovecot, user: User, *, tls: bool, port: int | None = None) -> ImapSpec:
    scheme = "imaps" if tls else "imap"
    default = dovecot.imaps_port if tls else dovecot.imap_port
    parsed = parse_deliver(f"{scheme}://{user.name}@127.0.0.1:{port or default}/INBOX")
    assert isinstance(parsed, ImapSpec)
    return parsed


def target_for(dovecot: Dovecot, user: User, *, tls: bool, port: int | None = None,
               settled: Callable[[], None] | None = None) -> ImapTarget:
    return ImapTarget(
        spec_for(dovecot, user, tls=tls, port=port),
        password=lambda: user.password,
        tls=TlsPolicy(cafile=str(dovecot.ca_pem)),
        timeout=20.0,
        settled=settled,
    )


def items(count: int, tag: str) -> list[tuple[str, Message]]:
    messages = make_messages(count, tag=tag)
    return [(f"uidl-{tag}-{i}", Message(data=m)) for i, m in enumerate(messages)]


@pytest.mark.parametrize("tls", [False, True], ids=["starttls", "tls"])
def test_each_message_once_and_intact_and_a_rerun_appends_nothing(
    dovecot_targets: Dovecot, target_user: User, tmp_path: Path, tls: bool
) -> None:
    batch = items(20, "once")
    batch.append(("uidl-nul", Message(data=b"Subject: has NUL\n\nbefore \0 after\n")))
    delivery = Delivery(target_for(dovecot_targets, target_user, tls=tls), journal_for(tmp_path))
    outcomes = delivery.deliver_many(batch)
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert delivery.target.connections == 1  # type: ignore[attr-defined]
    delivery.close()
    stored = dovecot_targets.contents(target_user.name)
    assert sorted(stored) == sorted(m.data for _, m in batch)  # each once, byte for byte
    uids = [str(o).split(" UID ")[1].split()[0] for o in outcomes]
    assert len(set(uids)) == len(uids)

    again = Delivery(target_for(dovecot_targets, target_user, tls=tls), journal_for(tmp_path))
    assert again.deliver_many(batch) == outcomes  # the journal's receipts
    again.close()
    assert len(dovecot_targets.files(target_user.name)) == len(batch)


def test_unread_with_internaldate_from_date_else_received(
    dovecot_targets: Dovecot, target_user: User, tmp_path: Path
) -> None:
    dated = b"Date: Tue, 01 Dec 2026 10:11:12 +0100\nSubject: dated\n\nx\n"
    received = (
        b"Received: from a by b; Mon, 30 Nov 2026 08:00:00 +0000\n"
        b"Received: from c by a; Sun, 29 Nov 2026 08:00:00 +0000\nSubject: relayed\n\ny\n"
    )
    with target_for(dovecot_targets, target_user, tls=True) as target:
        messages = [Message(data=dated), Message(data=received)]
        assert all(isinstance(o, Receipt) for o in target.deliver_many(messages, ["", ""]))
    files = {p.read_bytes(): p for p in dovecot_targets.files(target_user.name)}
    # Dovecot keeps INTERNALDATE as the Maildir file's mtime; no flags: still in new/.
    expect = {dated: "Tue, 01 Dec 2026 10:11:12 +0100", received: "Mon, 30 Nov 2026 08:00:00 +0000"}
    for data, date in expect.items():
        path = files[data]
        assert path.parent.name == "new" and ":2," not in path.name
        assert os.stat(path).st_mtime == email.utils.parsedate_to_datetime(date).timestamp()


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from core.net import TlsPolicy
    from core.store.imap import ImapTarget
    from core.store.targets import Message, parse_deliver
    from core.store.journal import Delivery, journal_for

    url, password, cafile, state, count = sys.argv[1:6]
    target = ImapTarget(parse_deliver(url), password=lambda: password,
                        tls=TlsPolicy(cafile=cafile))
    appended = target.deliver_many

    def then_die(messages, hints):
        outcomes = appended(messages, hints)  # every APPEND answered OK ...
        print(len(outcomes), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # ... and killed before the journal hears of it

    target.deliver_many = then_die
    from tests.support.dovecot import make_messages
    items = [(f"crash-{i}", Message(data=m))
             for i, m in enumerate(Path(state, "messages").read_bytes().split(b"\\0SPLIT\\0"))]
    Delivery(target, journal_for(Path(state))).deliver_many(items)
    """
)


@pytest.mark.parametrize("tls", [False, True], ids=["starttls", "tls"])
def test_sigkill_between_append_and_bookkeeping_gives_no_duplicate(
    dovecot_targets: Dovecot, target_user: User, tmp_path: Path, tls: bool
) -> None:
    messages = make_messages(12, tag="crash")
    messages.append(b"Subject: no message-id\n\nstill found by size and header\n")
    (tmp_path / "messages").write_bytes(b"\0SPLIT\0".join(messages))
    spec = spec_for(dovecot_targets, target_user, tls=tls)
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, spec.url, target_user.password,
         str(dovecot_targets.ca_pem), str(tmp_path), str(len(messages))],
        capture_output=True, timeout=120, cwd=Path(__file__).parents[3],
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert child.stdout.strip() == str(len(messages)).encode()
    assert len(dovecot_targets.files(target_user.name)) == len(messages)
    journal = journal_for(tmp_path)
    entry = journal.entry("crash-0")
    assert entry is not None and entry.state == "in-flight"
    journal.close()

    delivery = Delivery(target_for(dovecot_targets, target_user, tls=tls), journal_for(tmp_path))
    batch = [(f"crash-{i}", Message(data=m)) for i, m in enumerate(messages)]
    outcomes = delivery.deliver_many(batch)
    delivery.close()
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert sorted(dovecot_targets.contents(target_user.name)) == sorted(messages)


@pytest.fixture(scope="module")
def single_append_dovecot() -> Iterator[Dovecot]:
    """A Dovecot that offers LITERAL+ but no MULTIAPPEND, BINARY or SASL-IR: one APPEND
    per message, pipelined, and AUTHENTICATE PLAIN answering a continuation."""
    server = start_dovecot(imap_capability="IMAP4rev1 LITERAL+ UIDPLUS")
    try:
        yield server
    finally:
        server.stop()


def disconnects(server: Dovecot, user: User) -> list[str]:
    """Dovecot's log lines of the user's IMAP sessions that have ended."""
    return [line for line in server.log_lines(f"imap({user.name})") if "Disconnected" in line]


@pytest.mark.parametrize("appends", ["multiappend", "single"])
def test_a_dropped_link_reconnects_and_nothing_is_appended_twice(
    dovecot_targets: Dovecot,
    single_append_dovecot: Dovecot,
    target_user: User,
    tmp_path: Path,
    appends: str,
) -> None:
    server = dovecot_targets if appends == "multiappend" else single_append_dovecot
    user = target_user if appends == "multiappend" else server.add_user("dropped", "drop-pw")
    batch = items(150, "drop")
    # The first connection is reset once the client has sent 20,000 octets: after TLS
    # and login, in the middle of the uploads (some answered, some lost, one cut short).
    # Before looking for the lost ones the target waits for Dovecot's own word that the
    # broken session is over (its log), not for a time: no late commit can follow.
    before = len(disconnects(server, user))

    def settled() -> None:
        deadline = time.monotonic() + 30
        while len(disconnects(server, user)) <= before:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)

    with CuttingProxy(("127.0.0.1", server.imaps_port), up_cuts=[20_000]) as proxy:
        target = target_for(server, user, tls=True, port=proxy.address[1], settled=settled)
        delivery = Delivery(target, journal_for(tmp_path))
        outcomes = delivery.deliver_many(batch)
        session = target._session
        assert session is not None
        assert ("MULTIAPPEND" in session.caps) == (appends == "multiappend")
        delivery.close()
        assert proxy.was_cut[0]
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert target.connections == 2
    assert sorted(server.contents(user.name)) == sorted(m.data for _, m in batch)


def test_sync_literals_and_no_binary() -> None:
    """APPENDs with synchronizing literals (no LITERAL+), a non-ASCII password; NUL refused
    without BINARY."""
    server = start_dovecot(imap_capability="IMAP4rev1 UIDPLUS")
    try:
        user = server.add_user("plain", "pässwört")
        with target_for(server, user, tls=True) as target:
            messages = [Message(data=m) for m in make_messages(3, tag="sync")]
            messages.append(Message(data=b"Subject: NUL\n\na\0b\n"))
            outcomes = target.deliver_many(messages, target.prepare(messages))
            session = target._session
            assert session is not None and not session.caps & {"LITERAL+", "BINARY"}
        assert all(isinstance(o, Receipt) for o in outcomes[:3]), outcomes
        assert isinstance(outcomes[3], PermanentDeliveryError)
        assert "BINARY" in str(outcomes[3])
        assert sorted(server.contents("plain")) == sorted(m.data for m in messages[:3])
    finally:
        server.stop()


def test_refusals_stop_the_target(dovecot_targets: Dovecot, target_user: User) -> None:
    message = [Message(data=b"Subject: x\n\ny\n")]
    wrong = ImapTarget(
        spec_for(dovecot_targets, target_user, tls=True),
        password=lambda: "not-the-password",
        tls=TlsPolicy(cafile=str(dovecot_targets.ca_pem)),
    )
    with pytest.raises(TargetUnavailable, match="login as"):
        wrong.prepare(message)
    wrong.close()

    missing = parse_deliver(
        f"imaps://{target_user.name}@127.0.0.1:{dovecot_targets.imaps_port}/No%20Such"
    )
    assert isinstance(missing, ImapSpec) and missing.mailbox == "No Such"
    nobox = ImapTarget(missing, password=lambda: target_user.password,
                       tls=TlsPolicy(cafile=str(dovecot_targets.ca_pem)))
    with pytest.raises(TargetUnavailable, match="No Such"):
        nobox.prepare(message)
    nobox.close()

    # The system store does not know this run's CA: the certificate is refused, as the
    # target's (a CertificateError would offer to pin it for the POP3 account).
    untrusted = ImapTarget(spec_for(dovecot_targets, target_user, tls=False),
                           password=lambda: target_user.password, tls=TlsPolicy())
    with pytest.raises(TargetUnavailable, match="certificate is not trusted") as caught:
        untrusted.prepare(message)
    assert not isinstance(caught.value, CertificateError)
    assert isinstance(caught.value.__cause__, CertificateError)
    untrusted.close()
    assert dovecot_targets.files(target_user.name) == []
