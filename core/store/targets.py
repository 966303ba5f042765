"""Delivery targets: where a complete message goes once it is fetched, and the in-flight journal.

Every target (Maildir, mbox, MDA, LMTP, IMAP) implements :class:`Target`. A delivery is
*durable* when :meth:`Target.deliver_many` returns its :class:`Receipt`: fsynced and renamed
into ``new/``, fsynced into the mbox, exit 0 from the MDA, 250 from LMTP, tagged OK to
APPEND. Only then may the engine mark the message for DELE (DESIGN, Invariants).

Failures are typed (:mod:`core.errors`): :class:`~core.errors.TemporaryDeliveryError`
(keep it on the server, the next run tries again), :class:`~core.errors.PermanentDeliveryError`
(this message fails, kept on the server), :class:`~core.errors.TargetUnavailable` (stop
delivering this run).

The journal (:class:`DeliveryJournal`, ``deliveries.sqlite3`` in the account's state
directory) makes a crash between "the target took it" and "the engine recorded it" harmless:

1. before delivering, commit an *in-flight* record with the target's hint (the Maildir
   file name, the mbox offset, the IMAP UIDVALIDITY and a UIDNEXT lower bound);
2. deliver; 3. commit *delivered* with the receipt; 4. the engine records the UIDL stored.

A crash after 3 finds the receipt (nothing is delivered again). A crash between 1 and 3
makes :class:`Delivery` ask the target (:meth:`Target.find`) whether the message arrived
before delivering it again. Targets that cannot look (an MDA, LMTP) deliver again: a
duplicate is the lesser harm than a lost message, and the window is one SQLite commit.
"""

from __future__ import annotations

import abc
import contextlib
import email.utils
import re
import sqlite3
import threading
import time
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
from core.store.maildir import Maildir, crlf_to_lf
from core.text import sanitize

__all__ = [
    "Delivery",
    "DeliveryJournal",
    "ImapSpec",
    "LmtpSpec",
    "MaildirSpec",
    "MaildirTarget",
    "MboxSpec",
    "MdaSpec",
    "Message",
    "Outcome",
    "Receipt",
    "Target",
    "TargetSpec",
    "each",
    "journal_for",
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


# -- the Maildir target ----------------------------------------------------------------------


class MaildirTarget(Target):
    """Today's Maildir delivery (:class:`core.store.maildir.Maildir`) behind the interface.

    The hint is the name the file gets in ``new/``, chosen before delivery, so
    :meth:`find` looks for exactly that file (a reader may have moved it to ``cur/``).
    """

    can_look = True

    def __init__(self, path: Path) -> None:
        self.maildir = Maildir(path)
        self.url = f"maildir:{self.maildir.root}"

    def prepare(self, messages: Sequence[Message]) -> list[str]:
        return [self.maildir.unique_name() for _ in messages]

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        """Each file into ``tmp/`` (fsynced), renamed to ``new/<hint>``; one fsync of
        ``new/`` makes the renames durable, so receipts come only after it."""
        outcomes: list[Outcome] = []
        for message, hint in zip(messages, hints, strict=True):
            try:
                if message.path is not None:
                    tmp = self.maildir.copy_to_tmp(message.path, sync=True)
                else:
                    assert message.data is not None
                    tmp = self.maildir.write_tmp(message.data, sync=True)
                try:
                    self.maildir.publish(hint, self.maildir.tmp / tmp)
                except StorageError:
                    self.maildir.remove_tmp(tmp)
                    raise
            except StorageError as exc:
                outcomes.append(TemporaryDeliveryError(self.url, str(exc)))
                continue
            outcomes.append(Receipt(self.url, f"new/{hint}"))
        try:
            self.maildir.sync_new()
        except StorageError as exc:
            return [TemporaryDeliveryError(self.url, str(exc)) for _ in messages]
        return outcomes

    def find(self, message: Message, hint: str) -> Receipt | None:
        found = self.maildir.locate(hint)
        return None if found is None else Receipt(self.url, f"{found.parent.name}/{found.name}")


# -- the journal -------------------------------------------------------------------------------

_JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    uidl TEXT PRIMARY KEY,
    target TEXT NOT NULL,        -- the target's url when the delivery began
    state TEXT NOT NULL CHECK (state IN ('in-flight', 'delivered')),
    hint TEXT NOT NULL,          -- what Target.find needs after a crash
    receipt TEXT,                -- where it went (state 'delivered')
    updated_at REAL NOT NULL
) WITHOUT ROWID
"""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    uidl: str
    target: str
    state: str
    hint: str
    receipt: Receipt | None


class DeliveryJournal:
    """In-flight and delivered records by UIDL, in SQLite (WAL, synchronous=FULL: a
    commit is durable on return). A file of its own beside the account state, so
    delivery bookkeeping never contends with the engine's transactions."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=10.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_JOURNAL_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the delivery journal {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _write(self, sql: str, rows: list[tuple[object, ...]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(sql, rows)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise StorageError(f"delivery journal {self.path}: {exc}") from exc

    def begin(self, target: str, items: Sequence[tuple[str, str]]) -> None:
        """Commit in-flight records ``(uidl, hint)`` for ``target``."""
        now = time.time()
        self._write(
            "INSERT OR REPLACE INTO deliveries VALUES (?, ?, 'in-flight', ?, NULL, ?)",
            [(uidl, target, hint, now) for uidl, hint in items],
        )

    def delivered(self, items: Sequence[tuple[str, Receipt]]) -> None:
        """Commit receipts: these UIDLs are durably at their target."""
        now = time.time()
        self._write(
            "UPDATE deliveries SET state = 'delivered', receipt = ?, updated_at = ?"
            " WHERE uidl = ?",
            [(str(receipt), now, uidl) for uidl, receipt in items],
        )

    def abandon(self, uidls: Sequence[str]) -> None:
        """The target refused these: no longer in flight."""
        self._write(
            "DELETE FROM deliveries WHERE uidl = ? AND state = 'in-flight'",
            [(u,) for u in uidls],
        )

    def forget(self, uidls: Sequence[str]) -> None:
        """The server deleted these (QUIT +OK): their records go."""
        self._write("DELETE FROM deliveries WHERE uidl = ?", [(u,) for u in uidls])

    def entry(self, uidl: str) -> JournalEntry | None:
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT uidl, target, state, hint, receipt FROM deliveries WHERE uidl = ?",
                    (uidl,),
                ).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"delivery journal {self.path}: {exc}") from exc
        if row is None:
            return None
        receipt = Receipt.parse(row[4]) if row[4] is not None else None
        return JournalEntry(row[0], row[1], row[2], row[3], receipt)

    def receipts(self) -> dict[str, Receipt]:
        """Every delivered UIDL and where it went (for the message list)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT uidl, receipt FROM deliveries WHERE state = 'delivered'"
            ).fetchall()
        return {str(u): Receipt.parse(str(r)) for u, r in rows}


class Delivery:
    """A target plus the journal: deliver by UIDL, never twice (see the module docstring)."""

    def __init__(self, target: Target, journal: DeliveryJournal) -> None:
        self.target = target
        self.journal = journal

    def deliver(self, uidl: str, message: Message) -> Receipt:
        """Deliver one message; raises its DeliveryError."""
        outcome = self.deliver_many([(uidl, message)])[0]
        if isinstance(outcome, DeliveryError):
            raise outcome
        return outcome

    def deliver_many(self, items: Sequence[tuple[str, Message]]) -> list[Outcome]:
        """Deliver a batch (two journal commits for all of it); an outcome per item.

        A UIDL already delivered returns its old receipt; one left in flight by a crash is
        looked for in the target first.
        """
        outcomes: list[Outcome | None] = [None] * len(items)
        todo: list[int] = []
        for i, (uidl, message) in enumerate(items):
            entry = self.journal.entry(uidl)
            if entry is not None and entry.receipt is not None:
                outcomes[i] = entry.receipt
            elif entry is not None and entry.target == self.target.url and self.target.can_look:
                found = self.target.find(message, entry.hint)
                if found is not None:
                    self.journal.delivered([(uidl, found)])
                    outcomes[i] = found
                else:
                    todo.append(i)
            else:
                todo.append(i)
        if todo:
            messages = [items[i][1] for i in todo]
            hints = self.target.prepare(messages)
            self.journal.begin(
                self.target.url, [(items[i][0], h) for i, h in zip(todo, hints, strict=True)]
            )
            results = self.target.deliver_many(messages, hints)
            done = [
                (items[i][0], r)
                for i, r in zip(todo, results, strict=True)
                if isinstance(r, Receipt)
            ]
            if done:
                self.journal.delivered(done)
            failed = [
                items[i][0]
                for i, r in zip(todo, results, strict=True)
                if isinstance(r, DeliveryError)
            ]
            if failed:
                self.journal.abandon(failed)
            for i, r in zip(todo, results, strict=True):
                outcomes[i] = r
        return [o for o in outcomes if o is not None]

    def close(self) -> None:
        try:
            self.target.close()
        finally:
            self.journal.close()


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
        return f"{scheme}://{self.user}@{host}{port}/{self.mailbox}"


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


def journal_for(state_dir: Path) -> DeliveryJournal:
    """The account's delivery journal (``state_dir/deliveries.sqlite3``)."""
    return DeliveryJournal(Path(state_dir) / "deliveries.sqlite3")
