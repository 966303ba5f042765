"""A small scriptable POP3 server for the engine's hostile and blocking-point tests.

Port 0, loopback only, one thread per connection; it records the commands it received
and the messages it deleted (at QUIT, as RFC 1939 says). What it does wrong is chosen
per test:

- ``stall``: "accept" (never greet, for a TLS handshake that never starts), "greeting",
  "LIST" (after one line), "TOP", "RETR" (after ``stall_after`` octets of the body):
  stop sending and keep the socket open; ``reached`` is set when it gets there;
- ``trickle``: "LIST" sends one listing line every 0.2 s, without end;
- ``short``: message index -> octets actually sent before the terminator (a cut body);
- ``unstuffed``: indices whose body goes out without dot-stuffing;
- ``sizes``: LIST sizes to claim instead of the real ones;
- ``uidls``: UIDLs to list instead of "u1", "u2" ...;
- ``refuse_offset``: "RETR n offset" is answered with a plain -ERR (EXT-RETR listed);
- ``capa``: extra CAPA lines ("EXT-RETR", "LOGIN-DELAY 1000000", "STLS" ...);
- ``tls``: (certificate, key) for STLS, with ``tls_delay`` seconds before the handshake.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from pathlib import Path

__all__ = ["FakePop3"]


class FakePop3:
    def __init__(
        self,
        messages: Iterable[bytes],
        *,
        stall: str | None = None,
        stall_after: int = 2000,
        trickle: str | None = None,
        short: dict[int, int] | None = None,
        unstuffed: Iterable[int] = (),
        sizes: dict[int, int] | None = None,
        uidls: list[str] | None = None,
        refuse_offset: bool = False,
        capa: Iterable[str] = (),
        login_delay_error: bool = False,
        tls: tuple[Path, Path] | None = None,
        tls_delay: float = 0.0,
    ) -> None:
        self.messages = [m if m.endswith(b"\r\n") else m + b"\r\n" for m in messages]
        self.stall = stall
        self.stall_after = stall_after
        self.trickle = trickle
        self.short = short or {}
        self.unstuffed = set(unstuffed)
        self.sizes = sizes or {}
        self.uidls = uidls or [f"u{i + 1}" for i in range(len(self.messages))]
        self.refuse_offset = refuse_offset
        self.capa = ["USER", "UIDL", "TOP", "PIPELINING", *capa]
        self.login_delay_error = login_delay_error
        self.tls = tls
        self.tls_delay = tls_delay
        self.commands: list[str] = []
        self.deleted: list[str] = []
        self.sessions = 0
        self.quits = 0
        self.reached = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._serve, name="fakepop", daemon=True)

    def __enter__(self) -> FakePop3:
        self._accept.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accept.join(5)
        for thread in self._threads:
            thread.join(5)
        self._listener.close()

    # -- serving --------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._session, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _hold(self) -> None:
        self.reached.set()
        self._stop.wait(60)

    def _session(self, conn: socket.socket) -> None:
        with self._lock:
            self.sessions += 1
        marked: set[int] = set()
        try:
            with contextlib.closing(conn):
                conn.settimeout(30)
                if self.stall == "accept":
                    self._hold()
                    return
                if self.stall == "greeting":
                    self._hold()
                    return
                conn.sendall(b"+OK fake POP3 ready\r\n")
                reader = conn.makefile("rb")
                while not self._stop.is_set():
                    line = reader.readline(1024)
                    if not line:
                        return
                    words = line.decode("ascii", "replace").split()
                    verb = words[0].upper() if words else ""
                    with self._lock:
                        self.commands.append(" ".join(words))
                    if verb == "STLS" and self.tls is not None:
                        conn.sendall(b"+OK begin TLS\r\n")
                        time.sleep(self.tls_delay)
                        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                        ctx.load_cert_chain(*self.tls)
                        conn = ctx.wrap_socket(conn, server_side=True)
                        reader = conn.makefile("rb")
                        continue
                    if not self._answer(conn, verb, words[1:], marked):
                        return
        except OSError:
            return

    def _answer(self, conn: socket.socket, verb: str, args: list[str], marked: set[int]) -> bool:
        out = conn.sendall
        if verb == "CAPA":
            caps = list(self.capa) + (["STLS"] if self.tls else [])
            out(b"+OK\r\n" + b"".join(c.encode() + b"\r\n" for c in caps) + b".\r\n")
        elif verb in ("USER", "NOOP", "RSET"):
            if verb == "RSET":
                marked.clear()
            out(b"+OK\r\n")
        elif verb == "PASS":
            if self.login_delay_error:
                out(b"-ERR [LOGIN-DELAY] wait before logging in again\r\n")
                return False
            out(b"+OK logged in\r\n")
        elif verb == "LIST":
            lines = [b"%d %d\r\n" % (i + 1, self._size(i)) for i in range(len(self.messages))]
            out(b"+OK\r\n")
            if self.stall == "LIST":
                out(lines[0])
                self._hold()
                return False
            if self.trickle == "LIST":
                self.reached.set()
                n = 0
                while not self._stop.wait(0.2):
                    out(b"%d 100\r\n" % (n + 1))
                    n += 1
                return False
            out(b"".join(lines) + b".\r\n")
        elif verb == "UIDL":
            out(b"+OK\r\n" + b"".join(
                b"%d %s\r\n" % (i + 1, u.encode()) for i, u in enumerate(self.uidls)
            ) + b".\r\n")
        elif verb == "TOP":
            if self.stall == "TOP":
                out(b"+OK\r\nSubject: x\r\n")
                self._hold()
                return False
            index = int(args[0]) - 1
            head = self.messages[index].split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
            out(b"+OK\r\n" + _stuff(head) + b".\r\n")
        elif verb == "RETR":
            return self._retr(conn, args)
        elif verb == "DELE":
            marked.add(int(args[0]) - 1)
            out(b"+OK marked\r\n")
        elif verb == "QUIT":
            with self._lock:
                self.quits += 1
                self.deleted.extend(self.uidls[i] for i in sorted(marked))
            out(b"+OK bye\r\n")
            return False
        else:
            out(b"-ERR unknown command\r\n")
        return True

    def _size(self, index: int) -> int:
        return self.sizes.get(index, len(self.messages[index]))

    def _retr(self, conn: socket.socket, args: list[str]) -> bool:
        index = int(args[0]) - 1
        offset = int(args[1]) if len(args) > 1 else 0
        if offset and self.refuse_offset:
            conn.sendall(b"-ERR offsets are not supported\r\n")
            return True
        body = self.messages[index][offset:]
        if index in self.short:
            body = body[: self.short[index]]
            if not body.endswith(b"\r\n"):
                body += b"\r\n"
        wire = body if index in self.unstuffed else _stuff(body, leading=True)
        conn.sendall(b"+OK %d octets\r\n" % len(body))
        if self.stall == "RETR":
            conn.sendall(wire[: self.stall_after])
            self._hold()
            return False
        conn.sendall(wire + b".\r\n")
        return True


def _stuff(body: bytes, *, leading: bool = True) -> bytes:
    stuffed = body.replace(b"\r\n.", b"\r\n..")
    if leading and stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed
