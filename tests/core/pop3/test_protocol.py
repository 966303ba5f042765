"""core.pop3.protocol as a specification: bytes in any chunking -> the same events.

Every reply is fed whole, one byte at a time and split at every position (so CRLF and
".\\r\\n" get split too); the decoded events must not depend on the chunking.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from core.auth.sasl import apop_digest, plain_initial_response
from core.errors import ConnectionLost, Desync, LocalProtocolError, RemoteProtocolError, TlsGreeting
from core.pop3.commands import Command
from core.pop3.protocol import (
    NEED_DATA,
    Body,
    ClientConnection,
    ConnectionClosed,
    Continuation,
    End,
    Event,
    Greeting,
    State,
    Status,
)
from core.pop3.replies import error_for

GREETING = b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n"


# ---------------------------------------------------------------------------- helpers


def drain(conn: ClientConnection) -> list[Event]:
    """Every event the buffered data yields, until NEED_DATA or ConnectionClosed."""
    events: list[Event] = []
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, ConnectionClosed):
            return events


def merged(events: list[Event]) -> list[Event]:
    """Adjacent Body chunks joined: chunk borders follow the input, the content must not."""
    out: list[Event] = []
    for event in events:
        last = out[-1] if out else None
        if isinstance(event, Body) and isinstance(last, Body) and last.command == event.command:
            out[-1] = Body(event.command, last.data + event.data)
        else:
            out.append(event)
    return out


def feed(conn: ClientConnection, chunks: list[bytes]) -> list[Event]:
    events: list[Event] = []
    for chunk in chunks:
        conn.receive_data(chunk)
        events += drain(conn)
    return merged(events)


def chunkings(wire: bytes) -> Iterator[list[bytes]]:
    """Whole, one byte at a time, and split in two at every position."""
    yield [wire]
    yield [wire[i : i + 1] for i in range(len(wire))]
    for i in range(1, len(wire)):
        yield [wire[:i], wire[i:]]


def state_of(conn: ClientConnection) -> State:
    return conn.state


def greeted() -> ClientConnection:
    conn = ClientConnection()
    conn.receive_data(GREETING)
    assert isinstance(conn.next_event(), Greeting)
    return conn


def logged_in() -> ClientConnection:
    conn = greeted()
    conn.send(Command("USER", ("demo",)))
    conn.send(Command("PASS", ("secret",)))
    conn.receive_data(b"+OK\r\n+OK logged in\r\n")
    drain(conn)
    assert conn.state is State.TRANSACTION
    return conn


def retr_events(wire_reply: bytes, chunks_of: list[bytes] | None = None) -> list[Event]:
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    return feed(conn, chunks_of if chunks_of is not None else [wire_reply])


def decoded_body(events: list[Event]) -> bytes:
    return b"".join(e.data for e in events if isinstance(e, Body))


# --------------------------------------------------------------------------- greeting


def test_greeting_carries_the_apop_timestamp_in_any_chunking() -> None:
    for chunks in chunkings(GREETING):
        conn = ClientConnection()
        assert feed(conn, chunks) == [
            Greeting(
                True,
                "POP3 ready <1896.697170952@dbc.mtview.ca.us>",
                "<1896.697170952@dbc.mtview.ca.us>",
            )
        ]
        assert conn.state is State.AUTHORIZATION


def test_greeting_without_timestamp_and_with_unrelated_angle_brackets() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK ready <no-at-sign>\r\n")
    assert conn.next_event() == Greeting(True, "ready <no-at-sign>", None)


def test_refusing_greeting_closes_and_keeps_its_code() -> None:
    conn = ClientConnection()
    conn.receive_data(b"-ERR [SYS/TEMP] too many connections\r\n")
    assert conn.next_event() == Greeting(False, "too many connections", None, "SYS/TEMP")
    assert conn.state is State.CLOSED
    with pytest.raises(LocalProtocolError, match="CLOSED"):
        conn.send(Command("CAPA"))


def test_garbage_greeting_is_a_remote_error_and_state_error() -> None:
    conn = ClientConnection()
    conn.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.ERROR
    with pytest.raises(RemoteProtocolError):  # and stays failed
        conn.next_event()
    with pytest.raises(LocalProtocolError, match="ERROR"):
        conn.send(Command("QUIT"))


def test_no_command_before_the_greeting() -> None:
    with pytest.raises(LocalProtocolError, match="greeting"):
        ClientConnection().send(Command("CAPA"))


# ------------------------------------------------------------------------- status lines


@pytest.mark.parametrize(
    ("line", "ok", "code", "text"),
    [
        (b"+OK\r\n", True, None, ""),
        (b"+OK 2 320\r\n", True, None, "2 320"),
        (b"-ERR\r\n", False, None, ""),
        (b"-ERR no such message\r\n", False, None, "no such message"),
        (b"-ERR [SYS/TEMP] try later\r\n", False, "SYS/TEMP", "try later"),
        (b"-ERR [SYS/PERM] go away\r\n", False, "SYS/PERM", "go away"),
        (b"-ERR [IN-USE] mailbox locked\r\n", False, "IN-USE", "mailbox locked"),
        (b"-ERR [LOGIN-DELAY] wait\r\n", False, "LOGIN-DELAY", "wait"),
        (b"-ERR [AUTH] bad password\r\n", False, "AUTH", "bad password"),
        (b"-ERR [OFFSET-OVERRUN] message exists\r\n", False, "OFFSET-OVERRUN", "message exists"),
        (b"-ERR [NON-EXISTENT] no such message\r\n", False, "NON-EXISTENT", "no such message"),
        (b"-ERR [in-use]\r\n", False, "IN-USE", ""),  # codes compare upper-cased
        (b"-ERR [not a code\r\n", False, None, "[not a code"),
        (b"-ERR see [IN-USE]\r\n", False, None, "see [IN-USE]"),  # only right after -ERR
        (b"+ok lower case\r\n", True, None, "lower case"),
        (b"-ERR caf\xc3\xa9 \xff\r\n", False, None, "caf\u00e9 \ufffd"),
    ],
)
def test_status_lines_and_rfc2449_codes(line: bytes, ok: bool, code: str | None, text: str) -> None:
    for chunks in chunkings(line):
        conn = logged_in()
        command = Command("DELE", ("1",))
        conn.send(command)
        assert feed(conn, chunks) == [Status(command, ok, code, text)]
        assert conn.pending == 0


@pytest.mark.parametrize("line", [b"+OKAY\r\n", b"OK\r\n", b"\r\n", b"* 1 EXISTS\r\n", b"+ go\r\n"])
def test_malformed_status_line_is_remote_error(line: bytes) -> None:
    conn = logged_in()
    conn.send(Command("NOOP"))
    conn.receive_data(line)
    with pytest.raises(RemoteProtocolError):
        conn.next_event()
    assert conn.state is State.ERROR


def test_status_line_longer_than_max_line_fails_without_waiting_for_crlf() -> None:
    conn = ClientConnection(max_line=64)
    conn.receive_data(b"+OK " + b"x" * 58 + b"\r\n")  # exactly 64 octets with CRLF
    assert isinstance(conn.next_event(), Greeting)
    conn.send(Command("CAPA"))
    for byte in b"+OK " + b"y" * 59:  # 63 octets and no CRLF yet: could still fit
        conn.receive_data(bytes([byte]))
        assert conn.next_event() is NEED_DATA
    conn.receive_data(b"y")  # the 65th octet can no longer end within 64
    with pytest.raises(RemoteProtocolError, match="longer than 64"):
        conn.next_event()
    assert conn.state is State.ERROR


def test_status_line_just_over_max_line_with_crlf_split() -> None:
    conn = ClientConnection(max_line=64)
    conn.receive_data(b"+OK " + b"x" * 59 + b"\r")
    with pytest.raises(RemoteProtocolError):
        conn.next_event()


# ----------------------------------------------------------------------- multi-line


RETR_WIRE = (
    b"+OK 120 octets\r\n"
    b"..leading dot line\r\n"  # "." stuffed at the very start of the body
    b"Subject: x\r\n"
    b"\r\n"
    b"....\r\n"  # "..." stuffed
    b"..\r\n"  # a line that is just "."
    b"mid.dle\r\n"  # a dot inside a line: untouched
    b"bare\rCR and bare\nLF\r\n"
    b"..\rdot then CR\r\n"
    b".\r\n"
)
RETR_BODY = (
    b".leading dot line\r\n"
    b"Subject: x\r\n"
    b"\r\n"
    b"...\r\n"
    b".\r\n"
    b"mid.dle\r\n"
    b"bare\rCR and bare\nLF\r\n"
    b".\rdot then CR\r\n"
)


def test_retr_is_unstuffed_identically_for_every_chunking() -> None:
    command = Command("RETR", ("1",))
    expected = [Status(command, True, None, "120 octets"), Body(command, RETR_BODY), End(command)]
    for chunks in chunkings(RETR_WIRE):
        assert retr_events(RETR_WIRE, chunks) == expected, chunks


@pytest.mark.parametrize(
    ("body_wire", "body"),
    [
        (b".\r\n", b""),  # the terminator is the first line: empty body
        (b"..\r\n.\r\n", b".\r\n"),
        (b"\r\n.\r\n", b"\r\n"),
        (b"..\r\n..\r\n.\r\n", b".\r\n.\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b".x\r\n.\r\n", b"x\r\n"),  # unstuffed "." from a sloppy server: RFC 1939 strips it
        (b".\rx\r\n.\r\n", b"\rx\r\n"),  # "." + CR not followed by LF is no terminator
    ],
)
def test_small_bodies_in_every_chunking(body_wire: bytes, body: bytes) -> None:
    wire = b"+OK\r\n" + body_wire
    for chunks in chunkings(wire):
        events = retr_events(wire, chunks)
        assert decoded_body(events) == body
        assert isinstance(events[-1], End)
        assert sum(isinstance(e, Body) for e in events) == (1 if body else 0)


def test_bodies_come_out_as_large_slices_holding_back_at_most_two_octets() -> None:
    body = b"".join(b"line %d of a long message, .dots inside\r\n" % i for i in range(20000))
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    conn.receive_data(b"+OK\r\n")
    assert isinstance(conn.next_event(), Status)
    conn.receive_data(body[: len(body) // 2])
    first = conn.next_event()
    assert isinstance(first, Body) and first.data == body[: len(body) // 2]  # one slice
    assert conn.next_event() is NEED_DATA
    conn.receive_data(body[len(body) // 2 :] + b".\r\n")
    second = conn.next_event()
    assert isinstance(second, Body) and first.data + second.data == body
    assert isinstance(conn.next_event(), End)


@pytest.mark.parametrize(
    ("fed", "held"),
    [
        (b"abc", b""),
        (b"abc\r", b"\r"),
        (b"abc\r\n", b""),
        (b"abc\r\n.", b"."),
        (b"abc\r\n.\r", b".\r"),
        (b"abc\r\n..", b""),
    ],
)
def test_hold_back_is_at_most_two_octets(fed: bytes, held: bytes) -> None:
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    conn.receive_data(b"+OK\r\n" + fed)
    events = drain(conn)
    emitted = decoded_body(events)
    assert len(fed) - len(emitted) - (1 if fed.endswith(b"..") else 0) == len(held)
    assert len(held) <= 2


def test_base64_body_without_any_dot_passes_whole_in_every_split() -> None:
    # No "." at all: the decoder skips its terminator search (one memchr) and must still
    # find the terminator, which arrives in a later chunk or split across two.
    body = b"".join(b"QUJD%072d\r\n" % i for i in range(300))
    wire = b"+OK\r\n" + body + b".\r\n"
    for cut in (5, 6, len(wire) - 3, len(wire) - 2, len(wire) - 1, len(wire) // 2):
        events = retr_events(wire, [wire[:cut], wire[cut:]])
        assert decoded_body(events) == body, cut
        assert isinstance(events[-1], End)


@pytest.mark.parametrize(
    "body",
    [
        b"mid.line dots come first\r\n.then a dot-led line\r\n",  # first "." is not line-led
        b"x\r\n.\r.\r\n..\r\nend.\r\n",  # the first "." right after CRLF
        b"a.b.c.d\r\nno dot-led line at all.\r\n",
    ],
)
def test_dot_led_lines_after_a_mid_line_dot_in_every_chunking(body: bytes) -> None:
    lines = body.split(b"\r\n")
    stuffed = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)
    wire = b"+OK\r\n" + stuffed + b".\r\n"
    for chunks in chunkings(wire):
        events = retr_events(wire, chunks)
        assert decoded_body(events) == body, chunks
        assert isinstance(events[-1], End)


def test_many_dot_led_lines_switch_to_bulk_unstuffing() -> None:
    body = b"".join(b".%d\r\n" % i for i in range(500))  # every line dot-led
    wire = b"+OK\r\n" + body.replace(b".", b"..") + b".\r\n"
    events = retr_events(wire)
    assert decoded_body(events) == body
    assert [type(e) for e in events] == [Status, Body, End]


def test_err_to_a_multiline_command_has_no_body() -> None:
    conn = logged_in()
    retr = Command("RETR", ("9",))
    noop = Command("NOOP")
    conn.send(retr)
    conn.send(noop)
    conn.receive_data(b"-ERR [NON-EXISTENT] no such message\r\n+OK\r\n")
    assert drain(conn) == [
        Status(retr, False, "NON-EXISTENT", "no such message"),
        Status(noop, True, None, ""),
    ]


def test_long_lines_in_a_message_body_are_fine() -> None:
    body = b"x" * 1_000_000 + b"\r\n"
    events = retr_events(b"+OK\r\n" + body + b".\r\n")
    assert decoded_body(events) == body


# -------------------------------------------------------------------------- listings


def test_listing_lines_are_bounded_by_max_body_line() -> None:
    conn = ClientConnection(max_body_line=40)
    conn.receive_data(GREETING)
    conn.next_event()
    conn.send(Command("CAPA"))
    conn.receive_data(b"+OK\r\nTOP\r\nIMPLEMENTATION " + b"z" * 40)
    with pytest.raises(RemoteProtocolError, match="CAPA listing"):
        drain(conn)
    assert conn.state is State.ERROR


def test_listing_line_bound_holds_over_chunk_borders_and_exact_fit_passes() -> None:
    line = b"1 " + b"u" * 36 + b"\r\n"  # 40 octets with CRLF: fits max_body_line=40
    for chunks in chunkings(b"+OK\r\n" + line + line + b".\r\n"):
        conn = ClientConnection(max_body_line=40)
        conn.receive_data(GREETING)
        conn.next_event()
        conn.send(Command("USER", ("u",)))
        conn.send(Command("PASS", ("p",)))
        conn.receive_data(b"+OK\r\n+OK\r\n")
        drain(conn)
        conn.send(Command("UIDL"))
        assert decoded_body(feed(conn, chunks)) == line + line
    conn = logged_in()
    conn._max_listing_line = 40  # same bound, one octet over, split across chunks
    conn.send(Command("UIDL"))
    conn.receive_data(b"+OK\r\n1 " + b"u" * 20)
    drain(conn)
    conn.receive_data(b"u" * 17 + b"\r\n")
    with pytest.raises(RemoteProtocolError):
        drain(conn)


def test_retr_lines_are_not_bounded_by_max_body_line() -> None:
    conn = ClientConnection(max_body_line=40)
    conn.receive_data(GREETING + b"+OK\r\n+OK\r\n")
    conn.next_event()
    conn.send(Command("USER", ("u",)))
    conn.send(Command("PASS", ("p",)))
    drain(conn)
    conn.send(Command("TOP", ("1", "0")))
    conn.receive_data(b"+OK\r\n" + b"h" * 1000 + b"\r\n.\r\n")
    assert decoded_body(drain(conn)) == b"h" * 1000 + b"\r\n"


# ------------------------------------------------------------------------ pipelining


PIPELINE = [
    Command("STAT"),
    Command("LIST"),
    Command("UIDL", ("2",)),
    Command("RETR", ("1",)),
    Command("TOP", ("2", "0")),
    Command("RETR", ("3",)),
    Command("DELE", ("1",)),
    Command("NOOP"),
]
PIPELINE_WIRE = (
    b"+OK 2 320\r\n"
    b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n"
    b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"
    b"+OK\r\n..one\r\n.\r\n"
    b"+OK\r\nSubject: two\r\n\r\n.\r\n"
    b"-ERR [NON-EXISTENT] no such message\r\n"
    b"+OK marked\r\n"
    b"+OK\r\n"
)


def test_pipelined_replies_match_commands_in_order_for_every_chunking() -> None:
    stat, listing, uidl, retr, top, retr3, dele, noop = PIPELINE
    expected = [
        Status(stat, True, None, "2 320"),
        Status(listing, True, None, "2 messages"),
        Body(listing, b"1 120\r\n2 200\r\n"),
        End(listing),
        Status(uidl, True, None, "2 QhdPYR:00WBw1Ph7x7"),
        Status(retr, True, None, ""),
        Body(retr, b".one\r\n"),
        End(retr),
        Status(top, True, None, ""),
        Body(top, b"Subject: two\r\n\r\n"),
        End(top),
        Status(retr3, False, "NON-EXISTENT", "no such message"),
        Status(dele, True, None, "marked"),
        Status(noop, True, None, ""),
    ]
    for chunks in chunkings(PIPELINE_WIRE):
        conn = logged_in()
        wire = b"".join(conn.send(c) for c in PIPELINE)
        assert wire == (
            b"STAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 0\r\nRETR 3\r\nDELE 1\r\nNOOP\r\n"
        )
        assert conn.pending == 8
        assert feed(conn, chunks) == expected
        assert conn.pending == 0


def test_pending_counts_down_as_replies_finish() -> None:
    conn = logged_in()
    conn.send(Command("LIST"))
    conn.send(Command("NOOP"))
    conn.receive_data(b"+OK\r\n1 1\r\n")
    drain(conn)
    assert conn.pending == 2  # LIST's body is still open
    conn.receive_data(b".\r\n")
    assert isinstance(conn.next_event(), End)
    assert conn.pending == 1


def test_user_and_pass_pipeline_but_nothing_goes_behind_pass() -> None:
    conn = greeted()
    assert conn.send(Command("USER", ("demo",))) == b"USER demo\r\n"
    assert conn.send(Command("PASS", ("pass word",))) == b"PASS pass word\r\n"
    with pytest.raises(LocalProtocolError, match="reply to PASS"):
        conn.send(Command("STAT"))
    conn.receive_data(b"+OK\r\n-ERR [AUTH] invalid\r\n")
    drain(conn)
    assert conn.state is State.AUTHORIZATION  # a refused PASS leaves us where we were
    assert conn.pending == 0


def test_unsolicited_data_is_a_remote_error() -> None:
    conn = logged_in()
    conn.receive_data(b"-ERR Disconnected for inactivity.\r\n")
    with pytest.raises(RemoteProtocolError, match=r"unsolicited.*inactivity") as caught:
        conn.next_event()
    assert not isinstance(caught.value, Desync)  # no multi-line reply ended just before


# An unstuffed "." line ends the reply early; the rest of the message follows the terminator.
EARLY_END = b"+OK\r\nfirst half\r\n.\r\nsecond half\r\n.\r\n"


@pytest.mark.parametrize("split", range(1, len(EARLY_END)))
def test_a_line_after_a_terminator_that_is_no_status_is_a_desync(split: int) -> None:
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    conn.send(Command("DELE", ("1",)))  # pipelined behind it: the leftover meets its reply
    events: list[Event] = []
    with pytest.raises(Desync, match=r"RETR 1 ended early.*second half"):
        for part in (EARLY_END[:split], EARLY_END[split:]):
            conn.receive_data(part)
            while (event := conn.next_event()) is not NEED_DATA:
                events.append(event)
    assert [type(e) for e in merged(events)] == [Status, Body, End]
    assert conn.state is State.ERROR


@pytest.mark.parametrize("split", range(1, len(EARLY_END)))
def test_data_after_a_terminator_with_nothing_outstanding_is_a_desync(split: int) -> None:
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    events: list[Event] = []
    with pytest.raises(Desync, match=r"after the end of the reply to RETR 1"):
        for part in (EARLY_END[:split], EARLY_END[split:]):
            conn.receive_data(part)
            while (event := conn.next_event()) is not NEED_DATA:
                events.append(event)
    assert isinstance(events[-1], End)


def test_a_status_after_a_terminator_clears_the_desync_watch() -> None:
    conn = logged_in()
    conn.send(Command("LIST"))
    conn.receive_data(b"+OK\r\n1 5\r\n.\r\n")
    drain(conn)
    conn.send(Command("NOOP"))
    conn.receive_data(b"+OK\r\n-ERR Disconnected for inactivity.\r\n")
    with pytest.raises(RemoteProtocolError, match="unsolicited") as caught:
        drain(conn)
    assert not isinstance(caught.value, Desync)


TLS_HELLO = b"\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"


@pytest.mark.parametrize("first", [TLS_HELLO, b"\x15\x03\x01\x00\x02\x02\x46"])
def test_a_tls_record_instead_of_a_greeting_names_the_security_setting_at_once(
    first: bytes,
) -> None:
    conn = ClientConnection()
    conn.receive_data(first[:1])
    assert conn.next_event() is NEED_DATA  # one octet could still be anything
    conn.receive_data(first[1:])  # no CRLF will ever come: it must not wait for one
    with pytest.raises(TlsGreeting, match="SSL/TLS"):
        conn.next_event()
    assert conn.state is State.ERROR


# -------------------------------------------------------------------- state machine


@pytest.mark.parametrize("verb", ["STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"])
def test_transaction_commands_are_refused_in_authorization(verb: str) -> None:
    args = {"RETR": ("1",), "DELE": ("1",), "TOP": ("1", "0")}.get(verb, ())
    with pytest.raises(LocalProtocolError, match="not allowed in state AUTHORIZATION"):
        greeted().send(Command(verb, args))


@pytest.mark.parametrize(
    "command",
    [
        Command("USER", ("a",)),
        Command("PASS", ("b",)),
        Command("APOP", ("a", "0" * 32)),
        Command("AUTH", ("PLAIN",)),
        Command("STLS"),
    ],
)
def test_authorization_commands_are_refused_in_transaction(command: Command) -> None:
    conn = logged_in()
    with pytest.raises(LocalProtocolError, match="not allowed in state TRANSACTION"):
        conn.send(command)
    assert conn.state is State.TRANSACTION and conn.pending == 0  # nothing was sent


def test_capa_works_in_both_states() -> None:
    assert greeted().send(Command("CAPA")) == b"CAPA\r\n"
    assert logged_in().send(Command("capa")) == b"CAPA\r\n"  # verbs are upper-cased


def test_quit_from_transaction_goes_through_update_to_closed() -> None:
    conn = logged_in()
    conn.send(Command("DELE", ("1",)))
    assert conn.send(Command("QUIT")) == b"QUIT\r\n"
    assert conn.state is State.UPDATE  # the server deletes once it reads QUIT
    with pytest.raises(LocalProtocolError, match="UPDATE"):
        conn.send(Command("NOOP"))
    conn.receive_data(b"+OK\r\n+OK bye\r\n")
    assert [type(e) for e in drain(conn)] == [Status, Status]
    assert state_of(conn) is State.CLOSED
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.next_event() == ConnectionClosed()


def test_quit_err_in_update_still_closes() -> None:
    conn = logged_in()
    conn.send(Command("QUIT"))
    conn.receive_data(b"-ERR some deleted messages not removed\r\n")
    assert isinstance(conn.next_event(), Status)
    assert conn.state is State.CLOSED


def test_quit_from_authorization_closes_without_update() -> None:
    conn = greeted()
    conn.send(Command("QUIT"))
    assert conn.state is State.AUTHORIZATION
    conn.receive_data(b"+OK bye\r\n")
    conn.next_event()
    assert state_of(conn) is State.CLOSED


def test_apop_login() -> None:
    conn = greeted()
    digest = apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
    sent = conn.send(Command("APOP", ("mrose", digest)))
    assert sent == b"APOP mrose " + digest.encode() + b"\r\n"
    conn.receive_data(b"+OK maildrop has 1 message (369 octets)\r\n")
    conn.next_event()
    assert conn.state is State.TRANSACTION


# -------------------------------------------------------------------------- AUTH


def test_auth_plain_with_continuation() -> None:
    conn = greeted()
    auth = Command("AUTH", ("PLAIN",))
    assert conn.send(auth) == b"AUTH PLAIN\r\n"
    with pytest.raises(LocalProtocolError, match="no SASL challenge"):
        conn.send_auth_line("AA==")
    for chunks in chunkings(b"+ \r\n"):
        probe = greeted()
        probe.send(auth)
        assert feed(probe, chunks) == [Continuation(auth, "")]
    conn.receive_data(b"+ \r\n")
    assert conn.next_event() == Continuation(auth, "")
    assert conn.awaiting_auth_line
    response = plain_initial_response("tim", "tanstaaf")
    assert conn.send_auth_line(response) == response.encode() + b"\r\n"
    with pytest.raises(LocalProtocolError):  # one line per challenge
        conn.send_auth_line(response)
    with pytest.raises(LocalProtocolError, match="reply to AUTH"):
        conn.send(Command("CAPA"))
    conn.receive_data(b"+OK welcome\r\n")
    assert conn.next_event() == Status(auth, True, None, "welcome")
    assert conn.state is State.TRANSACTION and conn.pending == 0


def test_auth_plain_initial_response_in_one_round_trip() -> None:
    conn = greeted()
    response = plain_initial_response("tim", "tanstaaf")
    assert conn.send(Command("AUTH", ("PLAIN", response))) == f"AUTH PLAIN {response}\r\n".encode()
    conn.receive_data(b"+OK\r\n")
    conn.next_event()
    assert conn.state is State.TRANSACTION


def test_auth_login_two_challenges_then_failure_stays_in_authorization() -> None:
    conn = greeted()
    auth = Command("AUTH", ("LOGIN",))
    conn.send(auth)
    conn.receive_data(b"+ VXNlcm5hbWU6\r\n")
    assert conn.next_event() == Continuation(auth, "VXNlcm5hbWU6")
    conn.send_auth_line(base64.b64encode(b"tim").decode())
    conn.receive_data(b"+ UGFzc3dvcmQ6\r\n")
    assert conn.next_event() == Continuation(auth, "UGFzc3dvcmQ6")
    conn.send_auth_line(base64.b64encode(b"wrong").decode())
    conn.receive_data(b"-ERR [AUTH] authentication failed\r\n")
    status = conn.next_event()
    assert status == Status(auth, False, "AUTH", "authentication failed")
    assert conn.state is State.AUTHORIZATION and not conn.awaiting_auth_line


def test_auth_cram_md5_challenge_can_be_cancelled() -> None:
    challenge = base64.b64encode(b"<1896.697170952@postoffice.reston.mci.net>").decode()
    conn = greeted()
    conn.send(Command("AUTH", ("CRAM-MD5",)))
    conn.receive_data(b"+ " + challenge.encode() + b"\r\n")
    conn.next_event()
    assert conn.send_auth_line("*") == b"*\r\n"


@pytest.mark.parametrize("line", ["abc", "AAAA\r\nQUIT", "AA==\n", "AA AA", "", "****"])
def test_auth_lines_must_be_base64_or_star(line: str) -> None:
    conn = greeted()
    conn.send(Command("AUTH", ("PLAIN",)))
    conn.receive_data(b"+ \r\n")
    conn.next_event()
    if line == "":  # an empty SASL response is an empty line
        assert conn.send_auth_line(line) == b"\r\n"
        return
    with pytest.raises(LocalProtocolError):
        conn.send_auth_line(line)


def test_continuation_outside_auth_is_a_remote_error() -> None:
    conn = greeted()
    conn.send(Command("USER", ("tim",)))
    conn.receive_data(b"+ hello\r\n")
    with pytest.raises(RemoteProtocolError, match="continuation"):
        conn.next_event()


# ---------------------------------------------------------------------------- STLS


def test_stls_once_and_no_plaintext_after_its_ok() -> None:
    conn = greeted()
    conn.send(Command("STLS"))
    conn.receive_data(b"+OK begin TLS\r\n")
    assert isinstance(conn.next_event(), Status)
    with pytest.raises(LocalProtocolError, match="already"):
        conn.send(Command("STLS"))
    injected = greeted()
    injected.send(Command("STLS"))
    injected.receive_data(b"+OK begin TLS\r\n+OK fake CAPA answer\r\n")
    with pytest.raises(RemoteProtocolError, match="STLS"):
        injected.next_event()


# ------------------------------------------------------------------- local errors


@pytest.mark.parametrize(
    "command",
    [
        Command("USER", ("tim\r\nDELE 1",)),
        Command("USER", ("tim\n",)),
        Command("USER", ("tim\r",)),
        Command("USER", ("t\0m",)),
        Command("USER", ("two words",)),
        Command("USER", ("",)),
        Command("PASS", ("pw\r\nQUIT",)),
        Command("PASS", ("x" * 250,)),  # 256 octets with "PASS " and CRLF
        Command("USER", ()),
        Command("USER", ("a", "b")),
        Command("APOP", ("tim", "not-a-digest")),
        Command("AUTH", ("PLAIN", "not base64!")),
        Command("AUTH", ("PLAIN", "A" * 300)),  # RFC 5034: too long -> use a continuation
        Command("AUTH", ()),
        Command("XTND", ("XMIT",)),
        Command("CAPA", ("x",)),
    ],
)
def test_bad_commands_in_authorization_are_refused_before_sending(command: Command) -> None:
    conn = greeted()
    with pytest.raises(LocalProtocolError) as info:
        conn.send(command)
    assert conn.pending == 0 and conn.state is State.AUTHORIZATION
    if command.verb == "PASS":
        assert "pw" not in str(info.value) and "xxx" not in str(info.value)


@pytest.mark.parametrize(
    "command",
    [
        Command("RETR", ("0",)),
        Command("RETR", ("-1",)),
        Command("RETR", ("1.5",)),
        Command("RETR", ("\u0661",)),  # an Arabic-Indic digit: int() would accept it
        Command("RETR", ("1", "-3")),
        Command("RETR", ("1", "2", "3")),
        Command("RETR", ()),
        Command("TOP", ("1",)),
        Command("DELE", ("1 2",)),
        Command("LIST", ("1", "2")),
        Command("UIDL", ("x",)),
        Command("DELE", ("1" * 19,)),
        Command("NOOP", ("1",)),
    ],
)
def test_bad_commands_in_transaction_are_refused(command: Command) -> None:
    conn = logged_in()
    with pytest.raises(LocalProtocolError):
        conn.send(command)
    assert conn.pending == 0 and conn.state is State.TRANSACTION


def test_extended_retr_and_longest_allowed_line_are_sent() -> None:
    conn = logged_in()
    assert conn.send(Command("RETR", ("7", "345628"))) == b"RETR 7 345628\r\n"
    assert conn.send(Command("RETR", ("7", "0"))) == b"RETR 7 0\r\n"
    auth = greeted()
    assert len(auth.send(Command("PASS", ("x" * 248,)))) == 255


def test_passwords_stay_out_of_reprs() -> None:
    command = Command("PASS", ("hunter2",))
    status = Status(command, False, "AUTH", "no")
    assert "hunter2" not in repr(command) and "hunter2" not in repr(status)
    assert Command("AUTH", ("PLAIN", "c2VjcmV0")).redacted() == "AUTH PLAIN ***"
    assert "secret" not in str(error_for(status))


def test_body_repr_is_short() -> None:
    assert len(repr(Body(Command("RETR", ("1",)), b"x" * 10**6))) < 200


def test_received_buffers_are_copied_so_callers_may_reuse_them() -> None:
    conn = logged_in()
    conn.send(Command("RETR", ("1",)))
    buffer = bytearray(b"+OK\r\nhello\r\n.\r\n")
    conn.receive_data(buffer)  # type: ignore[arg-type]  # e.g. from socket.recv_into
    buffer[:] = b"x" * len(buffer)
    assert decoded_body(drain(conn)) == b"hello\r\n"


def test_receive_after_eof_is_a_local_error() -> None:
    conn = greeted()
    conn.receive_data(b"")
    with pytest.raises(LocalProtocolError):
        conn.receive_data(b"+OK\r\n")


def test_limits_below_a_usable_line_are_rejected() -> None:
    with pytest.raises(ValueError):
        ClientConnection(max_line=4)


# ---------------------------------------------------------------------------- EOF


def test_eof_mid_body_is_connection_lost_for_every_cut() -> None:
    for cut in range(len(RETR_WIRE)):
        conn = logged_in()
        conn.send(Command("RETR", ("1",)))
        if cut:  # cut 0: the reply never began
            conn.receive_data(RETR_WIRE[:cut])
            drain(conn)
        conn.receive_data(b"")
        with pytest.raises(ConnectionLost):
            drain(conn)
        assert conn.state is State.ERROR
        with pytest.raises(ConnectionLost):
            conn.next_event()


def test_eof_before_greeting_is_connection_lost() -> None:
    conn = ClientConnection()
    conn.receive_data(b"+OK hal")
    conn.receive_data(b"")
    with pytest.raises(ConnectionLost, match="greeting"):
        conn.next_event()


def test_eof_while_idle_is_a_clean_close() -> None:
    conn = logged_in()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.state is State.CLOSED


def test_eof_after_the_whole_reply_still_delivers_it() -> None:
    conn = logged_in()
    command = Command("RETR", ("1",))
    conn.send(command)
    conn.receive_data(b"+OK\r\nbody\r\n.\r\n")
    conn.receive_data(b"")
    assert drain(conn) == [
        Status(command, True, None, ""),
        Body(command, b"body\r\n"),
        End(command),
        ConnectionClosed(),
    ]


# ------------------------------------------------------------ Extended RETR resume


def test_resumed_retr_starting_on_a_dot_is_stuffed_as_a_line_start() -> None:
    message = b"Subject: a\r\n\r\nx.y.z\r\n"
    offset = message.index(b".y")
    rest = message[offset:]  # ".y.z\r\n": begins mid-line with "."
    conn = logged_in()
    conn.send(Command("RETR", ("1", str(offset))))
    conn.receive_data(b"+OK\r\n." + rest + b".\r\n")  # server doubles the leading "."
    assert decoded_body(drain(conn)) == rest


def test_resuming_right_after_a_cr_is_ambiguous_so_the_client_steps_back() -> None:
    message = b"abc\r\n.hidden\r\n"
    after_cr = message.index(b"\n")  # offset pointing at the LF of a CRLF
    rest = message[after_cr:]  # b"\n.hidden\r\n"
    # Server A stuffs the rest as a fresh stream: "\n" alone ends no line, no stuffing.
    server_a = b"+OK\r\n" + rest + b".\r\n"
    # Server B stuffs by the message's own lines: ".hidden" starts one, so it is doubled.
    server_b = b"+OK\r\n\n..hidden\r\n.\r\n"
    assert decoded_body(retr_events(server_a)) == rest
    assert decoded_body(retr_events(server_b)) != rest  # the client cannot tell A from B
    # Even the end is unclear: a rest of just b"\n" either gets a CRLF appended (it does
    # not end with one) or is sent as b"\n.\r\n", which is no terminator at all.
    assert decoded_body(retr_events(b"+OK\r\n\n\r\n.\r\n")) == b"\n\r\n"
    unended = logged_in()
    unended.send(Command("RETR", ("1", "2")))
    unended.receive_data(b"+OK\r\n\n.\r\n")
    assert decoded_body(drain(unended)) == b"\n.\r\n"  # the "terminator" became data
    assert unended.pending == 1  # still waiting for a terminator
    # One octet earlier, at the CR, the rest starts "\r\n." and both servers agree.
    rest = message[after_cr - 1 :]
    stuffed = b"+OK\r\n\r\n..hidden\r\n.\r\n"
    assert decoded_body(retr_events(stuffed)) == rest


def test_resume_at_the_end_of_a_message_is_an_empty_body() -> None:
    assert decoded_body(retr_events(b"+OK 0 octets\r\n.\r\n")) == b""


@pytest.mark.parametrize(
    "password", ["pa\x1dss-word", "a\x0bb\x0cc\x1ed", "tab\there", "\x85\u2028"]
)
def test_a_password_goes_out_whole_whatever_its_characters(password: str) -> None:
    wire = logged_out_pass(password)
    assert wire == f"PASS {password}\r\n".encode()


@pytest.mark.parametrize("password", ["a\rb", "a\nDELE 1", "nul\x00"])
def test_a_password_that_would_end_the_line_is_refused_unshown(password: str) -> None:
    with pytest.raises(LocalProtocolError, match=r"bad argument 1 for PASS: \*\*\*$"):
        logged_out_pass(password)


def logged_out_pass(password: str) -> bytes:
    conn = greeted()
    conn.send(Command("USER", ("demo",)))
    return conn.send(Command("PASS", (password,)))
