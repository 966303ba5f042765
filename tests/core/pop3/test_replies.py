"""core.pop3.replies: listing and status-text parsers, and what a -ERR reply stands for."""

from __future__ import annotations

import pytest

from core.errors import (
    MAX_SERVER_WAIT,
    AuthenticationError,
    LoginDelay,
    NoSuchMessage,
    OffsetOverrun,
    RemoteProtocolError,
    ServerError,
)
from core.pop3.commands import Command
from core.pop3.protocol import Status
from core.pop3.replies import (
    announced_login_delay,
    error_for,
    parse_capa,
    parse_list_size,
    parse_login_delay,
    parse_scan_listing,
    parse_stat,
    parse_uidl_line,
    parse_uidl_listing,
    split_uidl_listing,
)


def test_parse_capa() -> None:
    capa = parse_capa(
        b"TOP\r\nuser\r\nSASL PLAIN LOGIN\r\nSASL CRAM-MD5\r\nRESP-CODES\r\n"
        b"LOGIN-DELAY 900 USER\r\nIMPLEMENTATION Shlemazle-Plotz-v302\r\nEXT-RETR\r\n"
    )
    assert capa == {
        "TOP": (),
        "USER": (),
        "SASL": ("PLAIN", "LOGIN", "CRAM-MD5"),
        "RESP-CODES": (),
        "LOGIN-DELAY": ("900", "USER"),
        "IMPLEMENTATION": ("Shlemazle-Plotz-v302",),
        "EXT-RETR": (),
    }
    assert parse_capa(b"") == {}


@pytest.mark.parametrize("line", [b"", b"   ", b"\xc2\x85", b"\xe2\x80\xa8", b"TOP\x07"])
def test_a_capa_line_of_only_unicode_spaces_or_with_control_bytes_is_a_protocol_error(
    line: bytes,
) -> None:
    with pytest.raises(RemoteProtocolError, match="bad CAPA line"):
        parse_capa(b"TOP\r\n" + line + b"\r\n")


def test_parse_login_delay() -> None:
    capa = parse_capa(b"LOGIN-DELAY 900 USER\r\n")
    assert parse_login_delay(capa) == (900, True)
    assert parse_login_delay({"LOGIN-DELAY": ("300",)}) == (300, False)
    assert parse_login_delay({}) is None


@pytest.mark.parametrize("data", [b"TOP\r\n\r\nUSER\r\n", b"TO\x00P\r\n", b"TOP\rUSER\r\n"])
def test_parse_capa_rejects_junk(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_capa(data)


JUNK_DELAYS = [("x",), ("5", "ALL"), (), ("-1",), ("1", "USER", "x"), ("inf",), ("nan",),
               ("1e9",), ("300.5",), ("9" * 19,), ("\u0663",), ("+5",)]


@pytest.mark.parametrize("args", JUNK_DELAYS)
def test_parse_login_delay_rejects_junk(args: tuple[str, ...]) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_login_delay({"LOGIN-DELAY": args})
    assert announced_login_delay({"LOGIN-DELAY": args}) is None  # dropped, never raised


def test_a_login_delay_past_the_cap_is_not_retried() -> None:
    assert announced_login_delay({"LOGIN-DELAY": ("1000000",)}) == 1000000
    assert LoginDelay("PASS", "wait", MAX_SERVER_WAIT).retryable
    assert not LoginDelay("PASS", "wait", MAX_SERVER_WAIT + 1).retryable


def test_parse_scan_listing() -> None:
    assert parse_scan_listing(b"1 120\r\n2 200 extra info\r\n") == [(1, 120), (2, 200)]
    assert parse_scan_listing(b"") == []


@pytest.mark.parametrize(
    "data",
    [
        b"1\r\n",
        b"1 x\r\n",
        b"0 12\r\n",
        b"1 1\r\n1 2\r\n",
        b"a 1\r\n",
        b"1 -5\r\n",
        b"1 1\n2 2\r\n",
        b"1 " + b"9" * 19 + b"\r\n",
    ],
)
def test_parse_scan_listing_rejects_junk(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_scan_listing(data)


def test_parse_uidl_listing_accepts_any_printable_uidl() -> None:
    uid70 = "~" * 70
    data = f"1 whqtswO00WBw418f9t5JxYwZ\r\n2 ../../etc/passwd\r\n3 {uid70}\r\n4 !\r\n".encode()
    assert parse_uidl_listing(data) == [
        (1, "whqtswO00WBw418f9t5JxYwZ"),
        (2, "../../etc/passwd"),
        (3, uid70),
        (4, "!"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        b"1 " + b"a" * 71 + b"\r\n",
        b"1 a b\r\n",
        b"1 \x7f\r\n",
        b"1 caf\xc3\xa9\r\n",
        b"1\r\n",
        b"1 \r\n",
        b"0 a\r\n",
        b"1 a\r\n1 b\r\n",
        b"1 a\tb\r\n",
    ],
)
def test_parse_uidl_listing_rejects_junk(data: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_uidl_listing(data)


def test_single_line_parsers() -> None:
    assert parse_stat("2 320") == (2, 320)
    assert parse_stat("0 0 maildrop empty") == (0, 0)
    assert parse_list_size("2 200") == (2, 200)
    assert parse_uidl_line("2 QhdPYR:00WBw1Ph7x7") == (2, "QhdPYR:00WBw1Ph7x7")
    for bad in ("", "2", "two 320", "2 -1", "2 \uff13\uff12\uff10"):
        with pytest.raises(RemoteProtocolError):
            parse_stat(bad)
    with pytest.raises(RemoteProtocolError):
        parse_list_size("0 200")
    with pytest.raises(RemoteProtocolError):
        parse_uidl_line("2 " + "x" * 71)


@pytest.mark.parametrize(
    ("verb", "code", "kind", "retryable"),
    [
        ("PASS", None, AuthenticationError, False),
        ("PASS", "AUTH", AuthenticationError, False),
        ("PASS", "IN-USE", ServerError, True),
        ("PASS", "SYS/TEMP", ServerError, True),
        ("PASS", "SYS/PERM", ServerError, False),
        ("PASS", "LOGIN-DELAY", LoginDelay, True),
        ("RETR", "OFFSET-OVERRUN", OffsetOverrun, False),
        ("RETR", "NON-EXISTENT", NoSuchMessage, False),
        ("DELE", None, ServerError, False),
    ],
)
def test_error_for_maps_codes_to_exceptions(
    verb: str, code: str | None, kind: type[ServerError], retryable: bool
) -> None:
    args = ("1",) if verb in ("RETR", "DELE") else ("pw",)
    error = error_for(Status(Command(verb, args), False, code, "text"), login_delay=300)
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.code == code
    if isinstance(error, LoginDelay):
        assert error.delay == 300


def test_split_uidl_listing_keeps_the_good_lines_and_returns_the_bad() -> None:
    data = (b"1 good\r\n2 " + b"x" * 71 + b"\r\n3 ctl\x1bchar\r\n0 zero\r\n4 dup\r\n"
            b"4 again\r\n5 dup\r\n")
    good, bad = split_uidl_listing(data)
    assert good == [(1, "good"), (4, "dup"), (5, "dup")]
    assert bad == [b"2 " + b"x" * 71, b"3 ctl\x1bchar", b"0 zero", b"4 again"]
    with pytest.raises(RemoteProtocolError, match="bad UIDL line"):
        parse_uidl_listing(data)
