"""A small POP3 server that misbehaves on request: the hostile peer of tests/hostile.

It serves a list of :class:`Mail` on 127.0.0.1, port 0, one thread per connection, and
records what it received (``commands``) and what it really removed at QUIT (``deleted``).
Each misbehaviour is one field of :class:`Hostile`, off by default, so a test reads as the
specification of the server it meets::

    mail = Mail.of(b"Subject: hi\\n\\nbody\\n", uidl="a1", sent=lambda wire: wire[:10])
    with HostileServer([mail], Hostile(ext_retr="refuse")) as server:
        ...fetch from server.port...
    assert server.deleted == []

Commands may arrive pipelined (several per ``recv``) or split over many; replies go out in
order. Mail deleted at QUIT is gone for later connections, as on a real server.
"""

from __future__ import annotations

import base64
import contextlib
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

USER, PASSWORD = "alice", "s3cret-pw"


def attachment(size: int, seed: int = 1) -> bytes:
    """A message (LF endings) carrying ``size`` random octets as base64 in 76-character lines:
    its CRLF form is ~1.3 % longer than its LF form, which is what LF-counting servers list."""
    data = random.Random(seed).randbytes(size)
    body = base64.encodebytes(data).replace(b"\n", b"")
    lines = b"\n".join(body[i : i + 76] for i in range(0, len(body), 76))
    return (b"From: sender@example.org\nSubject: attachment %d\nMIME-Version: 1.0\n"
            b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            % seed) + lines + b"\n"


def crlf(text: bytes) -> bytes:
    """LF line endings (a Maildir file) -> the CRLF form POP3 sends."""
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def stuff(wire: bytes) -> bytes:
    """RFC 1939 dot-stuffing of a CRLF payload: every line that starts with "." gets one more."""
    stuffed = wire.replace(b"\r\n.", b"\r\n..")
    return b"." + stuffed if stuffed.startswith(b".") else stuffed


@dataclass
class Mail:
    """One message: ``wire`` is what the server means to send (CRLF form, unstuffed).

    ``sent`` turns it into what RETR really sends (a body cut short, say); ``list_size``
    replaces the LIST size; ``uidl`` goes out raw (duplicates and control characters too).
    """

    wire: bytes
    uidl: str
    list_size: int | None = None
    sent: Callable[[bytes], bytes] | None = None

    @classmethod
    def of(cls, text: bytes, uidl: str, **kwargs: object) -> Mail:
        return cls(crlf(text), uidl, **kwargs)  # type: ignore[arg-type]

    @property
    def size(self) -> int:
        return len(self.wire) if self.list_size is None else self.list_size

    @property
    def stored_form(self) -> bytes:
        """The Maildir copy a correct client keeps (LF line endings)."""
        return self.wire.replace(b"\r\n", b"\n")


@dataclass
class Hostile:
    """The misbehaviours, each off by default.

    - ``greeting``: the raw first bytes (None: never greet); ``greeting_delay`` seconds first.
    - ``capa``: CAPA lines (None: CAPA is refused); EXT-RETR and LOGIN-DELAY are added below.
    - ``ext_retr``: None (not offered), "honour", "refuse" (-ERR to any offset), or "ignore"
      (the offset is ignored and the whole message sent with +OK, as Courier does).
    - ``login_delay``: the CAPA "LOGIN-DELAY" argument as sent ("300", "inf", "1000000").
    - ``lf_sizes``: LIST counts LF line endings, as mpopd does.
    - ``unstuffed``: RETR sends payloads without dot-stuffing (a "." line ends them early).
    - ``replies``: verb -> raw status line sent instead of the normal reply (no payload).
    - ``uidl_lines``: raw lines appended to the UIDL listing (numbers that LIST lacks ...).
    - ``drop``: verbs on which the server closes without a reply (and without deleting).
    - ``cut_retr``: for the first RETRs, in order, close after that many octets of payload.
    - ``stls``: a server context makes STLS available; ``stls_delay`` waits before the handshake.
    - ``tls``: a server context for implicit TLS from the first byte.
    """

    greeting: bytes | None = b"+OK hostile POP3 ready\r\n"
    greeting_delay: float = 0.0
    capa: tuple[str, ...] | None = ("USER", "UIDL", "TOP", "PIPELINING")
    ext_retr: str | None = None
    login_delay: str | None = None
    lf_sizes: bool = False
    unstuffed: bool = False
    replies: Mapping[str, bytes] = field(default_factory=dict)
    uidl_lines: tuple[bytes, ...] = ()
    drop: frozenset[str] = frozenset()
    cut_retr: tuple[int, ...] = ()
    stls: ssl.SSLContext | None = None
    stls_delay: float = 0.0
    tls: ssl.SSLContext | None = None


class _Dropped(Exception):
    """The server hangs up on purpose (``Hostile.drop``)."""


class HostileServer:
    """Serves ``mails`` with the misbehaviours of ``hostile``; see the module docstring."""

    def __init__(self, mails: Iterable[Mail], hostile: Hostile | None = None) -> None:
        self.mails = list(mails)
        self.hostile = hostile or Hostile()
        self.password = PASSWORD  # what PASS must carry
        self.commands: list[str] = []  # every command line received, in order, over all sessions
        self.deleted: list[str] = []  # UIDLs removed at QUIT
        self.deleted_mails: list[Mail] = []  # the same, as the messages themselves
        self.connections = 0
        self.retrs = 0  # RETR commands answered with +OK
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()

    # ---- life cycle

    def start(self) -> HostileServer:
        thread = threading.Thread(target=self._accept, name="hostile-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept(); close() alone does not
        self._listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        for thread in self._threads:
            thread.join(10)

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def sent_verbs(self) -> list[str]:
        with self._lock:
            return [c.split(" ", 1)[0].upper() for c in self.commands]

    # ---- connections

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._open.add(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        conn = _Conn(self, sock)
        try:
            conn.run()
        except (OSError, _Dropped):
            pass
        finally:
            with self._lock:
                self._open.discard(conn.sock)
                self._open.discard(sock)
            conn.sock.close()


class _Conn:
    """One POP3 session: reads lines (pipelined or split), answers each in order."""

    def __init__(self, server: HostileServer, sock: socket.socket) -> None:
        self.server = server
        self.h = server.hostile
        self.sock = sock
        self.buf = b""
        self.user = ""
        self.authed = False
        with server._lock:
            self.mails = list(server.mails)  # this session's numbering: 1 = mails[0]
        self.marked: set[int] = set()

    def run(self) -> None:
        self.sock.settimeout(30)
        if self.h.tls is not None:
            self._wrap(self.h.tls)
        if self.h.greeting_delay:
            time.sleep(self.h.greeting_delay)
        if self.h.greeting is None:
            self.server._stopping.wait(30)  # say nothing until the client gives up
            return
        self.sock.sendall(self.h.greeting)
        while True:
            line = self._line()
            if line is None:
                return
            if not self._command(line):
                return

    def _wrap(self, ctx: ssl.SSLContext) -> None:
        tls = ctx.wrap_socket(self.sock, server_side=True)
        with self.server._lock:
            self.server._open.add(tls)
        self.sock = tls

    def _line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _ok(self, text: str = "") -> None:
        self._send(f"+OK {text}".rstrip().encode() + b"\r\n")

    def _err(self, text: str) -> None:
        self._send(f"-ERR {text}".encode() + b"\r\n")

    def _multi(self, status: str, payload: bytes, *, stuffed: bool = True) -> None:
        body = stuff(payload) if stuffed else payload
        if body and not body.endswith(b"\r\n"):
            body += b"\r\n"
        self._send(f"+OK {status}".rstrip().encode() + b"\r\n" + body + b".\r\n")

    def _size(self, mail: Mail) -> int:
        if self.h.lf_sizes and mail.list_size is None:
            return len(mail.stored_form)
        return mail.size

    def _live(self) -> list[tuple[int, Mail]]:
        return [(n, m) for n, m in enumerate(self.mails, 1) if n not in self.marked]

    def _mail(self, arg: str) -> tuple[int, Mail] | None:
        if arg.isdigit() and 1 <= int(arg) <= len(self.mails) and int(arg) not in self.marked:
            return int(arg), self.mails[int(arg) - 1]
        self._err("[NON-EXISTENT] no such message")
        return None

    def _command(self, line: bytes) -> bool:
        """Answer one command line; False ends the session."""
        text = line.decode("utf-8", "surrogateescape")
        with self.server._lock:
            self.server.commands.append(text)
        verb, *args = text.split(" ")
        verb = verb.upper()
        if verb in self.h.drop:
            raise _Dropped(verb)
        if verb in self.h.replies:
            self._send(self.h.replies[verb])
            return verb != "QUIT"
        handler = getattr(self, f"_do_{verb.lower()}", None)
        if handler is None or (not self.authed and verb not in _AUTHORIZATION):
            self._err("unknown command or wrong state")
            return True
        result: bool | None = handler(args)
        return result is not False

    # ---- AUTHORIZATION

    def _do_capa(self, args: list[str]) -> None:
        if self.h.capa is None:
            self._err("no CAPA here")
            return
        caps = list(self.h.capa)
        if self.h.ext_retr is not None:
            caps.append("EXT-RETR")
        if self.h.login_delay is not None:
            caps.append(f"LOGIN-DELAY {self.h.login_delay}")
        if self.h.stls is not None and not isinstance(self.sock, ssl.SSLSocket):
            caps.append("STLS")
        self._multi("capabilities follow", "".join(f"{c}\r\n" for c in caps).encode())

    def _do_stls(self, args: list[str]) -> None:
        if self.h.stls is None or isinstance(self.sock, ssl.SSLSocket):
            self._err("STLS not available")
            return
        self._ok("begin TLS")
        if self.h.stls_delay:
            time.sleep(self.h.stls_delay)
        self._wrap(self.h.stls)

    def _do_user(self, args: list[str]) -> None:
        self.user = " ".join(args)
        self._ok("send PASS")

    def _do_pass(self, args: list[str]) -> None:
        if self.user == USER and " ".join(args) == self.server.password:
            self.authed = True
            self._ok(f"{len(self.mails)} messages")
        else:
            self._err("[AUTH] invalid login")

    def _do_quit(self, args: list[str]) -> bool:
        if self.authed:
            gone = [self.mails[n - 1] for n in sorted(self.marked)]
            with self.server._lock:
                self.server.mails = [m for m in self.server.mails if m not in gone]
                self.server.deleted.extend(m.uidl for m in gone)
                self.server.deleted_mails.extend(gone)
        self._ok("bye")
        return False

    # ---- TRANSACTION

    def _do_noop(self, args: list[str]) -> None:
        self._ok()

    def _do_rset(self, args: list[str]) -> None:
        self.marked.clear()
        self._ok()

    def _do_stat(self, args: list[str]) -> None:
        live = self._live()
        self._ok(f"{len(live)} {sum(self._size(m) for _, m in live)}")

    def _do_list(self, args: list[str]) -> None:
        if args:
            found = self._mail(args[0])
            if found:
                self._ok(f"{found[0]} {self._size(found[1])}")
            return
        listing = "".join(f"{n} {self._size(m)}\r\n" for n, m in self._live())
        self._multi("scan listing", listing.encode())

    def _do_uidl(self, args: list[str]) -> None:
        if args:
            found = self._mail(args[0])
            if found:
                self._ok(f"{found[0]} {found[1].uidl}")
            return
        lines = [f"{n} {m.uidl}\r\n".encode() for n, m in self._live()]
        lines += [line + b"\r\n" for line in self.h.uidl_lines]
        self._multi("unique-id listing", b"".join(lines))

    def _do_top(self, args: list[str]) -> None:
        found = self._mail(args[0]) if args else None
        if found:
            head = found[1].wire.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            self._multi("top of message", head)

    def _do_dele(self, args: list[str]) -> None:
        found = self._mail(args[0]) if args else None
        if found:
            self.marked.add(found[0])
            self._ok("marked")

    def _do_retr(self, args: list[str]) -> None:
        found = self._mail(args[0]) if args else None
        if found is None:
            return
        mail = found[1]
        payload = mail.sent(mail.wire) if mail.sent is not None else mail.wire
        if len(args) > 1 and self.h.ext_retr != "ignore":
            if self.h.ext_retr != "honour":
                self._err("Noise after message number")
                return
            offset = int(args[1])
            if offset > len(payload):
                self._err("[OFFSET-OVERRUN] offset past the end")
                return
            payload = payload[offset:]  # stuffed below as if it began a line (the draft)
        with self.server._lock:
            index = self.server.retrs
            self.server.retrs += 1
        if index < len(self.h.cut_retr):
            self._send(b"+OK\r\n" + stuff(payload)[: self.h.cut_retr[index]])
            raise _Dropped("RETR")
        self._multi(f"{self._size(mail)} octets", payload, stuffed=not self.h.unstuffed)


_AUTHORIZATION = frozenset({"CAPA", "USER", "PASS", "QUIT", "STLS"})
