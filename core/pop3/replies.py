"""What the server's replies mean: listing and status-text parsers, -ERR -> exception.

Pure functions over data that :class:`core.pop3.protocol.ClientConnection` has already framed:
a multi-line payload (joined ``Body`` chunks, CRLF kept) or the text of a ``Status``.
Anything malformed raises RemoteProtocolError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from core.errors import (
    AuthenticationError,
    LoginDelay,
    NoSuchMessage,
    OffsetOverrun,
    RemoteProtocolError,
    ServerError,
)
from core.pop3.protocol import Status

__all__ = [
    "announced_login_delay",
    "error_for",
    "parse_capa",
    "parse_list_size",
    "parse_login_delay",
    "parse_scan_listing",
    "parse_stat",
    "parse_uidl_line",
    "parse_uidl_listing",
    "split_uidl_listing",
]

_SCAN_LINE = re.compile(rb"([0-9]{1,18}) +([0-9]{1,18})(?: [^\r\n]*)?")
_UIDL_LINE = re.compile(rb"([0-9]{1,18}) +([\x21-\x7e]{1,70})")
_COUNT_SIZE = re.compile(r"([0-9]{1,18}) +([0-9]{1,18})(?: .*)?", re.DOTALL)
_UIDL_TEXT = re.compile(r"([0-9]{1,18}) +([\x21-\x7e]{1,70})")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")
_DIGITS = re.compile(r"[0-9]{1,18}")


def _listing_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\r\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def parse_capa(data: bytes) -> dict[str, tuple[str, ...]]:
    """CAPA body -> {TAG: args}; tags upper-cased, a repeated tag's arguments joined."""
    capa: dict[str, tuple[str, ...]] = {}
    for line in _listing_lines(data):
        words = line.decode("utf-8", "replace").split()  # str.split knows U+0085 and kin
        if not words or _CONTROL_BYTES.search(line):
            raise RemoteProtocolError(f"bad CAPA line: {line[:80]!r}")
        tag, *args = words
        key = tag.upper()
        capa[key] = (*capa.get(key, ()), *args)
    return capa


def parse_scan_listing(data: bytes) -> list[tuple[int, int]]:
    """LIST body -> [(number, size)]; RFC 1939 allows more text after the size."""
    result: list[tuple[int, int]] = []
    seen: set[int] = set()
    for line in _listing_lines(data):
        match = _SCAN_LINE.fullmatch(line)
        if match is None or int(match.group(1)) == 0 or int(match.group(1)) in seen:
            raise RemoteProtocolError(f"bad LIST line: {line[:80]!r}")
        number = int(match.group(1))
        seen.add(number)
        result.append((number, int(match.group(2))))
    return result


def split_uidl_listing(data: bytes) -> tuple[list[tuple[int, str]], list[bytes]]:
    """UIDL body -> ([(number, uidl)], [bad lines]): a bad line affects its message only.

    A UIDL is 1-70 octets in 0x21-0x7E (RFC 1939); a line breaking that (71 octets, control
    characters), a number 0 or a number seen before is returned raw in the second list for
    the caller to report. Duplicate *UIDLs* are returned as sent (the caller decides); UIDLs
    may hold "/" or "..", so never make a file name of one.
    """
    good: list[tuple[int, str]] = []
    bad: list[bytes] = []
    seen: set[int] = set()
    for line in _listing_lines(data):
        match = _UIDL_LINE.fullmatch(line)
        if match is None or int(match.group(1)) == 0 or int(match.group(1)) in seen:
            bad.append(line)
            continue
        number = int(match.group(1))
        seen.add(number)
        good.append((number, match.group(2).decode("ascii")))
    return good, bad


def parse_uidl_listing(data: bytes) -> list[tuple[int, str]]:
    """UIDL body -> [(number, uidl)]; RemoteProtocolError for the first bad line."""
    good, bad = split_uidl_listing(data)
    if bad:
        raise RemoteProtocolError(f"bad UIDL line: {bad[0][:80]!r}")
    return good


def _count_size(text: str, what: str) -> tuple[int, int]:
    match = _COUNT_SIZE.fullmatch(text.strip(" "))
    if match is None:
        raise RemoteProtocolError(f"bad {what} reply: {text[:80]!r}")
    return int(match.group(1)), int(match.group(2))


def parse_stat(text: str) -> tuple[int, int]:
    """Text of "+OK count size" (STAT) -> (count, size in octets)."""
    return _count_size(text, "STAT")


def parse_list_size(text: str) -> tuple[int, int]:
    """Text of "+OK n size" (LIST n) -> (n, size in octets)."""
    number, size = _count_size(text, "LIST")
    if number == 0:
        raise RemoteProtocolError(f"bad LIST reply: {text[:80]!r}")
    return number, size


def parse_uidl_line(text: str) -> tuple[int, str]:
    """Text of "+OK n uidl" (UIDL n) -> (n, uidl), validated like the listing."""
    match = _UIDL_TEXT.fullmatch(text.strip(" "))
    if match is None or int(match.group(1)) == 0:
        raise RemoteProtocolError(f"bad UIDL reply: {text[:80]!r}")
    return int(match.group(1)), match.group(2)


def parse_login_delay(capa: Mapping[str, tuple[str, ...]]) -> tuple[int, bool] | None:
    """CAPA "LOGIN-DELAY n [USER]" -> (seconds, per_user), or None when not announced.

    ``per_user`` (the "USER" flag, sent before login) means the value may change after login.
    Only 1-18 decimal digits pass ("inf", "1e9", "-1", "300.5" are RemoteProtocolError), so
    the value is always an int a clock can add; whether it is obeyed is MAX_SERVER_WAIT's call.
    """
    args = capa.get("LOGIN-DELAY")
    if args is None:
        return None
    if (
        not 1 <= len(args) <= 2
        or _DIGITS.fullmatch(args[0]) is None
        or (len(args) == 2 and args[1].upper() != "USER")
    ):
        raise RemoteProtocolError(f"bad CAPA LOGIN-DELAY: {' '.join(args)[:80]!r}")
    return int(args[0]), len(args) == 2


def announced_login_delay(capa: Mapping[str, tuple[str, ...]]) -> int | None:
    """The CAPA LOGIN-DELAY in seconds; None when absent or malformed.

    A malformed announcement is dropped (DESIGN rule 17: a capability that misbehaves is not
    used), so nothing that reads it, such as the -ERR path, fails on it.
    """
    try:
        parsed = parse_login_delay(capa)
    except RemoteProtocolError:
        return None
    return None if parsed is None else parsed[0]


def error_for(status: Status, *, login_delay: float = 0.0) -> ServerError:
    """The exception a -ERR ``status`` stands for, so callers never parse reply texts.

    A login refusal without a code is an AuthenticationError (never retried); with
    IN-USE / SYS/TEMP / LOGIN-DELAY it stays a retryable ServerError.
    """
    name, text, code = status.command.redacted(), status.text, status.code
    if code == "LOGIN-DELAY":
        return LoginDelay(name, text, login_delay)
    if code == "OFFSET-OVERRUN":
        return OffsetOverrun(name, text, code)
    if code == "NON-EXISTENT":
        return NoSuchMessage(name, text, code)
    if code == "AUTH" or (code is None and status.command.verb in ("USER", "PASS", "APOP", "AUTH")):
        return AuthenticationError(name, text, code)
    return ServerError(name, text, code)
