"""The delivery interface: --deliver URLs, message facts, the journal, the Maildir target."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import TemporaryDeliveryError
from core.store.journal import Delivery, journal_for
from core.store.maildirtarget import MaildirTarget
from core.store.targets import (
    ImapSpec,
    LmtpSpec,
    MaildirSpec,
    MboxSpec,
    MdaSpec,
    Message,
    Receipt,
    parse_deliver,
    shown,
)


@pytest.mark.parametrize(
    ("url", "spec"),
    [
        ("maildir:/home/u/Mail", MaildirSpec(Path("/home/u/Mail"))),
        ("maildir:rel/dir:with:colons", MaildirSpec(Path("rel/dir:with:colons"))),
        ("mbox:/var/mail/u", MboxSpec(Path("/var/mail/u"))),
        ("mda:procmail -m /etc/rc", MdaSpec("procmail -m /etc/rc")),
        ("mda:/usr/lib/dovecot/dovecot-lda -d u", MdaSpec("/usr/lib/dovecot/dovecot-lda -d u")),
        ("lmtp:localhost:24", LmtpSpec(host="localhost", port=24)),
        ("lmtp:[::1]:2424", LmtpSpec(host="::1", port=2424)),
        ("lmtp:/run/dovecot/lmtp", LmtpSpec(socket=Path("/run/dovecot/lmtp"))),
        ("imap://me@mail.example/INBOX", ImapSpec("me", "mail.example", 143, "INBOX", False)),
        ("imaps://me@mail.example/INBOX", ImapSpec("me", "mail.example", 993, "INBOX", True)),
        (
            "imaps://me@gmail.com@imap.gmail.com:993/From%20POP/old",
            ImapSpec("me@gmail.com", "imap.gmail.com", 993, "From POP/old", True),
        ),
        ("imap://u@[::1]:1143/Archiv", ImapSpec("u", "::1", 1143, "Archiv", False)),
    ],
)
def test_deliver_urls(url: str, spec: object) -> None:
    assert parse_deliver(url) == spec


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/just/a/path", "expected one of"),
        ("smtp://host", "unknown kind"),
        ("maildir:", "path is missing"),
        ("mda:  ", "command is missing"),
        ("lmtp:host", "port is required"),
        ("lmtp:host:0", "out of range"),
        ("imap:host/INBOX", "imap://"),
        ("imaps://mail.example/INBOX", "user is missing"),
        ("imaps://me:secret@mail.example/INBOX", "no password"),
        ("imaps://me@mail.example", "mailbox is missing"),
        ("imaps://me@mail.example/", "mailbox is missing"),
        ("imaps://me@mail.example/A%0D%0AB", "control characters"),
    ],
)
def test_bad_deliver_urls_say_why(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_deliver(url)


def test_imap_url_for_receipts_omits_the_default_port_and_never_a_secret() -> None:
    spec = parse_deliver("imaps://me@host:993/INBOX")
    assert isinstance(spec, ImapSpec) and spec.url == "imaps://me@host/INBOX"
    spec = parse_deliver("imap://me@host:1143/INBOX")
    assert isinstance(spec, ImapSpec) and spec.url == "imap://me@host:1143/INBOX"


def test_message_facts_and_dates(tmp_path: Path) -> None:
    data = (
        b"Received: from a by b;\n Mon, 30 Nov 2026 08:00:00 +0000\n"
        b"Received: from c by a; Sun, 29 Nov 2026 08:00:00 +0000\n"
        b"Message-ID:\n <id@x>\nSubject: s\n\nDate: not a header\n\0\n"
    )
    path = tmp_path / "m"
    path.write_bytes(data)
    for message in (Message(data=data), Message(path=path)):
        facts = message.scan()
        assert (facts.size, facts.crlf_size, facts.has_nul) == (len(data), len(data) + 9, True)
        assert message.header("message-id") == "<id@x>"
        assert message.date() == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
        assert message.head().endswith(b"Subject: s\n")
    dated = Message(data=b"Date: Tue, 1 Dec 2026 10:00:00 +0100\nReceived: x; junk\n\n")
    assert dated.date() == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert Message(data=b"Date: yesterday\n\n").date() is None
    assert Message.from_wire(b"a\r\nb\rc\r\n").data == b"a\nb\rc\n"
    with pytest.raises(ValueError):
        Message()


def test_shown_escapes_and_cuts() -> None:
    assert shown(b"ok\x1b[31m\r\nnext") == "ok\\x1b[31m\\x0d\\x0anext"
    assert len(shown("x" * 1000, 50)) == 50


def test_maildir_target_and_a_crash_between_rename_and_journal(tmp_path: Path) -> None:
    """In flight in the journal, but the file is in new/ (or moved to cur/ by a reader):
    the next delivery finds it instead of delivering it twice."""
    maildir = tmp_path / "Mail"
    target = MaildirTarget(maildir)
    journal = journal_for(tmp_path / "state")
    message = Message(data=b"Subject: one\n\nbody\n")
    [hint] = target.prepare([message])
    journal.begin(target.url, [("u1", hint)])
    [receipt] = target.deliver_many([message], [hint])  # ... and the process dies here
    assert receipt == Receipt(f"maildir:{maildir}", f"new/{hint}")
    (maildir / "new" / hint).rename(maildir / "cur" / f"{hint}:2,S")
    delivery = Delivery(MaildirTarget(maildir), journal)
    assert delivery.deliver("u1", message) == Receipt(f"maildir:{maildir}", f"cur/{hint}:2,S")
    assert len(list((maildir / "cur").iterdir())) == 1
    assert list((maildir / "new").iterdir()) == []
    entry = journal.entry("u1")
    assert entry is not None and entry.state == "delivered"
    assert journal.receipts() == {"u1": Receipt(f"maildir:{maildir}", f"cur/{hint}:2,S")}

    # In flight but never renamed: delivered now, once.
    [hint2] = target.prepare([message])
    journal.begin(target.url, [("u2", hint2)])
    delivery.deliver("u2", message)
    assert len(list((maildir / "new").iterdir())) == 1
    journal.forget(["u1", "u2"])
    assert journal.receipts() == {}
    delivery.close()


def test_a_refused_delivery_is_not_left_in_flight(tmp_path: Path) -> None:
    maildir = tmp_path / "Mail"
    delivery = Delivery(MaildirTarget(maildir), journal_for(tmp_path / "state"))
    (maildir / "tmp").rmdir()
    (maildir / "tmp").write_bytes(b"")  # tmp/ is no directory now: every write fails
    with pytest.raises(TemporaryDeliveryError, match="tmp"):
        delivery.deliver("u1", Message(data=b"Subject: x\n\n"))
    assert delivery.journal.entry("u1") is None
    delivery.close()


def test_an_imap_url_quotes_what_would_not_read_back_and_a_receipt_keeps_it_whole():
    spec = parse_deliver("imaps://me%25x@example.org@imap.example.org/Archive/100%25%20done")
    assert isinstance(spec, ImapSpec)
    assert (spec.user, spec.mailbox) == ("me%x@example.org", "Archive/100% done")
    assert spec.url == "imaps://me%25x@example.org@imap.example.org/Archive/100%25%20done"
    assert parse_deliver(spec.url) == spec
    receipt = Receipt(spec.url, "UID 7 UIDVALIDITY 1")
    assert Receipt.parse(str(receipt)) == receipt
