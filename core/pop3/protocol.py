"""Sans-IO POP3 client protocol: commands -> bytes, received bytes -> events.

Nothing here touches a socket, a thread or a clock, so the same object runs under a
blocking session, a test feeding one byte at a time, or a fuzzer (the h11 / wsproto shape):

    conn = ClientConnection()
    conn.receive_data(sock.recv(65536))     # b"" means EOF
    event = conn.next_event()               # an Event, or NEED_DATA
    sock.sendall(conn.send(Command("RETR", ("1",))))

Replies are matched to commands in the order they were sent (RFC 2449 PIPELINING).
Multi-line payloads come out as ``Body`` chunks that are large slices of what was received:
dot-unstuffing and the terminator search run on whole buffers with ``bytes.find`` and
``bytes.replace`` (C speed), never in a Python loop per line, and at most two received
octets are held back while the decoder waits to learn whether ``"\\r\\n."`` ends the reply.

Commands and their wire syntax live in :mod:`core.pop3.commands`; what the framed replies mean
(listings, status texts, -ERR codes) in :mod:`core.pop3.replies`.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, auto
from typing import Final, TypeAlias

from core.errors import (
    ConnectionLost,
    Desync,
    LocalProtocolError,
    PopError,
    RemoteProtocolError,
    TlsGreeting,
)
from core.pop3.commands import VERBS, Command, encode_auth_line, encode_command

__all__ = [
    "NEED_DATA",
    "Body",
    "ClientConnection",
    "ConnectionClosed",
    "Continuation",
    "End",
    "Event",
    "Greeting",
    "NeedData",
    "State",
    "Status",
]

_TERMINATOR: Final = b".\r\n"
# A TLS record header (handshake 0x16 or alert 0x15, version 3.x) where a greeting belongs.
_TLS_RECORD: Final = re.compile(rb"[\x15\x16]\x03")
# Dot-led lines decoded one by one per Body before switching to one bytes.replace.
_DOT_LINE_STEPS: Final = 32


class State(Enum):
    """Where the POP3 conversation stands (RFC 1939 section 3, plus CLOSED and ERROR)."""

    AUTHORIZATION = auto()  # also while waiting for the greeting
    TRANSACTION = auto()
    UPDATE = auto()  # QUIT sent from TRANSACTION: the server deletes; its reply says how it went
    CLOSED = auto()  # conversation over (QUIT answered, -ERR greeting, or the server closed idle)
    ERROR = auto()  # desynced, malformed reply or EOF mid-reply: the connection must be dropped


class NeedData(Enum):
    """Type of the ``NEED_DATA`` sentinel (an enum so ``is`` narrows it for mypy)."""

    NEED_DATA = auto()


NEED_DATA: Final = NeedData.NEED_DATA


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Greeting:
    """The server's first line. ``timestamp`` is the APOP "<...@...>" if the server offers one."""

    ok: bool
    text: str
    timestamp: str | None
    code: str | None = None  # RFC 2449 code of a refusing greeting, e.g. "SYS/TEMP"


@dataclass(frozen=True, slots=True)
class Status:
    """A +OK / -ERR line answering ``command``; ``code`` is the RFC 2449 "[CODE]", upper-cased."""

    command: Command
    ok: bool
    code: str | None
    text: str


@dataclass(frozen=True, slots=True)
class Continuation:
    """A "+ base64" SASL challenge during AUTH: answer it with ``send_auth_line``."""

    command: Command
    text: str


@dataclass(frozen=True, slots=True)
class Body:
    """An unstuffed chunk of a multi-line payload, CRLF kept as on the wire.

    Chunk borders follow the received data, not lines: join the chunks (or stream them).
    """

    command: Command
    data: bytes = field(repr=False)

    def __repr__(self) -> str:
        head = self.data[:32]
        more = "..." if len(self.data) > 32 else ""
        return f"Body({self.command!r}, {len(self.data)} bytes: {head!r}{more})"


@dataclass(frozen=True, slots=True)
class End:
    """The ".\\r\\n" terminator of a multi-line reply: the command is finished."""

    command: Command


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    """EOF while no reply was outstanding (after QUIT, or an idle server hung up)."""


Event: TypeAlias = Greeting | Status | Continuation | Body | End | ConnectionClosed


# ---------------------------------------------------------------------- state machine
#
# Everything that moves ``ClientConnection.state`` lives in this section.
#
# Which commands each state accepts (RFC 1939 section 3-6, RFC 2449 CAPA, RFC 2595 STLS):
_ALLOWED: Final[Mapping[State, frozenset[str]]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT"}),
    State.TRANSACTION: frozenset(
        {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "CAPA", "QUIT"}
    ),
    State.UPDATE: frozenset(),
    State.CLOSED: frozenset(),
    State.ERROR: frozenset(),
}

# Commands whose reply decides the state (or the server's input mode) of what follows:
# nothing may be pipelined behind them, so a command's state is always known when it is sent.
_BARRIERS: Final = frozenset({"PASS", "APOP", "AUTH", "STLS", "QUIT"})

_SENT: Final = "sent"
_OK: Final = "ok"
_ERR: Final = "err"
_GREETING: Final = "<greeting>"
_EOF: Final = "<eof>"  # EOF with no reply outstanding

# (state, verb or pseudo-event, outcome) -> next state. Not listed: the state stays.
# Any RemoteProtocolError or ConnectionLost moves to ERROR from every state.
_TRANSITIONS: Final[Mapping[tuple[State, str, str], State]] = {
    (State.AUTHORIZATION, _GREETING, _ERR): State.CLOSED,
    (State.AUTHORIZATION, "PASS", _OK): State.TRANSACTION,
    (State.AUTHORIZATION, "APOP", _OK): State.TRANSACTION,
    (State.AUTHORIZATION, "AUTH", _OK): State.TRANSACTION,
    (State.AUTHORIZATION, "QUIT", _OK): State.CLOSED,
    (State.AUTHORIZATION, "QUIT", _ERR): State.CLOSED,
    # The server enters UPDATE as it reads QUIT; a drop from here on leaves the deletion unknown.
    (State.TRANSACTION, "QUIT", _SENT): State.UPDATE,
    (State.UPDATE, "QUIT", _OK): State.CLOSED,  # every marked message removed
    (State.UPDATE, "QUIT", _ERR): State.CLOSED,  # some were not: check with UIDL next time
    (State.AUTHORIZATION, _EOF, _OK): State.CLOSED,
    (State.TRANSACTION, _EOF, _OK): State.CLOSED,  # idle server hung up: nothing deleted
}


# ----------------------------------------------------------------------- status lines

_RESP_CODE = re.compile(r"\[([^\]\s/]+(?:/[^\]\s/]+)*)\] ?")
_TIMESTAMP = re.compile(r"<[^<>\s@]*@[^<>\s]*>")


def _parse_status(line: bytes) -> tuple[bool, str | None, str]:
    """Split "+OK [CODE] text" / "-ERR ..." into (ok, code, text); reject anything else."""
    indicator, _, rest = line.partition(b" ")
    upper = indicator.upper()
    if upper == b"+OK":
        ok = True
    elif upper == b"-ERR":
        ok = False
    else:
        raise RemoteProtocolError(f"not a POP3 status line: {line[:80]!r}")
    text = rest.decode("utf-8", "replace")
    code: str | None = None
    match = _RESP_CODE.match(text)
    if match:
        code = match.group(1).upper()
        text = text[match.end() :]
    return ok, code, text


# ------------------------------------------------------------------------ connection


class ClientConnection:
    """The client side of one POP3 connection, without I/O.

    ``max_line`` bounds status lines (CRLF included; RFC 1939 says 512, servers exceed it).
    ``max_body_line`` bounds the lines of CAPA / LIST / UIDL listings (default: ``max_line``),
    which callers gather whole; RETR and TOP bodies stream at constant memory and have no
    line limit, since real mail does carry very long lines.
    """

    def __init__(self, *, max_line: int = 8192, max_body_line: int | None = None) -> None:
        if max_line < 16 or (max_body_line is not None and max_body_line < 16):
            raise ValueError("line limits below 16 octets cannot hold a POP3 line")
        self._state = State.AUTHORIZATION
        self._max_line = max_line
        self._max_listing_line = max_body_line if max_body_line is not None else max_line
        self._greeted = False
        self._queue: deque[Command] = deque()
        self._chunks: list[bytes] = []  # received, not yet merged into _buf
        self._buf = b""
        self._pos = 0  # _buf[:_pos] is consumed
        self._eof = False
        self._in_body = False  # the head command's +OK came; its payload is being decoded
        self._line_start = True  # the next payload octet begins a line
        self._line_len = 0  # listing line length so far (for max_body_line)
        self._auth_turn = False  # a "+ " challenge came; the client owes a line
        self._tls_started = False
        self._after_end: Command | None = None  # the multi-line reply that just ended
        self._error: PopError | None = None

    # ---- public state

    @property
    def state(self) -> State:
        return self._state

    @property
    def pending(self) -> int:
        """Commands sent whose reply has not finished (End or a final Status)."""
        return len(self._queue)

    @property
    def buffered(self) -> int:
        """Received octets not yet turned into events. Whenever ``next_event`` returns
        NEED_DATA this is below ``max_line`` (a status line still incomplete) and at most 2
        inside a payload: no reply can make the buffer grow without bound."""
        return len(self._buf) - self._pos + sum(map(len, self._chunks))

    @property
    def awaiting_auth_line(self) -> bool:
        """True after a Continuation, until ``send_auth_line`` answers it."""
        return self._auth_turn

    # ---- sending

    def send(self, command: Command) -> bytes:
        """Queue ``command`` and return its wire bytes; LocalProtocolError if not allowed now.

        Nothing is queued when it raises, so the connection stays usable.
        """
        verb = command.verb
        if self._state in (State.UPDATE, State.CLOSED, State.ERROR):
            raise LocalProtocolError(f"cannot send {verb} in state {self._state.name}")
        if not self._greeted:
            raise LocalProtocolError(f"cannot send {verb} before the server's greeting")
        # Nothing is queued behind a barrier, so only the newest command can be one.
        barrier = self._queue[-1] if self._queue and self._queue[-1].verb in _BARRIERS else None
        if barrier is not None:
            raise LocalProtocolError(
                f"cannot send {verb} before the reply to {barrier.verb}: that reply decides"
                f" what may follow (state {self._state.name})"
            )
        if verb in VERBS and verb not in _ALLOWED[self._state]:
            raise LocalProtocolError(f"{verb} is not allowed in state {self._state.name}")
        if verb == "STLS" and self._tls_started:
            raise LocalProtocolError("STLS was already done on this connection")
        line = encode_command(command)
        self._queue.append(command)
        self._move(verb, _SENT)
        return line

    def send_auth_line(self, line: str) -> bytes:
        """Answer a SASL Continuation: base64 data, or "*" to cancel the exchange."""
        if not self._auth_turn:
            raise LocalProtocolError(f"no SASL challenge to answer (state {self._state.name})")
        data = encode_auth_line(line)
        self._auth_turn = False
        return data

    # ---- receiving

    def receive_data(self, data: bytes) -> None:
        """Buffer received octets; ``b""`` means the peer closed (EOF)."""
        if self._eof:
            raise LocalProtocolError("receive_data after EOF")
        if data:
            self._chunks.append(bytes(data))
        else:
            self._eof = True

    def next_event(self) -> Event | NeedData:
        """The next event from buffered data, or NEED_DATA.

        Raises RemoteProtocolError for a malformed reply and ConnectionLost for EOF in the
        middle of one; both leave the state ERROR and are raised again on later calls.

        Desync (a RemoteProtocolError) means the octets after a multi-line reply's terminator
        are not a status line: that reply ended early (an unstuffed "." line), so its payload
        is not the whole message. Calling this with no command outstanding is how a caller
        checks for such octets after an End: NEED_DATA if none arrived, Desync if some did.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except (RemoteProtocolError, ConnectionLost) as exc:
            self._state = State.ERROR
            self._error = exc
            raise

    # ---- internals

    def _move(self, verb: str, outcome: str) -> None:
        self._state = _TRANSITIONS.get((self._state, verb, outcome), self._state)

    def _merge(self) -> None:
        chunks = self._chunks
        if chunks:
            rest = self._buf[self._pos :]
            if rest:
                chunks.insert(0, rest)
            self._buf = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            self._pos = 0
            self._chunks = []
        elif self._pos and self._pos == len(self._buf):
            self._buf = b""  # let a big consumed buffer go
            self._pos = 0

    def _next(self) -> Event | NeedData:
        self._merge()
        if not self._greeted:
            self._check_tls_greeting()
            line = self._take_line("the greeting")
            if line is None:
                return self._starved("the greeting")
            return self._greeting(line)
        if self._queue:
            head = self._queue[0]
            if self._in_body:
                return self._body(head)
            line = self._take_line(head.verb)
            if line is None:
                return self._starved(head.verb)
            return self._reply(head, line)
        if self._pos < len(self._buf):
            preview = self._buf[self._pos : self._pos + 80]
            if self._after_end is not None:
                raise Desync(
                    f"data after the end of the reply to {self._after_end.redacted()},"
                    f" with no command outstanding: {preview!r}"
                )
            raise RemoteProtocolError(f"unsolicited data from the server: {preview!r}")
        if self._eof:
            self._move(_EOF, _OK)
            return ConnectionClosed()
        return NEED_DATA

    def _starved(self, what: str) -> NeedData:
        if self._eof:
            raise ConnectionLost(f"connection closed in the middle of the reply to {what}")
        return NEED_DATA

    def _take_line(self, what: str) -> bytes | None:
        """One CRLF-ended line (CRLF removed) or None; RemoteProtocolError past max_line."""
        buf, pos = self._buf, self._pos
        end = buf.find(b"\r\n", pos, pos + self._max_line)
        if end < 0 or end + 2 - pos > self._max_line:
            if len(buf) - pos >= self._max_line:
                raise RemoteProtocolError(
                    f"reply line to {what} longer than {self._max_line} octets"
                )
            return None
        self._pos = end + 2
        return buf[pos:end]

    def _check_tls_greeting(self) -> None:
        """A TLS record where the greeting belongs: this port speaks TLS from the first byte."""
        if _TLS_RECORD.match(self._buf, self._pos):
            raise TlsGreeting(
                "the server answered with TLS, not a POP3 greeting: this port expects"
                " the SSL/TLS security setting"
            )

    def _greeting(self, line: bytes) -> Greeting:
        ok, code, text = _parse_status(line)
        self._greeted = True
        match = _TIMESTAMP.search(text) if ok else None
        if not ok:
            self._move(_GREETING, _ERR)
        return Greeting(ok, text, match.group(0) if match else None, code)

    def _reply(self, head: Command, line: bytes) -> Status | Continuation:
        if line == b"+" or line.startswith(b"+ "):
            if head.verb != "AUTH":
                raise RemoteProtocolError(f"SASL continuation in reply to {head.verb}")
            self._auth_turn = True
            return Continuation(head, line[2:].decode("ascii", "replace"))
        ended, self._after_end = self._after_end, None
        try:
            ok, code, text = _parse_status(line)
        except RemoteProtocolError as exc:
            if ended is None:
                raise
            raise Desync(
                f"the reply to {ended.redacted()} ended early: the next line is not a"
                f" status line: {line[:80]!r}"
            ) from exc
        self._auth_turn = False
        if ok and head.multiline:
            self._in_body = True
            self._line_start = True
            self._line_len = 0
        else:
            self._queue.popleft()
        self._move(head.verb, _OK if ok else _ERR)
        if head.verb == "STLS" and ok:
            if self._pos < len(self._buf):
                # Plaintext sent after "+OK" would be read as if it came over TLS.
                raise RemoteProtocolError("data after the STLS reply, before TLS began")
            self._tls_started = True
        return Status(head, ok, code, text)

    def _body(self, head: Command) -> Body | End | NeedData:
        """Decode as much payload as the buffer allows into one Body (or the End).

        Invariant: ``_line_start`` says whether ``_buf[_pos]`` begins a line; inside the
        buffer every other line start follows a CRLF, so all the decoder looks for is
        ``b"\\r\\n."``: followed by CRLF it ends the reply, otherwise its "." is stuffing
        (RFC 1939 strips the first "." of any line that is not ".CRLF").
        """
        buf, pos = self._buf, self._pos
        end = len(buf)
        if self._line_start:
            if pos == end:
                return self._starved(head.verb)
            if buf[pos] == 0x2E:  # "."
                if buf.startswith(_TERMINATOR, pos):
                    self._pos = pos + 3
                    self._in_body = False
                    self._queue.popleft()
                    self._after_end = head
                    return End(head)
                if _TERMINATOR.startswith(buf[pos:end]):
                    return self._starved(head.verb)  # "." or ".\r": not known yet
                pos += 1  # the stuffing dot
            self._line_start = False
        # Fast path: one bytes.find scan, a Python step only per *dot-led* line (rare in
        # mail); past _DOT_LINE_STEPS of them the C-level replace below takes over.
        pieces: list[bytes] = []
        start = pos
        # memchr first: a base64 body holds no "." at all, and the first "\r\n." can only
        # begin two octets before the first ".".
        dot = buf.find(b".", pos)
        found = -1 if dot < 0 else buf.find(b"\r\n.", max(pos, dot - 2))
        cut = -1
        for _ in range(_DOT_LINE_STEPS):
            if found < 0:
                break
            after = buf[found + 3 : found + 5]
            if after == b"\r\n" or (len(after) < 2 and b"\r\n".startswith(after)):
                cut, line_start = found + 2, True  # the terminator, or maybe it: hold ".", ".\r"
                break
            pieces.append(buf[start : found + 2])
            start = found + 3
            found = buf.find(b"\r\n.", start)
        if cut < 0:
            cut, line_start = _safe_cut(buf, start, found, end)
        self._pos = cut
        self._line_start = line_start
        if cut == pos:
            return self._starved(head.verb)
        rest = buf[start:cut]
        if 0 <= found < cut - 2:  # only after many dot-led lines: strip the rest in C
            rest = rest.replace(b"\r\n.", b"\r\n")
        data = b"".join((*pieces, rest)) if pieces else rest
        if head.verb not in ("RETR", "TOP"):
            self._check_listing(head, data)
        return Body(head, data)

    def _check_listing(self, head: Command, data: bytes) -> None:
        """Bound listing lines (callers gather listings whole) without a loop per line."""
        limit = self._max_listing_line - 2
        first = data.find(b"\r\n")
        if first < 0:
            longest = self._line_len + len(data)
            self._line_len = longest
        else:
            last = data.rfind(b"\r\n")
            longest = self._line_len + first
            if last > first:
                longest = max(longest, *map(len, data[first + 2 : last].split(b"\r\n")))
            self._line_len = len(data) - last - 2
            longest = max(longest, self._line_len)
        if longest > limit:
            raise RemoteProtocolError(
                f"line in the {head.verb} listing longer than {self._max_listing_line} octets"
            )


def _safe_cut(buf: bytes, start: int, found: int, end: int) -> tuple[int, bool]:
    """Where the decodable part of ``buf[start:end]`` stops, and whether a line starts there.

    ``found`` is the first ``b"\\r\\n."`` at or after ``start`` (-1 if none). Held back:
    at most ".\\r" or "." after a CRLF (terminator or stuffing?) or a final "\\r".
    """
    stop = buf.find(b"\r\n.\r\n", found) if found >= 0 else -1
    if stop >= 0:
        return stop + 2, True
    if buf.endswith(b"\r\n.\r", start):
        return end - 2, True
    if buf.endswith(b"\r\n.", start):
        return end - 1, True
    if buf.endswith(b"\r\n", start):
        return end, True
    if buf.endswith(b"\r", start):
        return end - 1, False
    return end, False
