"""POP3 commands: the ``Command`` value and its checked wire form.

What a command may look like, independent of the connection's state: which verbs exist,
how many arguments each takes and what they may contain (RFC 1939, RFC 2449, RFC 5034),
the 255-octet line limit, and how secrets are kept out of reprs and transcripts. Which
command may be sent *when* is decided by the state machine in :mod:`core.pop3.protocol`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from core.errors import LocalProtocolError
from core.text import redact_command, redacted_args

__all__ = [
    "MAX_AUTH_LINE",
    "MAX_COMMAND_LINE",
    "VERBS",
    "Command",
    "encode_auth_line",
    "encode_command",
]

# RFC 2449 section 4: a command line is at most 255 octets, CRLF included.
MAX_COMMAND_LINE: Final = 255
# SASL client lines have no RFC limit; this cap only keeps a caller bug from growing a huge line.
MAX_AUTH_LINE: Final = 65536


@dataclass(frozen=True, slots=True, repr=False)
class Command:
    """One POP3 command. ``verb`` is upper-cased; arguments are checked by ``encode_command``.

    The repr hides passwords, APOP digests and SASL initial responses, because events
    carry their command and events end up in logs and tracebacks.
    """

    verb: str
    args: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "verb", self.verb.upper())
        object.__setattr__(self, "args", tuple(self.args))

    @property
    def multiline(self) -> bool:
        """Whether a +OK reply carries a body ended by ".": RFC 1939 per command."""
        if self.verb in ("CAPA", "TOP", "RETR"):
            return True
        return self.verb in ("LIST", "UIDL") and not self.args

    def redacted(self) -> str:
        """The command line as it may appear in a transcript: secrets replaced by "***"."""
        return redact_command(self.verb, self.args)

    def __repr__(self) -> str:
        return f"Command({self.verb!r}, {redacted_args(self.verb, self.args)!r})"


# ------------------------------------------------------------------ argument checks

_Check: TypeAlias = Callable[[str], bool]

_DIGITS = re.compile(r"[0-9]{1,18}")
_WORD = re.compile(r"[\x21-\x7e]+")
_MD5_HEX = re.compile(r"[0-9a-f]{32}")
_MECHANISM = re.compile(r"[A-Z0-9_-]{1,20}")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAKING = re.compile(r"[\r\n\x00]")  # all a secret must not hold: it would end the line


def _msgno(arg: str) -> bool:
    return _DIGITS.fullmatch(arg) is not None and int(arg) > 0


def _number(arg: str) -> bool:
    return _DIGITS.fullmatch(arg) is not None


def _word(arg: str) -> bool:
    return _WORD.fullmatch(arg) is not None


def _secret(arg: str) -> bool:
    # RFC 1939 lets PASS carry spaces (its only argument runs to the end of the line).
    return arg != ""


def _initial_response(arg: str) -> bool:
    # RFC 5034: base64, or "=" for an empty initial response.
    return arg == "=" or (arg != "" and len(arg) % 4 == 0 and _BASE64.fullmatch(arg) is not None)


# verb -> (required argument checks, optional argument checks)
_SYNTAX: Final[Mapping[str, tuple[tuple[_Check, ...], tuple[_Check, ...]]]] = {
    "USER": ((_word,), ()),
    "PASS": ((_secret,), ()),
    "APOP": ((_word, lambda a: _MD5_HEX.fullmatch(a) is not None), ()),
    "AUTH": ((lambda a: _MECHANISM.fullmatch(a) is not None,), (_initial_response,)),
    "STLS": ((), ()),
    "CAPA": ((), ()),
    "QUIT": ((), ()),
    "STAT": ((), ()),
    "NOOP": ((), ()),
    "RSET": ((), ()),
    "LIST": ((), (_msgno,)),
    "UIDL": ((), (_msgno,)),
    "DELE": ((_msgno,), ()),
    "RETR": ((_msgno,), (_number,)),  # optional offset: Extended RETR
    "TOP": ((_msgno, _number), ()),
}


# Every verb this client knows how to send.
VERBS: Final = frozenset(_SYNTAX)


def encode_command(command: Command) -> bytes:
    """Validate ``command``'s arguments and return its wire form; LocalProtocolError if bad."""
    verb, args = command.verb, command.args
    syntax = _SYNTAX.get(verb)
    if syntax is None:
        raise LocalProtocolError(f"unknown POP3 command {verb!r}")
    required, optional = syntax
    if not len(required) <= len(args) <= len(required) + len(optional):
        raise LocalProtocolError(
            f"{verb} takes {len(required)}-{len(required) + len(optional)}"
            f" arguments, got {len(args)}"
        )
    for index, (arg, check) in enumerate(zip(args, (*required, *optional), strict=False)):
        # Control characters first: a CR, LF or NUL would let an argument inject a command.
        # A password is taken whole otherwise (a user may have chosen "pa\x1dss").
        secret = verb == "PASS" or (verb in ("APOP", "AUTH") and index > 0)
        refused = _LINE_BREAKING if verb == "PASS" else _CONTROL
        if not isinstance(arg, str) or refused.search(arg) or not check(arg):
            shown = "***" if secret else repr(arg)
            raise LocalProtocolError(f"bad argument {index + 1} for {verb}: {shown}")
    line = " ".join((verb, *args)).encode("utf-8") + b"\r\n"
    if len(line) > MAX_COMMAND_LINE:
        raise LocalProtocolError(
            f"{verb} command line is {len(line)} octets, POP3 allows {MAX_COMMAND_LINE}"
        )
    return line


def encode_auth_line(line: str) -> bytes:
    """The wire form of a SASL client line: base64 data, or "*" to cancel the exchange."""
    if line != "*" and (
        len(line) % 4 or len(line) > MAX_AUTH_LINE or _BASE64.fullmatch(line) is None
    ):
        raise LocalProtocolError("a SASL line must be base64 or '*'")
    return line.encode("ascii") + b"\r\n"
