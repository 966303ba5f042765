"""One blocking POP3 session over a Transport, driving the sans-IO protocol.

The session knows commands and replies; it knows nothing of UIDL bookkeeping, retries or
the store (that is the engine's job). Every wait is bounded: a read that sees no byte for
``read_timeout`` seconds is a dead link (ReadTimeout); a reply that trickles is cut off
by an overall deadline (``read_timeout`` plus one second per MIN_RATE octets); and every
read looks at the ``stop`` callback each ``poll`` seconds, so a shutdown or disconnect
takes effect within a second anywhere in a session. ``poll`` is only that: the TLS
handshake after STLS runs under the user's timeout, never under the poll interval.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from core.auth import sasl
from core.errors import (
    AuthenticationError,
    BodyOverrun,
    ConnectionLost,
    Desync,
    Interrupted,
    LocalProtocolError,
    NoGreeting,
    ReadTimeout,
    RemoteProtocolError,
    SecurityError,
    ServerError,
)
from core.net import Dialer, Security, TlsPolicy, Transport, connect
from core.pop3 import protocol, replies
from core.pop3.commands import Command
from core.pop3.protocol import Body, End, Greeting, Status
from core.pop3.sizes import overrun_limit

Transcript = Callable[[bool, str], None]
Sink = Callable[[bytes], None]

DEFAULT_LOGIN_DELAY = 60.0
PIPELINE_WINDOW = 256  # commands in flight at once: bounds our send buffer and the server's
MIN_RATE = 256  # octets/s a reply must average, after its first read_timeout, to go on


@dataclass
class ServerInfo:
    greeting: str = ""
    timestamp: str | None = None
    capabilities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    secure: bool = False

    @property
    def ext_retr(self) -> bool:
        return "EXT-RETR" in self.capabilities

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.capabilities

    @property
    def sasl(self) -> tuple[str, ...]:
        return tuple(m.upper() for m in self.capabilities.get("SASL", ()))

    @property
    def login_delay(self) -> float | None:
        return replies.announced_login_delay(self.capabilities)

    def describe(self) -> str:
        """One line for a "Test connection" dialog and the log."""
        caps = " ".join(sorted(self.capabilities)) or "(no CAPA)"
        return f"{'TLS' if self.secure else 'plaintext'}; {caps}"


class Session:
    """A POP3 connection from greeting to QUIT. Not thread-safe: one worker thread owns it."""

    def __init__(
        self,
        transport: Transport,
        *,
        transcript: Transcript | None = None,
        read_timeout: float = 60.0,
        poll: float = 0.5,
        bufsize: int = 256 * 1024,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self._transport = transport
        self._conn = protocol.ClientConnection()
        self._log = transcript
        self._read_timeout = read_timeout
        self._poll = min(poll, read_timeout)
        self._bufsize = bufsize
        self._stop = stop
        self._exchange_start = time.monotonic()
        self._exchange_octets = 0
        self.body_octets = 0  # of the multi-line reply being read: where a break happened
        self.reply_started = False  # that reply's status line arrived (+OK or -ERR)
        self._body_parts: list[bytes] = []  # that reply's octets so far (bounded by its limit)
        self.info = ServerInfo(secure=transport.secure)
        self._transport.set_timeout(self._poll)

    # -- plumbing ---------------------------------------------------------------------

    def _note(self, sent: bool, text: str) -> None:
        if self._log is not None:
            self._log(sent, text)

    def _note_status(self, event: Status) -> None:
        if self._log is not None:
            self._log(False, f"{'+OK' if event.ok else '-ERR'} {_code(event)}{event.text}")

    def _send(self, commands: Sequence[Command]) -> None:
        wire = b"".join(self._conn.send(c) for c in commands)
        if self._log is not None:  # no line formatted for a log nobody keeps
            for c in commands:
                self._log(True, c.redacted())
        self._transport.sendall(wire)
        self._exchange_start = time.monotonic()
        self._exchange_octets = 0

    def _fill(self, check: Callable[[], None] | None) -> None:
        waited = 0.0
        while True:
            if self._stop is not None and self._stop():
                raise Interrupted("stopped")
            if check is not None:
                check()
            try:
                data = self._transport.recv(self._bufsize)
            except ReadTimeout:
                waited += self._poll
                if waited >= self._read_timeout:
                    raise ReadTimeout(
                        f"no data from the server for {self._read_timeout:.0f} s"
                    ) from None
                continue
            self._conn.receive_data(data)
            if not data:
                raise ConnectionLost("the server closed the connection")
            self._exchange_octets += len(data)
            allowed = self._read_timeout + self._exchange_octets / MIN_RATE
            if time.monotonic() - self._exchange_start > allowed:
                raise ReadTimeout(
                    f"the server trickles its reply ({self._exchange_octets} octets in "
                    f"{time.monotonic() - self._exchange_start:.0f} s): treated as a dead link"
                )
            return

    def _event(self, check: Callable[[], None] | None = None) -> object:
        while True:
            event = self._conn.next_event()
            if event is not protocol.NEED_DATA:
                return event
            self._fill(check)

    def unfinished_body(self) -> bytes:
        """After a break mid-reply: the octets of the reply that was being collected."""
        return b"".join(self._body_parts[:])

    def _status(self, command: Command) -> Status:
        self.body_octets = 0
        self._body_parts = []
        self.reply_started = False
        event = self._event()
        if not isinstance(event, Status):
            raise RemoteProtocolError(f"expected a status line for {command.verb}, got {event!r}")
        self.reply_started = True
        self._note_status(event)
        return event

    def _ok(self, command: Command) -> Status:
        status = self._status(command)
        if not status.ok:
            raise replies.error_for(status, login_delay=self._login_delay())
        return status

    def _login_delay(self) -> float:
        return self.info.login_delay or DEFAULT_LOGIN_DELAY

    def _simple(self, verb: str, *args: str) -> Status:
        command = Command(verb, tuple(args))
        self._send([command])
        return self._ok(command)

    def _collect(self, command: Command, limit: int) -> bytes:
        parts: list[bytes] = []
        self._body_parts = parts
        total = self.body_octets = 0
        while True:
            event = self._event()
            if isinstance(event, End):
                return b"".join(parts)
            if not isinstance(event, Body):
                raise RemoteProtocolError(f"unexpected {event!r} in the reply to {command.verb}")
            total += len(event.data)
            self.body_octets = total
            if total > limit:
                what = " ".join((command.verb, *command.args[:1]))
                bound = "its LIST size and margin" if command.verb == "RETR" else "the limit"
                raise BodyOverrun(f"the reply to {what} runs past {bound}: over {limit} octets")
            parts.append(event.data)

    def _multi(self, verb: str, *args: str, limit: int = 64 * 1024 * 1024) -> bytes:
        command = Command(verb, tuple(args))
        self._send([command])
        self._ok(command)
        return self._collect(command, limit)

    # -- AUTHORIZATION ----------------------------------------------------------------

    def greet(self) -> Greeting:
        try:
            event = self._event()
        except ReadTimeout:
            raise NoGreeting(
                f"no greeting from the server within {self._read_timeout:.0f} s"
            ) from None
        if not isinstance(event, Greeting):
            raise RemoteProtocolError(f"expected a greeting, got {event!r}")
        self._note(False, f"{'+OK' if event.ok else '-ERR'} {event.text}")
        if not event.ok:
            raise ServerError("greeting", event.text)
        self.info.greeting = event.text
        self.info.timestamp = event.timestamp
        return event

    def capa(self) -> dict[str, tuple[str, ...]]:
        """CAPA, or an empty dict for an RFC 1939-only server that answers -ERR."""
        command = Command("CAPA")
        self._send([command])
        status = self._status(command)
        if not status.ok:
            self.info.capabilities = {}
            return {}
        self.info.capabilities = replies.parse_capa(self._collect(command, 64 * 1024))
        return self.info.capabilities

    def starttls(self, host: str, policy: TlsPolicy) -> None:
        if "STLS" not in self.info.capabilities:
            raise SecurityError(
                f"{host} does not offer STARTTLS (STLS); choose SSL/TLS or allow plaintext"
            )
        self._simple("STLS")  # the protocol refuses plaintext queued behind +OK (injection)
        # The handshake is its own phase: the user's timeout, not the poll interval.
        self._transport.set_timeout(self._read_timeout)
        try:
            self._transport.start_tls(host, policy)
        finally:
            if not self._transport.closed:
                self._transport.set_timeout(self._poll)
        self.info.secure = True
        self.capa()  # RFC 2595: capabilities may differ after TLS; forget the old ones

    def login(
        self,
        user: str,
        password: str | sasl.TokenSource,
        *,
        method: str = "auto",
        allow_plaintext: bool = False,
    ) -> str:
        """Authenticate; returns the method used. Refuses to send a secret in the clear.

        ``password`` is a TokenSource for the bearer methods (xoauth2, oauthbearer), else text.
        """
        method = self._choose(method, allow_plaintext)
        if method.upper() in sasl.BEARER_MECHANISMS:
            if isinstance(password, str):
                raise LocalProtocolError(f"{method} needs a token source, not a password")
            sasl.bearer_login(lambda token: self._bearer(method.upper(), user, token), password)
            return method
        if not isinstance(password, str):
            raise LocalProtocolError(f"{method} needs a password, not a token source")
        if method == "apop":
            if not self.info.timestamp:
                raise SecurityError("the server offers no APOP timestamp")
            digest = sasl.apop_digest(self.info.timestamp, password)
            self._simple("APOP", user, digest)
        elif method == "scram-sha-256":
            command = Command("AUTH", ("SCRAM-SHA-256",))
            self._send([command])
            self._continuation(command)
            scram = sasl.ScramSha256(user, password)
            self._send_auth(scram.first(), "<scram client-first>")
            server_first = self._continuation(command)
            self._send_auth(scram.final(server_first), "<scram proof>")
            scram.verify(self._continuation(command))  # the server proves it knows us
            self._auth_line(command, "")
        elif method == "cram-md5":
            command = Command("AUTH", ("CRAM-MD5",))
            self._send([command])
            challenge = self._continuation(command)
            self._auth_line(command, sasl.cram_md5_response(user, password, challenge))
        elif method == "plain":
            command = Command("AUTH", ("PLAIN",))
            self._send([command])
            self._continuation(command)
            self._auth_line(command, sasl.plain_initial_response(user, password))
        elif method == "login":
            command = Command("AUTH", ("LOGIN",))
            self._send([command])
            self._continuation(command)
            self._send_auth(_b64(user), "<user name>")
            self._continuation(command)
            self._auth_line(command, _b64(password))
        else:
            self._simple("USER", user)
            self._simple("PASS", password)
        return method

    def _choose(self, method: str, allow_plaintext: bool) -> str:
        """"auto": PLAIN or USER inside TLS (works with any password storage); on a
        plaintext link the strongest login that hides the password."""
        secure = self.info.secure
        mechanisms = self.info.sasl
        if method == "auto":
            if secure or allow_plaintext:
                if "PLAIN" in mechanisms:
                    return "plain"
                return "user"
            if "SCRAM-SHA-256" in mechanisms:
                return "scram-sha-256"
            if self.info.timestamp:
                return "apop"
            if "CRAM-MD5" in mechanisms:
                return "cram-md5"
            raise SecurityError(
                "the connection is not encrypted and the server offers no login that hides "
                "the password (SCRAM, APOP, CRAM-MD5); use TLS or allow plaintext for this "
                "account"
            )
        if method in {"user", "plain", "login"} and not (secure or allow_plaintext):
            raise SecurityError(
                f"refusing to send the password in the clear ({method.upper()} without TLS)"
            )
        if method.upper() in sasl.BEARER_MECHANISMS and not (secure or allow_plaintext):
            raise SecurityError(
                f"refusing to send the access token in the clear ({method.upper()} without TLS)"
            )
        return method

    def _bearer(self, mechanism: str, user: str, token: str) -> str | None:
        """One XOAUTH2/OAUTHBEARER exchange, always two-step (Outlook refuses the token on the
        AUTH line). None on success, else the refusal's reason; a failure challenge is
        answered so the exchange ends. Non-credential refusals ([IN-USE]...) are raised."""
        command = Command("AUTH", (mechanism,))
        self._send([command])
        self._continuation(command)
        host, port = self._transport.peer or ("", 0)
        self._send_auth(sasl.bearer_response(mechanism, user, token, host, port), "<token>")
        event = self._event()
        reason = ""
        if isinstance(event, protocol.Continuation):
            self._note(False, "+ <error>")
            reason = sasl.bearer_error(event.text)
            self._send_auth(sasl.bearer_abort(mechanism), "<end of exchange>")
            event = self._event()
        if not isinstance(event, Status):
            raise RemoteProtocolError(f"unexpected {event!r} during AUTH {mechanism}")
        self._note_status(event)
        if event.ok:
            if reason:
                raise RemoteProtocolError(f"AUTH {mechanism}: +OK after an error challenge")
            return None
        error = replies.error_for(event, login_delay=self._login_delay())
        if not isinstance(error, AuthenticationError):
            raise error
        return reason or f"the server refused the access token ({event.text[:60]})"

    def _continuation(self, command: Command) -> str:
        event = self._event()
        if isinstance(event, protocol.Continuation):
            self._note(False, "+ <challenge>")
            return event.text
        if isinstance(event, Status):
            self._note_status(event)
            raise replies.error_for(event, login_delay=self._login_delay())
        raise RemoteProtocolError(f"unexpected {event!r} during AUTH")

    def _send_auth(self, line: str, shown: str) -> None:
        wire = self._conn.send_auth_line(line)
        self._note(True, shown)
        self._transport.sendall(wire)

    def _auth_line(self, command: Command, line: str) -> None:
        self._send_auth(line, "<credentials>")
        self._ok(command)

    # -- TRANSACTION ------------------------------------------------------------------

    def stat(self) -> tuple[int, int]:
        return replies.parse_stat(self._simple("STAT").text)

    def list_sizes(self) -> dict[int, int]:
        return dict(replies.parse_scan_listing(self._multi("LIST")))

    def uidls(self) -> tuple[dict[int, str], list[bytes]] | None:
        """(message number -> UIDL, invalid lines); None when the server has no UIDL."""
        command = Command("UIDL")
        self._send([command])
        status = self._status(command)
        if not status.ok:
            return None
        good, bad = replies.split_uidl_listing(self._collect(command, 64 * 1024 * 1024))
        return dict(good), bad

    def headers(self, numbers: Iterable[int], *, lines: int = 0) -> dict[int, bytes]:
        """``TOP n 0`` for each message, pipelined where allowed; a refused TOP is skipped."""
        out: dict[int, bytes] = {}
        todo = ((n, 1024 * 1024) for n in numbers)
        for number, ok, data in self._pipelined("TOP", todo, (str(lines),)):
            if ok:
                out[number] = data
        return out

    def retr(
        self,
        number: int,
        sink: Sink,
        *,
        offset: int = 0,
        size: int | None = None,
        check: Callable[[], None] | None = None,
    ) -> int:
        """Stream message ``number`` (from ``offset``) into ``sink``; returns octets received.

        The body is bounded by the LIST ``size``: running past
        :func:`core.pop3.sizes.overrun_limit` is a BodyOverrun (the connection must then be
        closed: the reply is not finished). Bytes already waiting after the terminator are
        a Desync: the server ended the reply early, so what arrived is suspect.
        """
        if offset and not self.info.ext_retr:
            raise LocalProtocolError("RETR with an offset needs the EXT-RETR capability")
        args = (str(number), str(offset)) if offset else (str(number),)
        command = Command("RETR", args)
        self._send([command])
        self._ok(command)
        limit = None if size is None else max(overrun_limit(size) - offset, 0)
        received = 0
        while True:
            event = self._event(check)
            if isinstance(event, Body):
                received += len(event.data)
                if limit is not None and received > limit:
                    raise BodyOverrun(
                        f"message {number} runs past its LIST size ({size} octets): "
                        f"over {limit + offset} octets"
                    )
                sink(event.data)
            elif isinstance(event, End):
                self._check_nothing_after(f"RETR {number}")
                return received
            else:
                raise RemoteProtocolError(f"unexpected {event!r} in RETR {number}")

    def retr_small(
        self, sizes: Sequence[tuple[int, int]]
    ) -> Iterable[tuple[int, bool, bytes]]:
        """Pipelined RETR of small messages, yielding (number, ok, wire body) in order."""
        yield from self._pipelined("RETR", ((n, overrun_limit(s)) for n, s in sizes), ())

    def _pipelined(
        self, verb: str, items: Iterable[tuple[int, int]], extra: tuple[str, ...]
    ) -> Iterable[tuple[int, bool, bytes]]:
        """Replies in order, keeping up to a window of commands in flight (RFC 2449 PIPELINING).

        The window is refilled half at a time, so one send carries many commands.
        """
        window = PIPELINE_WINDOW if self.info.pipelining else 1
        low_water = window // 2
        pending: deque[tuple[int, int, Command]] = deque()
        todo = iter(items)
        more = True
        after_body = False
        while True:
            if more and len(pending) <= low_water:
                batch = [
                    (n, limit, Command(verb, (str(n), *extra)))
                    for n, limit in itertools.islice(todo, window - len(pending))
                ]
                more = bool(batch)
                if batch:
                    pending.extend(batch)
                    self._send([c for _, _, c in batch])
            if not pending:
                return
            number, limit, command = pending.popleft()
            try:
                status = self._status(command)
            except RemoteProtocolError as exc:
                if isinstance(exc, Desync) or not after_body:
                    raise
                raise Desync(f"the reply before {verb} {number} ended early: {exc}") from exc
            if not status.ok:
                after_body = False
                yield number, False, status.text.encode()
                continue
            data = self._collect(command, limit)
            after_body = True
            if not pending:
                self._check_nothing_after(f"{verb} {number}")
            yield number, True, data

    def dele(self, numbers: Iterable[int]) -> list[int]:
        """DELE each (pipelined); returns the numbers the server refused."""
        refused: list[int] = []
        commands = [Command("DELE", (str(n),)) for n in numbers]
        window = PIPELINE_WINDOW if self.info.pipelining else 1
        for start in range(0, len(commands), window):
            batch = commands[start : start + window]
            self._send(batch)
            for command in batch:
                if not self._status(command).ok:
                    refused.append(int(command.args[0]))
        return refused

    def rset(self) -> None:
        self._simple("RSET")

    def noop(self) -> None:
        self._simple("NOOP")

    def quit(self) -> tuple[bool, str]:
        """QUIT: from TRANSACTION this enters UPDATE, where the server removes marked mail."""
        command = Command("QUIT")
        self._send([command])
        status = self._status(command)
        self.close()
        return status.ok, status.text

    def close(self) -> None:
        """Drop the connection without QUIT: the server deletes nothing."""
        self._transport.close()

    def _check_nothing_after(self, what: str) -> None:
        """With no command outstanding, bytes already received are not a reply to
        anything: the server ended the last reply early (an unstuffed "." line)."""
        if self._conn.pending:
            return
        try:
            self._conn.next_event()
        except RemoteProtocolError as exc:
            if isinstance(exc, Desync):
                raise
            raise Desync(f"the reply to {what} ended early: {exc}") from exc


def _code(status: Status) -> str:
    return f"[{status.code}] " if status.code else ""


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode("ascii")


def open_session(
    host: str,
    port: int,
    security: Security,
    policy: TlsPolicy,
    *,
    transcript: Transcript | None = None,
    connect_timeout: float = 30.0,
    read_timeout: float = 60.0,
    dialer: Dialer | None = None,
    stop: Callable[[], bool] | None = None,
) -> Session:
    """Connect, greet, CAPA, and upgrade with STLS when asked: ready for login().

    ``dialer.abort()`` ends the connect or the TLS handshake at once; ``stop`` is looked
    at during every read (see :class:`Session`).
    """
    transport = connect(host, port, security, policy, timeout=connect_timeout, dialer=dialer)
    try:
        session = Session(
            transport, transcript=transcript, read_timeout=read_timeout, stop=stop
        )
        session.greet()
        session.capa()
        if security is Security.STARTTLS:
            session.starttls(host, policy)
        return session
    except BaseException:
        transport.close()
        raise
