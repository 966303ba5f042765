"""The LMTP delivery target (RFC 2033): hand each message to a local mail server.

One connection per run (TCP or a Unix socket), LHLO once, then per message MAIL FROM,
RCPT TO for each recipient, DATA with dot-stuffing, and one reply *per accepted
recipient* after the final dot: that is what LMTP adds to SMTP, and why it suits
delivery (each mailbox says for itself whether it took the message).

Replies decide: 2xx delivered; 4xx temporary (kept on the server, next run); 5xx
permanent (this message fails, kept on the server). A refused RCPT is answered with RSET
and no DATA, so no recipient gets a copy the others lack. A link lost after DATA leaves
the outcome unknown: the message counts as not delivered and goes again next run (LMTP
cannot be asked; see ``can_look`` in :mod:`core.store.targets`).

Recipients default to the local user's login name, as fetchmail's LMTP delivery does.
"""

from __future__ import annotations

import contextlib
import getpass
import re
import socket
from collections.abc import Iterator, Sequence

from core.errors import (
    ConnectionLost,
    PermanentDeliveryError,
    RemoteProtocolError,
    TargetUnavailable,
    TemporaryDeliveryError,
)
from core.net import Security, TlsPolicy, Transport, connect
from core.store.targets import LmtpSpec, Message, Outcome, Receipt, Target, each, shown

__all__ = ["LmtpTarget", "dot_stuffed"]

MAX_LINE = 4096
MAX_LINES = 200
_ADDRESS = re.compile(r"<([^<>\s]*)>")
_REPLY = re.compile(rb"(\d{3})([ -])(.*)", re.S)


def dot_stuffed(message: Message) -> Iterator[bytes]:
    """The message in CRLF form, a "." doubled at each line start, then the final
    ``.`` line (RFC 5321 4.5.2)."""
    at_line_start = True
    last = b"\n"
    for chunk in message.chunks():
        if not chunk:
            continue
        stuffed = chunk.replace(b"\n.", b"\n..")
        if at_line_start and stuffed.startswith(b"."):
            stuffed = b"." + stuffed
        at_line_start = stuffed.endswith(b"\n")
        last = chunk[-1:]
        yield stuffed.replace(b"\n", b"\r\n")
    yield (b"" if last == b"\n" else b"\r\n") + b".\r\n"


class LmtpTarget(Target):
    """Deliver over LMTP; see the module docstring."""

    def __init__(
        self,
        spec: LmtpSpec,
        *,
        recipients: Sequence[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.spec = spec
        if spec.socket is not None:
            self.url = f"lmtp:{spec.socket}"
        else:
            host = f"[{spec.host}]" if spec.host and ":" in spec.host else spec.host
            self.url = f"lmtp:{host}:{spec.port}"
        self.recipients = list(recipients) if recipients else [getpass.getuser()]
        for rcpt in self.recipients:
            if any(c in rcpt for c in "<>\r\n\0 "):
                raise ValueError(f"LMTP recipient {rcpt!r}: not an address")
        self.timeout = timeout
        self._transport: Transport | None = None
        self._buf = b""

    # -- the connection --------------------------------------------------------------------

    def _connected(self) -> Transport:
        if self._transport is not None:
            return self._transport
        spec = self.spec
        if spec.socket is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(spec.socket))
            except OSError as exc:
                sock.close()
                raise TargetUnavailable(self.url, f"cannot connect: {exc.strerror or exc}") from exc
            transport = Transport(sock)
        else:
            assert spec.host is not None and spec.port is not None
            try:
                transport = connect(
                    spec.host, spec.port, Security.NONE, TlsPolicy(), timeout=self.timeout
                )
            except ConnectionLost as exc:
                raise TargetUnavailable(self.url, str(exc)) from exc
        self._transport = transport
        self._buf = b""
        try:
            code, text = self._reply()
            if code != 220:
                raise TargetUnavailable(self.url, f"greeting {code} {text}")
            code, text = self._command(b"LHLO " + socket.gethostname().encode("idna"))
            if code != 250:
                raise TargetUnavailable(self.url, f"LHLO refused: {code} {text}")
        except (ConnectionLost, RemoteProtocolError) as exc:
            self._drop()
            raise TargetUnavailable(self.url, str(exc)) from exc
        except TargetUnavailable:
            self._drop()
            raise
        return transport

    def _drop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def _reply(self) -> tuple[int, str]:
        """One reply (its lines joined); RemoteProtocolError if it is not one."""
        assert self._transport is not None
        texts: list[str] = []
        for _ in range(MAX_LINES):
            while b"\r\n" not in self._buf:
                if len(self._buf) > MAX_LINE:
                    raise RemoteProtocolError(f"{self.url}: a reply line over {MAX_LINE} octets")
                data = self._transport.recv(65536)
                if not data:
                    raise ConnectionLost(f"{self.url}: the server closed the connection")
                self._buf += data
            line, self._buf = self._buf.split(b"\r\n", 1)
            m = _REPLY.fullmatch(line)
            if m is None:
                raise RemoteProtocolError(f"{self.url}: not an LMTP reply: {shown(line)}")
            texts.append(shown(m.group(3)))
            if m.group(2) == b" ":
                return int(m.group(1)), " ".join(texts)
        raise RemoteProtocolError(f"{self.url}: a reply of more than {MAX_LINES} lines")

    def _command(self, line: bytes) -> tuple[int, str]:
        assert self._transport is not None
        self._transport.sendall(line + b"\r\n")
        return self._reply()

    # -- delivering ------------------------------------------------------------------------

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        return each(messages, hints, self._deliver)

    def _deliver(self, message: Message, hint: str) -> Receipt:
        self._connected()
        try:
            return self._transaction(message)
        except (ConnectionLost, RemoteProtocolError) as exc:
            self._drop()  # the next message reconnects
            raise TemporaryDeliveryError(self.url, f"connection lost, outcome unknown: {exc}") \
                from exc

    def _transaction(self, message: Message) -> Receipt:
        sender = ""
        path = message.header("Return-Path")
        if path:
            m = _ADDRESS.search(path)
            if m and m.group(1).isascii():
                sender = m.group(1)
        code, text = self._command(b"MAIL FROM:<" + sender.encode() + b">")
        if code != 250:
            self._refused("MAIL FROM", code, text)
        for rcpt in self.recipients:
            code, text = self._command(b"RCPT TO:<" + rcpt.encode("utf-8") + b">")
            if code // 100 != 2:
                self._refused(f"RCPT TO:<{rcpt}>", code, text)
        code, text = self._command(b"DATA")
        if code != 354:
            self._refused("DATA", code, text)
        assert self._transport is not None
        for chunk in dot_stuffed(message):
            self._transport.sendall(chunk)
        replies = [(rcpt, *self._reply()) for rcpt in self.recipients]
        failed = [(r, c, t) for r, c, t in replies if c // 100 != 2]
        if not failed:
            return Receipt(self.url, " ".join(f"<{r}> {c} {t}" for r, c, t in replies))
        said = "; ".join(f"<{r}> {c} {t}" for r, c, t in failed)
        if any(c // 100 == 4 for _, c, _ in failed):
            raise TemporaryDeliveryError(self.url, said)
        raise PermanentDeliveryError(self.url, said)

    def _refused(self, what: str, code: int, text: str) -> None:
        """A refusal before DATA: RSET, then temporary (4xx) or permanent (5xx)."""
        self._command(b"RSET")
        reason = f"{what}: {code} {text}"
        if code // 100 == 4:
            raise TemporaryDeliveryError(self.url, reason)
        raise PermanentDeliveryError(self.url, reason)

    def close(self) -> None:
        if self._transport is not None:
            with contextlib.suppress(ConnectionLost, RemoteProtocolError):
                self._command(b"QUIT")
            self._drop()
