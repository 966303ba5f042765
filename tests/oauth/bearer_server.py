"""A small hostile POP3 server for bearer logins: Outlook's habits, on loopback.

It refuses XOAUTH2/OAUTHBEARER sent as an initial response on the AUTH line (as Outlook's
POP service does) and accepts the two-step form; a token outside ``valid`` gets the RFC 7628
error challenge, and the client's answer to it is recorded. It serves one message. Port 0,
127.0.0.1 only, implicit TLS with the run's certificate; everything received is kept in
``received`` (in memory: the tests look for tokens there, so they never reach a file).
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import threading
from dataclasses import dataclass, field

MESSAGE = b"From: a@example.test\r\nSubject: bearer\r\n\r\nhello over OAuth\r\n"


@dataclass
class BearerServer:
    tls: ssl.SSLContext
    valid: set[str] = field(default_factory=set)
    received: list[str] = field(default_factory=list)
    logins: int = 0
    _sock: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)

    address: tuple[str, int] = ("127.0.0.1", 0)

    def start(self) -> tuple[str, int]:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.address = ("127.0.0.1", int(self._sock.getsockname()[1]))
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.address

    def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
            self._sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def tokens_sent(self) -> list[str]:
        """The bearer tokens of every SASL line received, decoded, in order."""
        return [t for t in map(self._token_of, self.received) if t is not None]

    def _accept(self) -> None:
        assert self._sock is not None
        while True:
            try:
                raw, _ = self._sock.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(raw,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, raw: socket.socket) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            conn = self.tls.wrap_socket(raw, server_side=True)
            conn.settimeout(30)
            with conn, conn.makefile("rb") as lines:
                self._dialogue(conn, lines)

    def _dialogue(self, conn: ssl.SSLSocket, lines: object) -> None:
        def send(text: str) -> None:
            conn.sendall(text.encode() + b"\r\n")

        def read() -> str:
            line = lines.readline(100_000)  # type: ignore[attr-defined]
            if not line:
                raise OSError("client left")
            text = str(line.decode().rstrip("\r\n"))
            self.received.append(text)
            return text

        send("+OK fake Outlook ready")
        authed = False
        while True:
            verb, _, rest = read().partition(" ")
            verb = verb.upper()
            if verb == "CAPA":
                send("+OK\r\nUSER\r\nSASL XOAUTH2 OAUTHBEARER\r\nUIDL\r\n.")
            elif verb == "AUTH" and not authed:
                initial = rest.partition(" ")[2]
                if initial:
                    send("-ERR Protocol error: initial response not accepted")
                    continue
                send("+ ")
                line = read()
                if self._token_of(line) in self.valid:
                    self.logins += 1
                    authed = True
                    send("+OK User successfully authenticated.")
                    continue
                error = {"status": "401", "schemes": "bearer", "scope": "pop"}
                send("+ " + base64.b64encode(json.dumps(error).encode()).decode())
                read()  # the client's answer that ends the exchange
                send("-ERR Authentication failure: unknown user name or bad password.")
            elif verb == "STAT" and authed:
                send(f"+OK 1 {len(MESSAGE)}")
            elif verb == "LIST" and authed:
                send(f"+OK\r\n1 {len(MESSAGE)}\r\n.")
            elif verb == "UIDL" and authed:
                send("+OK\r\n1 bearer-1\r\n.")
            elif verb == "RETR" and authed:
                conn.sendall(b"+OK\r\n" + MESSAGE + b".\r\n")
            elif verb == "NOOP" and authed:
                send("+OK")
            elif verb == "QUIT":
                send("+OK bye")
                return
            else:
                send("-ERR not now")

    @staticmethod
    def _token_of(line: str) -> str | None:
        try:
            raw = base64.b64decode(line, validate=True).decode()
        except ValueError:
            return None
        for part in raw.split("\x01"):
            if part.startswith("auth=Bearer "):
                return part.removeprefix("auth=Bearer ")
        return None
