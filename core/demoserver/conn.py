"""What a server session and its command handlers share, in a module of their own.

``session`` runs the connection and builds the dispatch table from ``authorization`` and
``transaction``; those two see a session only as the :class:`Conn` protocol below, so
none of the three imports another in a circle.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from core.demoserver.faults import Faults
from core.demoserver.mailbox import LockTable, Maildrop, MessageCache

AUTHORIZATION = "AUTHORIZATION"
TRANSACTION = "TRANSACTION"


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
    warmed: threading.Event = field(default_factory=lambda: _set(threading.Event()))

    @property
    def lock_key(self) -> str:
        # Every user is served the one Maildir, so the maildrop lock is the Maildir's.
        return str(self.maildir.resolve())


def _set(event: threading.Event) -> threading.Event:
    event.set()
    return event


class Close(Exception):
    """End the connection now (QUIT answered, a fault fired, the peer misbehaved)."""


class Conn(Protocol):
    """A session as the command handlers use it."""

    shared: Shared
    state: str
    secure: bool
    timestamp: str
    user: str | None
    drop: Maildrop | None
    locked: bool
    continuation: Callable[[str], None] | None

    def start_tls(self) -> None: ...
    def flush(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    def ok(self, text: str = "") -> None: ...
    def err(self, text: str, code: str | None = None) -> None: ...
    def multiline(self, text: str, body: bytes) -> None: ...
    def body(self, data: bytes) -> None: ...


Handler = Callable[[Conn, list[str], str], None]


@dataclass(frozen=True, slots=True)
class Command:
    run: Handler
    states: frozenset[str]
