"""The sans-IO IMAP response reader and the encodings of the IMAP target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import RemoteProtocolError
from core.store.imapclient import internal_date, mailbox_name
from core.store.imapreader import ImapReader, Response

STREAM = (
    b"* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] ready\r\n"
    b'* STATUS "INBOX" (UIDVALIDITY 17 UIDNEXT 4)\r\n'
    b"* 3 FETCH (UID 9 RFC822.SIZE 23 BODY[HEADER] {8}\r\nA: b\r\n\r\n)\r\n"
    b"* SEARCH 2 9\r\n"
    b"P1 OK [APPENDUID 17 9] Append completed.\r\n"
    b"+ go ahead\r\n"
)


def read_all(chunks: list[bytes]) -> list[Response]:
    reader = ImapReader()
    out = []
    for chunk in chunks:
        reader.feed(chunk)
        while (r := reader.next()) is not None:
            out.append(r)
    return out


def test_same_responses_whatever_the_chunking() -> None:
    whole = read_all([STREAM])
    assert read_all([STREAM[i : i + 1] for i in range(len(STREAM))]) == whole
    for cut in range(1, len(STREAM)):
        assert read_all([STREAM[:cut], STREAM[cut:]]) == whole
    greeting, status, fetch, search, tagged, cont = whole
    assert greeting.status == "OK" and greeting.code == "CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS"
    assert status.values() == ["STATUS", "INBOX", ["UIDVALIDITY", "17", "UIDNEXT", "4"]]
    assert fetch.values() == [
        "3", "FETCH", ["UID", "9", "RFC822.SIZE", "23", "BODY[HEADER]", b"A: b\r\n\r\n"]
    ]
    assert search.values() == ["SEARCH", "2", "9"]
    assert (tagged.tag, tagged.status, tagged.code) == ("P1", "OK", "APPENDUID 17 9")
    assert (cont.tag, cont.text) == ("+", "go ahead")


def test_lines_and_literals_are_capped() -> None:
    reader = ImapReader(max_line=100, max_literal=10)
    reader.feed(b"* " + b"x" * 200)
    with pytest.raises(RemoteProtocolError, match="line"):
        reader.next()
    reader = ImapReader(max_line=100, max_literal=10)
    reader.feed(b"* 1 FETCH (BODY[] {11}\r\n")
    with pytest.raises(RemoteProtocolError, match="literal"):
        reader.next()


def test_mailbox_names_in_modified_utf7() -> None:
    # RFC 3501 5.1.3's example, and '&' itself.
    assert mailbox_name("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert mailbox_name("A&B") == "A&-B"
    assert mailbox_name("Entwürfe") == "Entw&APw-rfe"


def test_internal_date_is_locale_free() -> None:
    when = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone(timedelta(hours=-3, minutes=-30)))
    assert internal_date(when) == b'"04-Mar-2026 05:06:07 -0330"'
    assert internal_date(datetime(2026, 12, 1, tzinfo=UTC)) == b'"01-Dec-2026 00:00:00 +0000"'
