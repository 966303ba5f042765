"""One POP3 connection on the server side: line splitting, states, dispatch, replies.

Input is buffered and split on LF, never assumed to be one command per recv(), so
pipelined commands (RFC 2449) are answered in order. Replies collect in an output buffer
that is flushed when no complete command is left (one sendall for a pipelined batch) or
when it grows big; message bodies stream from disk in 1 MiB chunks. The commands
themselves live in ``authorization`` and ``transaction``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable

from core.demoserver import auth, authorization, transaction
from core.demoserver.conn import AUTHORIZATION, TRANSACTION, Close, Command, Conn, Shared
from core.demoserver.faults import GARBAGE, LONG_STATUS, Event
from core.demoserver.mailbox import Maildrop
from core.demoserver.wire import TokenBucket
from core.text import redact_command

MAX_LINE = 8192  # far above RFC 2449's 255 octets, for long SASL lines
FLUSH = 256 * 1024
RECV = 256 * 1024
class Session:
    """Serves one accepted socket until QUIT, EOF, timeout, a fault or server stop."""

    def __init__(self, sock: socket.socket, shared: Shared) -> None:
        self.sock = sock
        self.shared = shared
        self.state = AUTHORIZATION
        self.secure = isinstance(sock, ssl.SSLSocket)
        self.timestamp = auth.make_timestamp()  # the APOP challenge in the greeting
        self.user: str | None = None  # named by USER, waiting for PASS
        self.drop: Maildrop | None = None  # the maildrop, in TRANSACTION
        self.locked = False
        self.continuation: Callable[[str], None] | None = None  # the next line is SASL data
        self._in = bytearray()
        self._pos = 0
        self._out: list[bytes] = []
        self._out_len = 0
        self._bucket = TokenBucket(shared.rate) if shared.rate else None
        self._pad_status = False

    # ----------------------------------------------------------------- lifecycle

    def run(self) -> None:
        try:
            self.sock.settimeout(self.shared.idle_timeout)
            if self.shared.implicit_tls and self.shared.tls is not None:
                self.start_tls()
            self._greet()
            self._serve()
        except (Close, OSError):
            pass  # however it ends, nothing is deleted unless QUIT committed
        finally:
            if self.locked:
                self.shared.locks.release(self.shared.lock_key, self)
            with contextlib.suppress(OSError):
                self.sock.close()

    def abort(self) -> None:
        """Unblock a recv()/sendall() from another thread (server stop)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def start_tls(self) -> None:
        """Handshake now; RFC 2595: whatever was pipelined in the clear is discarded."""
        assert self.shared.tls is not None
        self._in.clear()
        self._pos = 0
        self.sock = self.shared.tls.wrap_socket(self.sock, server_side=True)
        self.secure = True

    def _greet(self) -> None:
        text = "popfetch demo POP3 server ready"
        if self.shared.apop:
            text += " " + self.timestamp
        self.ok(text)
        self.flush()
        if self.shared.faults.take_close_after_greeting():
            raise Close

    def _serve(self) -> None:
        while True:
            line = self._next_line()
            if line is None:
                self.flush()
                data = self.sock.recv(RECV)
                if not data:
                    return
                self._in += data
                if len(self._in) - self._pos > MAX_LINE and self._in.find(b"\n", self._pos) < 0:
                    self.err("Line too long")
                    self.flush()
                    return
                continue
            self._handle(line.decode("latin-1"))
            if not self.shared.pipelining:
                self.flush()

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
                raise Close
            self.sock.sendall(piece)

    def flush(self) -> None:
        if not self._out:
            return
        data = self._out[0] if len(self._out) == 1 else b"".join(self._out)
        self._out.clear()
        self._out_len = 0
        self._send(data)

    def write(self, data: bytes) -> None:
        """Queue octets; big ones go out at once, without a copy into the buffer."""
        if len(data) >= FLUSH:
            self.flush()
            self._send(data)
            return
        self._out.append(data)
        self._out_len += len(data)
        if self._out_len >= FLUSH:
            self.flush()

    def _status(self, line: str) -> None:
        if self._pad_status and line.startswith("+OK"):
            line += " " + "x" * LONG_STATUS
        self.write(line.encode("utf-8") + b"\r\n")

    def ok(self, text: str = "") -> None:
        self._status(f"+OK {text}" if text else "+OK")

    def err(self, text: str, code: str | None = None) -> None:
        self._status(f"-ERR [{code}] {text}" if code else f"-ERR {text}")

    def multiline(self, text: str, body: bytes) -> None:
        """A short multi-line reply (CAPA, LIST, UIDL): its lines never start with "."."""
        self.ok(text)
        self.write(body + b".\r\n")

    def body(self, data: bytes) -> None:
        """Message octets (RETR/TOP), metered through the fault injector."""
        while data:
            n, event = self.shared.faults.admit(len(data))
            if n:
                self.write(data if n == len(data) else data[:n])
            data = data[n:]
            if event is Event.CUT:
                self.flush()
                raise Close
            if event is Event.STALL:
                self.flush()
                self._stall()
                raise Close

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
        if self.continuation is not None:
            step, self.continuation = self.continuation, None
            self._record("*" if line == "*" else "***")
            step(line)
            return
        verb, _, rest = line.partition(" ")
        verb = verb.upper()
        args = rest.split()
        self._record(redact_command(verb, args))
        if verb in self.shared.faults.garbage:
            self.write(GARBAGE)
            return
        if verb in self.shared.faults.unsupported:
            self.err("Unknown command")
            return
        self._pad_status = verb in self.shared.faults.long_status
        try:
            command = COMMANDS.get(verb)
            if command is None:
                self.err("Unknown command" if verb else "Empty command")
            elif self.state not in command.states:
                self.err(f"{verb} not valid in the {self.state} state")
            else:
                command.run(self, args, rest)
        finally:
            self._pad_status = False


def capa(session: Conn, args: list[str], rest: str) -> None:
    """RFC 2449 capabilities; they change with TLS (USER, PLAIN) and the state (STLS)."""
    shared = session.shared
    plaintext = shared.allow_plaintext or session.secure
    caps = ["TOP", *(["USER"] if plaintext else []), "UIDL", "RESP-CODES", "AUTH-RESP-CODE"]
    if shared.pipelining:
        caps.append("PIPELINING")
    caps.append("SASL " + " ".join(auth.mechanisms(plaintext)))
    if shared.ext_retr:
        caps.append("EXT-RETR")
    if shared.tls is not None and not session.secure and session.state == AUTHORIZATION:
        caps.append("STLS")
    if shared.login_delay is not None:
        caps.append(f"LOGIN-DELAY {shared.login_delay}")
    caps.append("IMPLEMENTATION popfetch-demo")
    session.multiline("Capability list follows", "".join(c + "\r\n" for c in caps).encode())


_AUTHZ = frozenset({AUTHORIZATION})
_TRANS = frozenset({TRANSACTION})
COMMANDS: dict[str, Command] = {
    "CAPA": Command(capa, _AUTHZ | _TRANS),
    "QUIT": Command(transaction.quit_, _AUTHZ | _TRANS),
    **{verb: Command(handler, _AUTHZ) for verb, handler in authorization.HANDLERS.items()},
    **{verb: Command(handler, _TRANS) for verb, handler in transaction.HANDLERS.items()},
}
