"""One IMAP connection for the delivery target (see :mod:`core.store.imap`): greeting,
STARTTLS or implicit TLS, login, STATUS, APPEND, and the look-ups after a crash.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from core.errors import ConnectionLost, RemoteProtocolError, TargetUnavailable
from core.net import Security, TlsPolicy, Transport, connect
from core.store.imapreader import ImapReader, Response
from core.store.targets import ImapSpec, Message, MessageFacts, shown

__all__ = ["ImapSession", "astring", "mailbox_name"]

LITERAL_MINUS_MAX = 4096  # RFC 7888: LITERAL- allows non-synchronizing literals up to this
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- encoding --------------------------------------------------------------------------------


def mailbox_name(name: str) -> str:
    """RFC 3501 5.1.3 modified UTF-7: ASCII stays, '&' becomes '&-', other runs become
    '&' + modified base64 of their UTF-16BE + '-'."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            raw = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            run.append(ch)
    flush()
    return "".join(out)


def astring(text: str) -> bytes | None:
    """A quoted string, or None when only a literal can carry ``text`` (8-bit, CR, LF)."""
    raw = text.encode("utf-8")
    if any(b > 0x7E or b < 0x20 for b in raw):
        return None
    return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def internal_date(when: datetime) -> bytes:
    """``"02-Dec-2026 05:47:30 +0100"`` (RFC 3501 date-time), locale-independent."""
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    hh, mm = divmod(abs(minutes), 60)
    return (
        f'"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} '
        f'{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{hh:02d}{mm:02d}"'
    ).encode()


def _append_item(message: Message, facts: MessageFacts) -> bytes:
    """`` [date-time] {`` or `` [date-time] ~{`` (BINARY for NUL octets): no flag list, so
    the message arrives unread; the caller adds the size and ``}``/``+}``."""
    when = message.date()
    item = b" " + internal_date(when) if when is not None else b""
    return item + (b" ~{" if facts.has_nul else b" {")


# -- one connection ----------------------------------------------------------------------------


@dataclass
class _Pending:
    """An APPEND sent whose tagged answer is outstanding."""

    index: int
    message: Message
    hint: str


@dataclass
class ImapSession:
    """One logged-in IMAP connection. Errors: ConnectionLost/ReadTimeout (the link),
    TargetUnavailable (refused login, no TLS), RemoteProtocolError (not IMAP)."""

    spec: ImapSpec
    password: Callable[[], str]
    tls: TlsPolicy
    timeout: float
    caps: set[str] = field(default_factory=set)
    _transport: Transport | None = None
    _reader: ImapReader = field(default_factory=ImapReader)
    _tags: int = 0
    _results: dict[str, Response] = field(default_factory=dict)
    untagged: list[Response] = field(default_factory=list)

    def open(self) -> None:
        spec = self.spec
        security = Security.TLS if spec.implicit_tls else Security.STARTTLS
        self._transport = connect(spec.host, spec.port, security, self.tls, timeout=self.timeout)
        greeting = self._read()
        if greeting.status == "BYE" or greeting.status not in ("OK", "PREAUTH"):
            raise ConnectionLost(f"{spec.url}: the server refused the connection: "
                                 f"{shown(greeting.text)}")
        self._caps_from(greeting)
        if not spec.implicit_tls:
            if not self.caps:
                self.capability()
            if "STARTTLS" not in self.caps:
                raise TargetUnavailable(
                    spec.url, "the server does not offer STARTTLS (required for imap://)"
                )
            self._simple(b"STARTTLS")
            self._transport.start_tls(spec.host, self.tls)
            self.caps = set()
        if greeting.status != "PREAUTH":
            if not self.caps:
                self.capability()
            self._login()
        if not self.caps:
            self.capability()

    def _caps_from(self, response: Response) -> None:
        if response.code and response.code.upper().startswith("CAPABILITY "):
            self.caps = {c.upper() for c in response.code.split()[1:]}

    def capability(self) -> None:
        _, untagged = self._simple(b"CAPABILITY")
        for r in untagged:
            values = r.values()
            if values and str(values[0]).upper() == "CAPABILITY":
                self.caps = {str(c).upper() for c in values[1:]}

    def _login(self) -> None:
        spec = self.spec
        secret = self.password()
        if "AUTH=PLAIN" in self.caps:
            token = base64.b64encode(
                b"\0" + spec.user.encode("utf-8") + b"\0" + secret.encode("utf-8")
            )
            tag = self._tag()
            if "SASL-IR" in self.caps:
                self._send(tag + b" AUTHENTICATE PLAIN " + token + b"\r\n")
            else:
                self._send(tag + b" AUTHENTICATE PLAIN\r\n")
                if self._continuation(tag) is None:
                    self._send(token + b"\r\n")
            done = self._until(tag)
        elif "LOGINDISABLED" in self.caps:
            raise TargetUnavailable(spec.url, "the server offers neither LOGIN nor AUTH=PLAIN")
        else:
            tag = self._tag()
            self._command(tag, [b"LOGIN ", spec.user.encode("utf-8"), b" ", secret.encode("utf-8")],
                          literal_args=(1, 3))
            done = self._until(tag)
        if done.status != "OK":
            raise TargetUnavailable(
                spec.url, f"login as {spec.user} refused: {shown(done.text) or done.status}"
            )
        self.caps = set()
        self._caps_from(done)

    # -- commands --------------------------------------------------------------------------

    def _tag(self) -> bytes:
        self._tags += 1
        return f"P{self._tags}".encode()

    def _send(self, data: bytes) -> None:
        assert self._transport is not None
        self._transport.sendall(data)

    def _read(self) -> Response:
        assert self._transport is not None
        while True:
            response = self._reader.next()
            if response is not None:
                return response
            data = self._transport.recv()
            if not data:
                raise ConnectionLost(f"{self.spec.url}: the server closed the connection")
            self._reader.feed(data)

    def _dispatch(self, response: Response) -> None:
        if response.tag == "*":
            self.untagged.append(response)  # a BYE is followed by EOF: ConnectionLost
        else:
            self._results[response.tag] = response

    def _until(self, tag: bytes) -> Response:
        """Read until the tagged answer to ``tag`` (others are kept for their callers)."""
        key = tag.decode()
        while key not in self._results:
            response = self._read()
            if response.tag == "+":
                raise RemoteProtocolError(f"IMAP: unexpected continuation: {shown(response.text)}")
            self._dispatch(response)
        return self._results.pop(key)

    def _continuation(self, tag: bytes) -> Response | None:
        """Wait for "+" (None) or for the tagged answer to ``tag`` (a refusal, returned)."""
        key = tag.decode()
        while True:
            if key in self._results:
                return self._results.pop(key)
            response = self._read()
            if response.tag == "+":
                return None
            self._dispatch(response)

    def _command(
        self, tag: bytes, parts: list[bytes], *, literal_args: tuple[int, ...] = ()
    ) -> Response | None:
        """Send ``tag`` + parts; parts at ``literal_args`` are strings sent quoted, or as
        literals when they must be. Returns a refusal met while waiting for "+"."""
        line = tag + b" "
        for i, part in enumerate(parts):
            if i not in literal_args:
                line += part
                continue
            quoted = astring(part.decode("utf-8"))
            if quoted is not None:
                line += quoted
                continue
            if self._nonsync(len(part)):
                line += b"{%d+}\r\n" % len(part) + part
                continue
            self._send(line + b"{%d}\r\n" % len(part))
            refused = self._continuation(tag)
            if refused is not None:
                return refused
            line = part
        self._send(line + b"\r\n")
        return None

    def _nonsync(self, size: int) -> bool:
        return "LITERAL+" in self.caps or ("LITERAL-" in self.caps and size <= LITERAL_MINUS_MAX)

    def _simple(self, command: bytes) -> tuple[Response, list[Response]]:
        """A command without literals; NO/BAD raise (they mean a bug or a refusal)."""
        tag = self._tag()
        self.untagged = []
        self._send(tag + b" " + command + b"\r\n")
        done = self._until(tag)
        if done.status != "OK":
            verb = command.split(b" ", 1)[0].decode()
            raise TargetUnavailable(self.spec.url, f"{verb}: {done.status} {shown(done.text)}")
        return done, self.untagged

    def mailbox_arg(self) -> bytes:
        name = mailbox_name(self.spec.mailbox)
        quoted = astring(name)
        assert quoted is not None  # modified UTF-7 is 7-bit
        return quoted

    def status(self) -> tuple[int, int]:
        """(UIDVALIDITY, UIDNEXT) of the target mailbox."""
        tag = self._tag()
        self.untagged = []
        self._send(tag + b" STATUS " + self.mailbox_arg() + b" (UIDVALIDITY UIDNEXT)\r\n")
        done = self._until(tag)
        if done.status != "OK":
            raise _mailbox_refused(self.spec, "STATUS", done)
        found: dict[str, int] = {}
        for r in self.untagged:
            values = r.values()
            if len(values) >= 3 and str(values[0]).upper() == "STATUS":
                items = values[2]
                if isinstance(items, list):
                    for k, v in zip(items[::2], items[1::2], strict=False):
                        if isinstance(v, str) and v.isdigit():
                            found[str(k).upper()] = int(v)
        return found.get("UIDVALIDITY", 0), found.get("UIDNEXT", 1)

    def send_append(self, message: Message, facts: MessageFacts) -> bytes | Response:
        """Send one APPEND; the tag to wait for, or a refusal met before the literal."""
        tag = self._tag()
        head = tag + b" APPEND " + self.mailbox_arg() + _append_item(message, facts)
        size = facts.crlf_size
        if self._nonsync(size):
            self._send(head + b"%d+}\r\n" % size)
        else:
            self._send(head + b"%d}\r\n" % size)
            refused = self._continuation(tag)
            if refused is not None:
                return refused
        self._send_literal(message)
        self._send(b"\r\n")
        return tag

    def send_multiappend(self, items: list[tuple[Message, MessageFacts]]) -> bytes:
        """One APPEND of several messages (RFC 3502), every literal non-synchronizing:
        one transaction, all or none."""
        tag = self._tag()
        self._send(tag + b" APPEND " + self.mailbox_arg())
        for message, facts in items:
            self._send(_append_item(message, facts) + b"%d+}\r\n" % facts.crlf_size)
            self._send_literal(message)
        self._send(b"\r\n")
        return tag

    def _send_literal(self, message: Message) -> None:
        for chunk in message.chunks():
            self._send(chunk.replace(b"\n", b"\r\n"))

    def result(self, tag: bytes) -> Response:
        return self._until(tag)

    def examine(self) -> int:
        """EXAMINE the mailbox (read-only); its UIDVALIDITY."""
        tag = self._tag()
        self.untagged = []
        self._send(tag + b" EXAMINE " + self.mailbox_arg() + b"\r\n")
        done = self._until(tag)
        if done.status != "OK":
            raise _mailbox_refused(self.spec, "EXAMINE", done)
        for r in self.untagged:
            if r.code and r.code.upper().startswith("UIDVALIDITY "):
                return int(r.code.split()[1])
        return 0

    def uid_search(self, criteria: bytes) -> list[int]:
        """UIDs matching ``criteria`` (ASCII search keys, strings already quoted)."""
        tag = self._tag()
        self.untagged = []
        self._send(tag + b" UID SEARCH " + criteria + b"\r\n")
        done = self._until(tag)
        if done.status != "OK":
            raise TargetUnavailable(self.spec.url, f"UID SEARCH: {done.status} {shown(done.text)}")
        uids: list[int] = []
        for r in self.untagged:
            values = r.values()
            if values and str(values[0]).upper() == "SEARCH":
                uids.extend(int(v) for v in values[1:] if isinstance(v, str) and v.isdigit())
        return uids

    def uid_fetch_header(self, uid: int) -> tuple[int, bytes] | None:
        """(RFC822.SIZE, header block) of message ``uid``, None if it is gone."""
        tag = self._tag()
        self.untagged = []
        self._send(tag + b" UID FETCH %d (RFC822.SIZE BODY.PEEK[HEADER])\r\n" % uid)
        done = self._until(tag)
        if done.status != "OK":
            return None
        for r in self.untagged:
            values = r.values()
            if len(values) >= 3 and str(values[1]).upper() == "FETCH" and isinstance(
                values[2], list
            ):
                items = values[2]
                got = dict(zip((str(k).upper() for k in items[::2]), items[1::2], strict=False))
                size, header = got.get("RFC822.SIZE"), got.get("BODY[HEADER]")
                if str(got.get("UID")) == str(uid) and isinstance(size, str) and isinstance(
                    header, bytes | str
                ):
                    raw = header if isinstance(header, bytes) else header.encode()
                    return int(size), raw
        return None

    def close_mailbox(self) -> None:
        self._simple(b"UNSELECT" if "UNSELECT" in self.caps else b"CLOSE")

    def logout(self) -> None:
        """LOGOUT politely when the link is up; always close the socket."""
        if self._transport is None:
            return
        with contextlib.suppress(ConnectionLost, RemoteProtocolError, TargetUnavailable):
            self._transport.set_timeout(min(self.timeout, 5.0))
            self._simple(b"LOGOUT")
        self.abort()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None


def _mailbox_refused(spec: ImapSpec, verb: str, done: Response) -> TargetUnavailable:
    return TargetUnavailable(
        spec.url,
        f"mailbox {spec.mailbox!r}: {verb} {done.status} "
        f"{'[' + done.code + '] ' if done.code else ''}{shown(done.text)}",
    )


