"""Delivery targets: where a complete message goes once it is fetched, and the --deliver URL.

Every target (Maildir, mbox, MDA, LMTP, IMAP) implements :class:`Target`. A delivery is
*durable* when :meth:`Target.deliver_many` returns its :class:`Receipt`: fsynced and renamed
into ``new/``, fsynced into the mbox, exit 0 from the MDA, 250 from LMTP, tagged OK to
APPEND. Only then may the engine mark the message for DELE (DESIGN, Invariants).

Failures are typed (:mod:`core.errors`): :class:`~core.errors.TemporaryDeliveryError`
(keep it on the server, the next run tries again), :class:`~core.errors.PermanentDeliveryError`
(this message fails, kept on the server), :class:`~core.errors.TargetUnavailable` (stop
delivering this run). The in-flight journal is :mod:`core.store.journal`; the Maildir
target :mod:`core.store.maildirtarget`.
"""

from __future__ import annotations

import abc
import contextlib
import email.utils
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType

from core.errors import (
    DeliveryError,
    PermanentDeliveryError,
    StorageError,
    TemporaryDeliveryError,
)
from core.net import TlsPolicy
from core.store.maildir import crlf_to_lf
from core.text import sanitize

__all__ = [
    "ImapSpec",
    "LmtpSpec",
    "MaildirSpec",
    "MboxSpec",
    "MdaSpec",
    "Message",
    "Outcome",
    "Receipt",
    "Target",
    "TargetSpec",
    "each",
    "open_target",
    "parse_deliver",
    "shown",
]

_CHUNK = 1 << 20
_HEADER_LIMIT = 1 << 20  # header blocks longer than this are not searched for Date etc.


def shown(text: str | bytes, limit: int = 300) -> str:
    """Untrusted text (a server's reply, an MDA's stderr, as bytes or str) decoded and
    sanitized by :func:`core.text.sanitize` (DESIGN rule 16)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return sanitize(text.strip(), limit)


# -- the message ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One complete message in LF form (as the partial file and the Maildir hold it),
    either in a file (``path``, read in chunks: constant memory) or in memory (``data``)."""

    path: Path | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.data is None):
            raise ValueError("a Message has either a path or data")

    @classmethod
    def from_wire(cls, wire: bytes) -> Message:
        """A message as the POP3 server sent it (CRLF form, unstuffed)."""
        return cls(data=crlf_to_lf(wire))

    def chunks(self, size: int = _CHUNK) -> Iterator[bytes]:
        """The LF bytes in chunks of at most ``size`` (one chunk for in-memory data)."""
        if self.data is not None:
            yield self.data
            return
        assert self.path is not None
        try:
            with open(self.path, "rb") as f:
                while chunk := f.read(size):
                    yield chunk
        except OSError as exc:
            raise StorageError(f"cannot read {self.path}: {exc.strerror or exc}") from exc

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def head(self) -> bytes:
        """The header block (LF form, up to the blank line, at most 1 MiB)."""
        buf = b""
        for chunk in self.chunks(65536):
            buf += chunk
            end = _header_end(buf)
            if end >= 0:
                return buf[:end]
            if len(buf) >= _HEADER_LIMIT:
                return buf[:_HEADER_LIMIT]
        return buf

    def scan(self) -> MessageFacts:
        """One pass over the bytes: sizes and whether a NUL octet is in them."""
        size = newlines = 0
        nul = False
        for chunk in self.chunks():
            size += len(chunk)
            newlines += chunk.count(b"\n")
            nul = nul or b"\0" in chunk
        return MessageFacts(size, size + newlines, nul)

    def header(self, name: str) -> str | None:
        """The first ``name`` header field's value (unfolded), None if absent."""
        values = self.headers(name)
        return values[0] if values else None

    def headers(self, name: str) -> list[str]:
        wanted = name.lower().encode()
        found: list[str] = []
        for field in _fields(self.head()):
            key, _, value = field.partition(b":")
            if key.strip().lower() == wanted:
                found.append(re.sub(rb"\s+", b" ", value).strip().decode("utf-8", "replace"))
        return found

    def date(self) -> datetime | None:
        """When it was sent: the Date header, else the date of the first Received
        header (the topmost, the last hop); None if neither parses."""
        for value in [self.header("Date"), *self.headers("Received")[:1]]:
            if value is None:
                continue
            text = value.rsplit(";", 1)[-1] if ";" in value else value
            with contextlib.suppress(TypeError, ValueError, IndexError):
                when = email.utils.parsedate_to_datetime(text.strip())
                if when.tzinfo is not None:
                    return when
        return None


@dataclass(frozen=True, slots=True)
class MessageFacts:
    size: int  # LF form octets
    crlf_size: int  # CRLF form octets (every LF becomes CRLF)
    has_nul: bool


def _header_end(buf: bytes) -> int:
    if buf.startswith(b"\n"):
        return 0
    end = buf.find(b"\n\n")
    return end + 1 if end >= 0 else -1


def _fields(head: bytes) -> list[bytes]:
    """Header fields, continuation lines joined to their field."""
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b" " + line.strip()
        elif line:
            fields.append(line)
    return fields


# -- receipts and the interface ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a message went: ``where`` names the target, ``detail`` the place in it."""

    where: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.where} {self.detail}" if self.detail else self.where

    @classmethod
    def parse(cls, text: str) -> Receipt:
        where, _, detail = text.partition(" ")
        return cls(where, detail)


Outcome = Receipt | DeliveryError


class Target(abc.ABC):
    """One place messages are delivered to. Not thread-safe: one engine thread uses it.

    ``url`` names the target for receipts and errors and never holds a secret.
    ``can_look`` says whether :meth:`find` can tell if an interrupted delivery arrived.
    """

    url: str
    can_look: bool = False

    def prepare(self, messages: Sequence[Message]) -> list[str]:
        """A hint per message to journal before delivering it, for :meth:`find`.

        Called right before :meth:`deliver_many` with the same messages (a target may
        take its lock here, as the mbox does). The default records nothing.
        """
        return ["" for _ in messages]

    @abc.abstractmethod
    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        """Deliver each message; a Receipt (durable on return) or the error of that message.

        :class:`~core.errors.TargetUnavailable` is raised, not returned: nothing more can
        be delivered this run.
        """

    def find(self, message: Message, hint: str) -> Receipt | None:
        """After a crash: did the delivery journalled with ``hint`` arrive? None: no (or
        this target cannot tell, see ``can_look``)."""
        return None

    def close(self) -> None:  # noqa: B027 - most targets hold nothing open between calls
        """Release connections and locks."""

    def __enter__(self) -> Target:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def each(
    messages: Sequence[Message], hints: Sequence[str], one: Callable[[Message, str], Receipt]
) -> list[Outcome]:
    """Deliver one by one; a message's own failure is its outcome, the rest go on."""
    outcomes: list[Outcome] = []
    for message, hint in zip(messages, hints, strict=True):
        try:
            outcomes.append(one(message, hint))
        except (TemporaryDeliveryError, PermanentDeliveryError) as exc:
            outcomes.append(exc)
    return outcomes


# -- the --deliver URL -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaildirSpec:
    path: Path


@dataclass(frozen=True, slots=True)
class MboxSpec:
    path: Path


@dataclass(frozen=True, slots=True)
class MdaSpec:
    command: str


@dataclass(frozen=True, slots=True)
class LmtpSpec:
    """``host``/``port`` for TCP, or ``socket`` for a Unix socket path."""

    host: str | None = None
    port: int | None = None
    socket: Path | None = None


@dataclass(frozen=True, slots=True)
class ImapSpec:
    """``imap://`` (STARTTLS, required) or ``imaps://`` (implicit TLS)."""

    user: str
    host: str
    port: int
    mailbox: str
    implicit_tls: bool

    @property
    def url(self) -> str:
        scheme = "imaps" if self.implicit_tls else "imap"
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == (993 if self.implicit_tls else 143) else f":{self.port}"
        # Quoted as parse_deliver unquotes: a space would cut a Receipt in two, a "%"
        # would not read back.
        user = urllib.parse.quote(self.user, safe="@!$&'()*+,=")
        return f"{scheme}://{user}@{host}{port}/{urllib.parse.quote(self.mailbox, safe='/')}"


TargetSpec = MaildirSpec | MboxSpec | MdaSpec | LmtpSpec | ImapSpec

_FORMS = (
    "maildir:PATH, mbox:PATH, mda:COMMAND, lmtp:HOST:PORT, lmtp:/path/to/socket, "
    "imap://USER@HOST[:PORT]/MAILBOX or imaps://USER@HOST[:PORT]/MAILBOX"
)


def _host_port(text: str, default: int | None, what: str) -> tuple[str, int]:
    """``host[:port]`` or ``[v6]:port``; ValueError naming ``what`` otherwise."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^\s:/\[\]]+)(?::(\d+))?", text)
    if m is None:
        raise ValueError(f"{what}: not HOST:PORT: {text!r}")
    host = m.group(1) or m.group(3)
    digits = m.group(2) or m.group(4)
    if digits is None:
        if default is None:
            raise ValueError(f"{what}: a port is required: {text!r}")
        return host, default
    port = int(digits)
    if not 0 < port < 65536:
        raise ValueError(f"{what}: port out of range: {port}")
    return host, port


def parse_deliver(url: str) -> TargetSpec:
    """Parse a ``--deliver`` URL, exactly the forms of the issue; ValueError otherwise."""
    scheme, sep, rest = url.partition(":")
    if not sep:
        raise ValueError(f"--deliver {url!r}: expected one of {_FORMS}")
    scheme = scheme.lower()
    if scheme in ("maildir", "mbox"):
        if not rest:
            raise ValueError(f"--deliver {url!r}: the path is missing")
        path = Path(rest).expanduser()
        return MaildirSpec(path) if scheme == "maildir" else MboxSpec(path)
    if scheme == "mda":
        if not rest.strip():
            raise ValueError(f"--deliver {url!r}: the command is missing")
        return MdaSpec(rest)
    if scheme == "lmtp":
        if rest.startswith("/"):
            return LmtpSpec(socket=Path(rest))
        host, port = _host_port(rest, None, f"--deliver {url!r}")
        return LmtpSpec(host=host, port=port)
    if scheme in ("imap", "imaps"):
        return _parse_imap(url, scheme == "imaps", rest)
    raise ValueError(f"--deliver {url!r}: unknown kind {scheme!r}; expected one of {_FORMS}")


def _parse_imap(url: str, implicit_tls: bool, rest: str) -> ImapSpec:
    if not rest.startswith("//"):
        raise ValueError(f"--deliver {url!r}: expected {'imaps' if implicit_tls else 'imap'}://")
    authority, slash, mailbox = rest[2:].partition("/")
    # The user may itself be an address (me@example.com@imap.example.com): the host
    # follows the last "@".
    user, at, hostport = authority.rpartition("@")
    if not at or not user:
        raise ValueError(f"--deliver {url!r}: the user is missing (USER@HOST)")
    if ";" in user or ":" in user:
        raise ValueError(
            f"--deliver {url!r}: no password or options in the URL; "
            "use --deliver-password-command or the keychain"
        )
    host, port = _host_port(hostport, 993 if implicit_tls else 143, f"--deliver {url!r}")
    mailbox = urllib.parse.unquote(mailbox)
    if not slash or not mailbox:
        raise ValueError(f"--deliver {url!r}: the mailbox is missing (…/MAILBOX, e.g. /INBOX)")
    if any(c in mailbox for c in "\r\n\0"):
        raise ValueError(f"--deliver {url!r}: control characters in the mailbox name")
    return ImapSpec(urllib.parse.unquote(user), host, port, mailbox, implicit_tls)


def open_target(
    spec: TargetSpec,
    *,
    password: Callable[[], str] | None = None,
    tls: TlsPolicy | None = None,
    timeout: float = 60.0,
    recipients: Sequence[str] | None = None,
) -> Target:
    """The target for ``spec``. ``password`` is asked for only by IMAP, when it logs in;
    ``tls`` (the run's ``--cafile``) applies to IMAP; ``recipients`` to LMTP (default:
    the local user)."""
    if isinstance(spec, MaildirSpec):
        from core.store.maildirtarget import MaildirTarget

        return MaildirTarget(spec.path)
    if isinstance(spec, MboxSpec):
        from core.store.mbox import MboxTarget

        return MboxTarget(spec.path)
    if isinstance(spec, MdaSpec):
        from core.store.mda import MdaTarget

        return MdaTarget(spec.command, timeout=timeout)
    if isinstance(spec, LmtpSpec):
        from core.store.lmtp import LmtpTarget

        return LmtpTarget(spec, recipients=recipients, timeout=timeout)
    from core.store.imap import ImapTarget

    if password is None:
        raise ValueError(f"{spec.url}: an IMAP target needs a password source")
    return ImapTarget(spec, password=password, tls=tls or TlsPolicy(), timeout=timeout)

