"""One POP3 connection on the server side: line splitting, states, commands, replies.

Input is buffered and split on LF, never assumed to be one command per recv(), so
pipelined commands (RFC 2449) are answered in order. Replies collect in an output buffer
that is flushed when no complete command is left (one sendall for a pipelined batch) or
when it grows big; message bodies stream from disk in 1 MiB chunks.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.demoserver import auth
from core.demoserver.faults import GARBAGE, LONG_STATUS, Event, Faults
from core.demoserver.mailbox import LockTable, Maildrop, Message, MessageCache, MessageDeleted
from core.demoserver.wire import Stuffer, TokenBucket, crlf_chunks, top_chunks

MAX_LINE = 8192  # far above RFC 2449's 255 octets, for long SASL lines
FLUSH = 256 * 1024
RECV = 256 * 1024


@dataclass
class Shared:
    """Settings and state every session of one server sees."""

    maildir: Path
    users: Mapping[str, str]
    ext_retr: bool
    pipelining: bool
    apop: bool
    rate: float | None
    tls: ssl.SSLContext | None
    implicit_tls: bool
    login_delay: int | None
    uidls: Callable[[Path], str] | None
    faults: Faults
    allow_plaintext: bool
    idle_timeout: float
    stop: threading.Event = field(default_factory=threading.Event)
    locks: LockTable = field(default_factory=LockTable)
    cache: MessageCache = field(default_factory=MessageCache)
    commands: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    last_login: dict[str, float] = field(default_factory=dict)
    record_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def lock_key(self) -> str:
        # Every user is served the one Maildir, so the maildrop lock is the Maildir's.
        return str(self.maildir.resolve())


class _Close(Exception):
    """End the connection now (QUIT answered, a fault fired, the peer misbehaved)."""


class Session:
    """Serves one accepted socket until QUIT, EOF, timeout, a fault or server stop."""

    def __init__(self, sock: socket.socket, shared: Shared) -> None:
        self.sock = sock
        self.shared = shared
        self._in = bytearray()
        self._pos = 0
        self._out: list[bytes] = []
        self._out_len = 0
        self._state = "AUTHORIZATION"
        self._user: str | None = None
        self._drop: Maildrop | None = None
        self._locked = False
        self._secure = isinstance(sock, ssl.SSLSocket)
        self._timestamp = auth.make_timestamp()
        self._bucket = TokenBucket(shared.rate) if shared.rate else None
        self._continuation: Callable[[str], None] | None = None
        self._pad_status = False

    # ----------------------------------------------------------------- lifecycle

    def run(self) -> None:
        try:
            self.sock.settimeout(self.shared.idle_timeout)
            if self.shared.implicit_tls and self.shared.tls is not None:
                self._start_tls()
            self._greet()
            self._serve()
        except (_Close, OSError):
            pass
        finally:
            if self._locked:
                self.shared.locks.release(self.shared.lock_key, self)
            with contextlib.suppress(OSError):
                self.sock.close()

    def abort(self) -> None:
        """Unblock a recv()/sendall() from another thread (server stop)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _start_tls(self) -> None:
        assert self.shared.tls is not None
        self.sock = self.shared.tls.wrap_socket(self.sock, server_side=True)
        self._secure = True

    def _greet(self) -> None:
        text = "popfetch demo POP3 server ready"
        if self.shared.apop:
            text += " " + self._timestamp
        self._ok(text)
        if self.shared.faults.take_close_after_greeting():
            self._flush()
            raise _Close
        self._flush()

    def _serve(self) -> None:
        while True:
            line = self._next_line()
            if line is None:
                self._flush()
                data = self.sock.recv(RECV)
                if not data:
                    return
                self._in += data
                if len(self._in) - self._pos > MAX_LINE and self._in.find(b"\n", self._pos) < 0:
                    self._err("Line too long")
                    self._flush()
                    return
                continue
            self._handle(line.decode("latin-1"))
            if not self.shared.pipelining:
                self._flush()

    def _next_line(self) -> bytes | None:
        end = self._in.find(b"\n", self._pos)
        if end < 0:
            if self._pos:
                del self._in[: self._pos]
                self._pos = 0
            return None
        line = bytes(self._in[self._pos : end])
        self._pos = end + 1
        return line[:-1] if line.endswith(b"\r") else line

    # ----------------------------------------------------------------- output

    def _send(self, data: bytes | memoryview) -> None:
        if self._bucket is None:
            self.sock.sendall(data)
            return
        view = memoryview(data)
        step = self._bucket.slice
        for start in range(0, len(view), step):
            piece = view[start : start + step]
            wait = self._bucket.reserve(len(piece))
            if wait > 0 and self.shared.stop.wait(wait):
                raise _Close
            self.sock.sendall(piece)

    def _flush(self) -> None:
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        self._out_len = 0
        self._send(data)

    def _write(self, data: bytes) -> None:
        if len(data) >= FLUSH:
            self._flush()
            self._send(data)
            return
        self._out.append(data)
        self._out_len += len(data)
        if self._out_len >= FLUSH:
            self._flush()

    def _status(self, line: str) -> None:
        if self._pad_status and line.startswith("+OK"):
            line += " " + "x" * LONG_STATUS
        self._write(line.encode("utf-8") + b"\r\n")

    def _ok(self, text: str = "") -> None:
        self._status(f"+OK {text}" if text else "+OK")

    def _err(self, text: str, code: str | None = None) -> None:
        self._status(f"-ERR [{code}] {text}" if code else f"-ERR {text}")

    def _multiline(self, text: str, body: bytes) -> None:
        """A short multi-line reply (CAPA, LIST, UIDL): its lines never start with "."."""
        self._ok(text)
        self._write(body + b".\r\n")

    def _body(self, data: bytes) -> None:
        """Message octets (RETR/TOP), metered through the fault injector."""
        while data:
            n, event = self.shared.faults.admit(len(data))
            if n:
                self._write(data if n == len(data) else data[:n])
            data = data[n:]
            if event is Event.CUT:
                self._flush()
                raise _Close
            if event is Event.STALL:
                self._flush()
                self._stall()
                raise _Close

    def _stall(self) -> None:
        """Send nothing more, but keep the socket open until the peer or the server gives up."""
        self.sock.settimeout(0.2)
        while not self.shared.stop.is_set():
            try:
                if not self.sock.recv(RECV):
                    return
            except TimeoutError:
                continue

    # ----------------------------------------------------------------- dispatch

    def _record(self, line: str) -> None:
        with self.shared.record_lock:
            self.shared.commands.append(line)

    def _handle(self, line: str) -> None:
        if self._continuation is not None:
            step, self._continuation = self._continuation, None
            self._record("*" if line == "*" else "***")
            step(line)
            return
        verb, _, rest = line.partition(" ")
        verb = verb.upper()
        args = rest.split()
        self._record(_redact(verb, args, rest))
        if verb in self.shared.faults.garbage:
            self._write(GARBAGE)
            return
        self._pad_status = verb in self.shared.faults.long_status
        try:
            handler = _HANDLERS.get(verb)
            if handler is None:
                self._err("Unknown command" if verb else "Empty command")
            elif self._state not in handler.states:
                self._err(f"{verb} not valid in the {self._state} state")
            else:
                handler.run(self, args, rest)
        finally:
            self._pad_status = False

    # ----------------------------------------------------------------- AUTHORIZATION

    def _plaintext_refused(self) -> bool:
        if self.shared.allow_plaintext or self._secure:
            return False
        self._err("Plaintext authentication disallowed on non-secure connections", "AUTH")
        return True

    def _login(self, user: str | None) -> None:
        """Credentials were checked (``user`` None: wrong): lock the maildrop, enter TRANSACTION."""
        if user is None:
            self._err("Authentication failed", "AUTH")
            return
        delay = self.shared.login_delay
        now = time.monotonic()
        with self.shared.record_lock:
            last = self.shared.last_login.get(user)
            if delay and last is not None and now - last < delay:
                self._err(f"Wait {delay} seconds between logins", "LOGIN-DELAY")
                return
        if not self.shared.locks.acquire(self.shared.lock_key, self):
            self._err("Maildrop is locked by another session", "IN-USE")
            return
        self._locked = True
        try:
            self._drop = Maildrop(self.shared.maildir, self.shared.cache, self.shared.uidls)
        except OSError:
            self._err("Cannot open the maildrop", "SYS/TEMP")
            self.shared.locks.release(self.shared.lock_key, self)
            self._locked = False
            return
        with self.shared.record_lock:
            self.shared.last_login[user] = now
        self._state = "TRANSACTION"
        count, size = self._drop.stat()
        self._ok(f"Logged in, {count} messages ({size} octets)")

    def cmd_user(self, args: list[str], rest: str) -> None:
        if self._plaintext_refused():
            return
        if len(args) != 1:
            self._err("USER takes one argument")
            return
        self._user = args[0]
        self._ok()

    def cmd_pass(self, args: list[str], rest: str) -> None:
        if self._plaintext_refused():
            return
        if self._user is None:
            self._err("No user name given")
            return
        user, self._user = self._user, None
        ok = auth.check_password(self.shared.users, user, rest)
        self._login(user if ok else None)

    def cmd_apop(self, args: list[str], rest: str) -> None:
        if not self.shared.apop or len(args) != 2:
            self._err("APOP not available" if not self.shared.apop else "APOP name digest")
            return
        ok = auth.check_apop(self.shared.users, args[0], self._timestamp, args[1])
        self._login(args[0] if ok else None)

    def cmd_auth(self, args: list[str], rest: str) -> None:
        if not args:
            self._multiline("Mechanisms", b"".join(m.encode() + b"\r\n" for m in self._mechs()))
            return
        mech = args[0].upper()
        if len(args) > 2 or mech not in auth.MECHANISMS:
            self._err("Unsupported mechanism" if len(args) <= 2 else "Noise after mechanism")
            return
        if mech in auth.PLAINTEXT_MECHANISMS and self._plaintext_refused():
            return
        initial = args[1] if len(args) == 2 else None
        if mech == "PLAIN":
            self._sasl_step(initial, "", self._plain_done)
        elif mech == "LOGIN":
            self._sasl_step(initial, auth.b64encode(b"Username:"), self._login_user)
        else:
            challenge = auth.make_timestamp()
            self._sasl_step(None, auth.b64encode(challenge.encode()), self._cram_done(challenge))

    def _mechs(self) -> tuple[str, ...]:
        if self.shared.allow_plaintext or self._secure:
            return auth.MECHANISMS
        return tuple(m for m in auth.MECHANISMS if m not in auth.PLAINTEXT_MECHANISMS)

    def _sasl_step(self, initial: str | None, prompt: str, then: Callable[[bytes], None]) -> None:
        """Run ``then`` on the decoded client data: the initial response, or the next line."""

        def received(line: str) -> None:
            if line == "*":
                self._err("Authentication cancelled")
                return
            try:
                data = b"" if line == "=" else auth.b64decode(line)
                then(data)
            except auth.Malformed as exc:
                self._err(str(exc), "AUTH")

        if initial is not None:
            received(initial)
        else:
            self._write(b"+ " + prompt.encode() + b"\r\n")
            self._continuation = received

    def _plain_done(self, data: bytes) -> None:
        user, password = auth.parse_plain(data)
        self._login(user if auth.check_password(self.shared.users, user, password) else None)

    def _login_user(self, data: bytes) -> None:
        user = data.decode("utf-8", "replace")

        def password(secret: bytes) -> None:
            pw = secret.decode("utf-8", "replace")
            self._login(user if auth.check_password(self.shared.users, user, pw) else None)

        self._sasl_step(None, auth.b64encode(b"Password:"), password)

    def _cram_done(self, challenge: str) -> Callable[[bytes], None]:
        def done(data: bytes) -> None:
            self._login(auth.check_cram_md5(self.shared.users, challenge, data))

        return done

    def cmd_stls(self, args: list[str], rest: str) -> None:
        if self.shared.tls is None or self._secure:
            self._err("STLS not available" if self.shared.tls is None else "Already secure")
            return
        self._ok("Begin TLS negotiation now")
        self._flush()
        # RFC 2595: anything pipelined after STLS was sent in the clear; discard it.
        self._in.clear()
        self._pos = 0
        self._start_tls()

    def cmd_capa(self, args: list[str], rest: str) -> None:
        caps = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE"]
        if self.shared.allow_plaintext or self._secure:
            caps.insert(1, "USER")
        if self.shared.pipelining:
            caps.append("PIPELINING")
        caps.append("SASL " + " ".join(self._mechs()))
        if self.shared.ext_retr:
            caps.append("EXT-RETR")
        if self.shared.tls is not None and not self._secure and self._state == "AUTHORIZATION":
            caps.append("STLS")
        if self.shared.login_delay is not None:
            caps.append(f"LOGIN-DELAY {self.shared.login_delay}")
        caps.append("IMPLEMENTATION popfetch-demo")
        self._multiline("Capability list follows", "".join(c + "\r\n" for c in caps).encode())

    def cmd_quit(self, args: list[str], rest: str) -> None:
        if self._state == "TRANSACTION" and self._drop is not None:
            removed, failed = self._drop.commit()
            with self.shared.record_lock:
                self.shared.deleted.extend(removed)
            if failed:
                self._err(f"{len(failed)} messages not removed", "SYS/TEMP")
            else:
                self._ok(f"Logging out, {len(removed)} messages deleted")
        else:
            self._ok("Logging out")
        self._flush()
        raise _Close

    # ----------------------------------------------------------------- TRANSACTION

    def _message(self, token: str, code: str | None = None) -> Message | None:
        """Resolve a message number, answering -ERR when it is not usable."""
        assert self._drop is not None
        if not token.isdigit() or not token.isascii():
            self._err("Invalid message number")
            return None
        try:
            return self._drop.get(int(token))
        except MessageDeleted:
            self._err("Message is deleted")
        except LookupError:
            self._err("No such message", code)
        return None

    def cmd_stat(self, args: list[str], rest: str) -> None:
        assert self._drop is not None
        count, size = self._drop.stat()
        self._ok(f"{count} {size}")

    def cmd_list(self, args: list[str], rest: str) -> None:
        self._listing(args, lambda m: str(m.size), lambda d: d.scan_listing())

    def cmd_uidl(self, args: list[str], rest: str) -> None:
        self._listing(args, lambda m: m.uidl, lambda d: d.uidl_listing())

    def _listing(
        self, args: list[str], one: Callable[[Message], str], every: Callable[[Maildrop], bytes]
    ) -> None:
        assert self._drop is not None
        if len(args) > 1:
            self._err("Noise after message number")
        elif args:
            message = self._message(args[0])
            if message is not None:
                self._ok(f"{args[0]} {one(message)}")
        else:
            count, size = self._drop.stat()
            self._multiline(f"{count} messages ({size} octets)", every(self._drop))

    def cmd_retr(self, args: list[str], rest: str) -> None:
        if not args or len(args) > 2:
            self._err("RETR takes a message number (and an offset with EXT-RETR)")
            return
        if len(args) == 2 and not self.shared.ext_retr:
            self._err("Noise after message number")
            return
        if len(args) == 2 and not (args[1].isdigit() and args[1].isascii()):
            self._err("Invalid offset")
            return
        code = "NON-EXISTENT" if self.shared.ext_retr else None
        message = self._message(args[0], code)
        if message is None:
            return
        offset = int(args[1]) if len(args) == 2 else 0
        if offset > message.size:
            self._err(f"Offset past the end ({message.size} octets)", "OFFSET-OVERRUN")
            return
        self._ok(f"{message.size - offset} octets")
        overlong = self.shared.faults.overlong_body
        self.shared.faults.start_body(message.size - offset)
        if message.wire is not None and offset == 0 and not overlong:
            self._body(message.wire[:-3])
            self._write(message.wire[-3:])
            return
        stuffer = Stuffer()
        try:
            for chunk in crlf_chunks(message.path, message.layout, offset):
                self._body(stuffer.feed(chunk))
        except FileNotFoundError:
            raise _Close from None  # vanished under us: the client sees a drop
        if overlong:  # a fault: more octets than LIST announced, in whole lines
            self._body(stuffer.feed(b"Z" * (overlong - 2) + b"\r\n" if overlong > 1 else b"Z"))
        self._write(stuffer.end())

    def cmd_top(self, args: list[str], rest: str) -> None:
        if len(args) != 2 or not (args[1].isdigit() and args[1].isascii()):
            self._err("TOP takes a message number and a line count")
            return
        message = self._message(args[0])
        if message is None:
            return
        self._ok("Top of message follows")
        stuffer = Stuffer()
        try:
            for chunk in top_chunks(crlf_chunks(message.path, message.layout), int(args[1])):
                self._body(stuffer.feed(chunk))
        except FileNotFoundError:
            raise _Close from None
        self._write(stuffer.end())

    def cmd_dele(self, args: list[str], rest: str) -> None:
        assert self._drop is not None
        if len(args) != 1:
            self._err("DELE takes a message number")
            return
        message = self._message(args[0])
        if message is not None:
            self._drop.mark(int(args[0]))
            self._ok("Marked to be deleted")

    def cmd_rset(self, args: list[str], rest: str) -> None:
        assert self._drop is not None
        self._drop.reset()
        count, size = self._drop.stat()
        self._ok(f"{count} messages ({size} octets)")

    def cmd_noop(self, args: list[str], rest: str) -> None:
        self._ok()


def _redact(verb: str, args: list[str], rest: str) -> str:
    """The command as recorded for tests: no password, no SASL data."""
    if verb == "PASS":
        return "PASS ***"
    if verb == "APOP" and args:
        return f"APOP {args[0]} ***"
    if verb == "AUTH" and len(args) > 1:
        return f"AUTH {args[0]} ***"
    return " ".join([verb, *args])


@dataclass(frozen=True, slots=True)
class _Handler:
    run: Callable[[Session, list[str], str], None]
    states: frozenset[str]


_AUTHZ = frozenset({"AUTHORIZATION"})
_TRANS = frozenset({"TRANSACTION"})
_BOTH = _AUTHZ | _TRANS
_HANDLERS: dict[str, _Handler] = {
    "USER": _Handler(Session.cmd_user, _AUTHZ),
    "PASS": _Handler(Session.cmd_pass, _AUTHZ),
    "APOP": _Handler(Session.cmd_apop, _AUTHZ),
    "AUTH": _Handler(Session.cmd_auth, _AUTHZ),
    "STLS": _Handler(Session.cmd_stls, _AUTHZ),
    "CAPA": _Handler(Session.cmd_capa, _BOTH),
    "QUIT": _Handler(Session.cmd_quit, _BOTH),
    "STAT": _Handler(Session.cmd_stat, _TRANS),
    "LIST": _Handler(Session.cmd_list, _TRANS),
    "UIDL": _Handler(Session.cmd_uidl, _TRANS),
    "RETR": _Handler(Session.cmd_retr, _TRANS),
    "TOP": _Handler(Session.cmd_top, _TRANS),
    "DELE": _Handler(Session.cmd_dele, _TRANS),
    "RSET": _Handler(Session.cmd_rset, _TRANS),
    "NOOP": _Handler(Session.cmd_noop, _TRANS),
}
