"""Plain-data events the engine emits: the whole contract between the engine and any UI.

Events are frozen, slotted dataclasses holding only str / int / float / bool / tuples /
enums, so a GUI can pass them across threads unchanged and a CLI can print them.
The engine calls its listener on its worker thread; a listener must not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from core.errors import CertificateInfo


class MessageState(Enum):
    """Where one message stands locally. Deletion marks are a separate flag."""

    REMOTE = "remote"  # on the server, not fetched, not queued
    QUEUED = "queued"  # waiting for its turn
    DOWNLOADING = "downloading"
    PAUSED = "paused"  # partial bytes kept, resumes from them
    STALLED = "stalled"  # was downloading, connection lost, will continue
    STORED = "stored"  # durable in the Maildir
    FAILED = "failed"  # see ``detail``; retry with download()
    GONE = "gone"  # deleted on the server (after commit) or vanished

    @property
    def active(self) -> bool:
        """Waiting for or in a transfer: what pause and cancel apply to."""
        return self in _ACTIVE

    @property
    def resumable(self) -> bool:
        """Not here, and not moving: what download and resume apply to."""
        return self in _RESUMABLE


_ACTIVE = frozenset({MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED})
_RESUMABLE = frozenset({MessageState.PAUSED, MessageState.FAILED, MessageState.REMOTE})


class ConnectionState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"  # authenticated, in TRANSACTION
    RECONNECTING = "reconnecting"  # waiting ``retry_in`` seconds before attempt ``attempt``
    COMMITTING = "committing"  # QUIT sent, waiting for the Update state's answer
    FAILED = "failed"  # stopped; needs the user (auth, certificate, permanent error)


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """One row of the message list; ``uidl`` is the identity, ``number`` only this session's."""

    uidl: str
    number: int
    size: int  # octets, as LIST reports them (CRLF form)
    sender: str
    subject: str
    date: str  # the Date header as sent
    state: MessageState
    received: int  # wire octets already stored (partial), or size when stored
    marked: bool


@dataclass(frozen=True, slots=True)
class ListLoaded:
    """The server's list, headers included (from pipelined ``TOP n 0``)."""

    messages: tuple[MessageInfo, ...]


@dataclass(frozen=True, slots=True)
class Progress:
    """Wire octets of ``uidl`` on disk so far; ``rate`` in bytes/s over the last seconds."""

    uidl: str
    received: int
    total: int
    rate: float


@dataclass(frozen=True, slots=True)
class MessageStateChanged:
    uidl: str
    state: MessageState
    received: int
    detail: str = ""  # human-readable: why it failed, "restarting: server cannot resume" ...
    path: str = ""  # the Maildir file once STORED


@dataclass(frozen=True, slots=True)
class MarksChanged:
    """The full set of UIDLs the user has marked for deletion (journalled, not yet committed)."""

    marked: frozenset[str]


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    state: ConnectionState
    detail: str = ""
    secure: bool = False  # TLS in use
    can_resume: bool | None = None  # EXT-RETR offered; None before CAPA was seen
    retry_in: float = 0.0  # RECONNECTING: seconds until the next attempt
    attempt: int = 0  # RECONNECTING: the attempt number about to be made
    login_delay: float | None = None  # the server's CAPA LOGIN-DELAY (s); None: none seen


@dataclass(frozen=True, slots=True)
class ErrorOccurred:
    """Something the user should read. ``fatal`` means the engine stopped and waits for the user."""

    message: str
    fatal: bool
    code: str | None = None  # RFC 2449 code when the server gave one
    auth: bool = False  # the credentials were refused
    certificate: CertificateInfo | None = None  # verification failed: offer to pin
    left_on_server: bool = False  # a message is left alone (a listing anomaly): always shown


@dataclass(frozen=True, slots=True)
class CommitFinished:
    """QUIT answered (``ok``) or failed; ``deleted`` holds the UIDLs the server removed."""

    ok: bool
    text: str
    deleted: frozenset[str]


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    """One protocol line, secrets already redacted. ``sent`` is True for client lines."""

    sent: bool
    text: str


Event = (
    ListLoaded
    | Progress
    | MessageStateChanged
    | MarksChanged
    | ConnectionChanged
    | ErrorOccurred
    | CommitFinished
    | TranscriptLine
)
