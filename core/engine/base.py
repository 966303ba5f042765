"""The engine's shared state and plumbing: what the worker owns, how it emits events.

Split from the engine so that the list loader (core/listing.py) and the transfers
(core/transfers.py) can each live in a module of their own; all of them run on the
one worker thread, and only the methods marked thread-safe in core/engine.py are
called from elsewhere.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.engine.api import Listener, Stats
from core.engine.events import (
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    TranscriptLine,
)
from core.engine.retry import RetryPolicy
from core.errors import (
    AuthenticationError,
    CertificateError,
    ConnectionLost,
    ServerError,
)
from core.pop3.session import Headers, Session
from core.store.local import Store

log = logging.getLogger("core.engine.coordinator")


@dataclass
class _Message:
    uidl: str
    number: int
    size: int
    headers: Headers
    state: MessageState
    received: int = 0
    detail: str = ""

    def info(self, marked: bool) -> MessageInfo:
        h = self.headers
        return MessageInfo(
            self.uidl, self.number, self.size, h.sender, h.subject, h.date, self.state,
            self.received, marked,
        )


@dataclass
class _Wants:
    """The user's intent, written by the public methods under the engine's lock."""

    connected: bool = False
    refresh: bool = False
    commit: bool = False
    disconnect: bool = False
    shutdown: bool = False
    retry_now: bool = False
    queue: dict[str, None] = field(default_factory=dict)  # ordered set: O(1) membership
    paused: set[str] = field(default_factory=set)
    cancelled: set[str] = field(default_factory=set)
    download_all: bool = False
    queue_changed: bool = False  # entries were added: their rows become QUEUED
    marks_changed: bool = False


class EngineBase:
    """State and helpers shared by the engine's parts (see the module docstring)."""

    def __init__(
        self,
        account: Account,
        *,
        password: Callable[[], str | TokenSource],
        listener: Listener,
        store: Store | None = None,
        retry: RetryPolicy | None = None,
        auto_download: bool = False,
        delete_after_fetch: bool | None = None,
        keepalive: float = 15.0,
        read_timeout: float = 60.0,
        connect_timeout: float = 30.0,
        transcript: bool = True,
        list_headers: bool = True,
    ) -> None:
        self.account = account
        self._password = password
        self._listener = listener
        self._store = store or Store(Path(account.maildir), account.state_dir())
        self._retry = retry or RetryPolicy()
        self._auto = auto_download
        self._delete_after = (
            account.delete_after_fetch if delete_after_fetch is None else delete_after_fetch
        )
        self._keepalive = keepalive
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._transcript = transcript
        self._list_headers = list_headers  # TOP n 0 per message: a UI wants it, cron does not
        self._rng = random.Random()

        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._wants = _Wants()
        self._interrupt = threading.Event()
        self._idle = threading.Condition(threading.Lock())
        self._is_idle = False
        self._thread: threading.Thread | None = None

        # Worker-owned state.
        self._session: Session | None = None
        self._messages: dict[str, _Message] = {}
        self._order: list[str] = []
        self._server_marks: set[str] = set()
        self._ext_retr_broken = False
        self._failures = 0
        self._stopped = False  # a fatal error: wait for the user
        self._current: str | None = None
        self._holding = False
        self._list_loaded = False
        self._stuck: dict[str, int] = {}
        # Small batches are made durable on this thread while the next batch arrives.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch-deliver")
        self._delivery: tuple[list[_Message], Future[list[Path]]] | None = None
        self._pending_marks: list[tuple[frozenset[str], bool]] = []
        self._marks_cache: set[str] = self._store.marks()
        self.stats = Stats()
        self.state = ConnectionState.DISCONNECTED
        self.last_error: ErrorOccurred | None = None

    def messages(self) -> list[MessageInfo]:
        """A snapshot of the list (any thread)."""
        with self._lock:
            marks = self._marks_cache
            return [self._messages[u].info(u in marks) for u in self._order]

    def _poke(self) -> None:
        with self._idle:
            self._is_idle = False
        self._interrupt.set()
        with self._wake:
            self._wake.notify_all()

    def _active_uidls(self) -> list[str]:
        """Messages on their way: what "pause all" must catch besides the queue."""
        return [
            u for u, m in self._messages.items()
            if m.state in (MessageState.DOWNLOADING, MessageState.STALLED, MessageState.QUEUED)
        ]

    def _emit(self, event: Event) -> None:
        try:
            self._listener(event)
        except Exception:  # a broken listener must not kill the transfer
            log.exception("event listener failed on %r", event)

    def _conn_state(
        self, state: ConnectionState, detail: str = "", *, retry_in: float = 0.0, attempt: int = 0
    ) -> None:
        self.state = state
        info = self._session.info if self._session else None
        self._emit(
            ConnectionChanged(
                state,
                detail,
                secure=bool(info and info.secure),
                can_resume=(info.ext_retr and not self._ext_retr_broken) if info else None,
                retry_in=retry_in,
                attempt=attempt,
            )
        )

    def _set_state(
        self, msg: _Message, state: MessageState, detail: str = "", path: str = ""
    ) -> None:
        with self._lock:
            msg.state = state
            msg.detail = detail
        self._emit(MessageStateChanged(msg.uidl, state, msg.received, detail, path))

    def _error(self, message: str, *, fatal: bool, exc: BaseException | None = None) -> None:
        code = exc.code if isinstance(exc, ServerError) else None
        event = ErrorOccurred(
            message,
            fatal,
            code,
            auth=isinstance(exc, AuthenticationError),
            certificate=exc.info if isinstance(exc, CertificateError) else None,
        )
        if fatal:
            self.last_error = event
        self._emit(event)

    def _note(self, sent: bool, text: str) -> None:
        if self._transcript:
            self._emit(TranscriptLine(sent, text))

    def _wait(self, timeout: float | None) -> bool:
        """Sleep until a command arrives (True) or the timeout passes (False)."""
        with self._wake:
            if self._interrupt.is_set():
                self._interrupt.clear()
                return True
            if self._session is None and not self._wants.connected:
                self._set_idle(True)
            woke = self._wake.wait(timeout)
            self._interrupt.clear()
            return woke

    def _set_idle(self, idle: bool) -> None:
        with self._idle:
            self._is_idle = idle
            if idle:
                self._idle.notify_all()

    def _apply_commands(self) -> None:
        """Fold queued intent into worker state (no network here: safe inside a transfer)."""
        with self._wake:
            pending, self._pending_marks = self._pending_marks, []
            w = self._wants
            cancelled, w.cancelled = set(w.cancelled), set()
            if w.download_all and self._list_loaded:
                w.download_all = False
                for uidl in self._order:
                    m = self._messages[uidl]
                    if m.state not in (MessageState.STORED, MessageState.GONE) and (
                        uidl not in w.queue and uidl not in w.paused
                    ):
                        w.queue[uidl] = None
                        w.queue_changed = True
            queued = list(w.queue) if w.queue_changed else []
            w.queue_changed = False
            paused = set(w.paused)
        for uidls, marked in pending:
            self._store.set_marks(uidls, marked)
        if pending:
            self._marks_cache = self._store.marks()
            self._emit(MarksChanged(frozenset(self._marks_cache)))
        for uidl in cancelled:
            msg = self._messages.get(uidl)
            if msg is not None and msg.state is not MessageState.STORED and (
                uidl != self._current
            ):
                self._store.discard(self._store.begin(uidl, msg.size))
                msg.received = 0
                self._set_state(msg, MessageState.REMOTE, "cancelled")
        for uidl in queued:
            msg = self._messages.get(uidl)
            if msg is not None and msg.state in (
                MessageState.REMOTE, MessageState.PAUSED, MessageState.FAILED
            ):
                self._set_state(msg, MessageState.QUEUED)
        for uidl in paused:
            msg = self._messages.get(uidl)
            if msg is not None and msg.state in (MessageState.QUEUED, MessageState.STALLED):
                self._set_state(msg, MessageState.PAUSED, "paused")

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._server_marks = set()

    def _require(self) -> Session:
        if self._session is None:
            raise ConnectionLost("not connected")
        return self._session

    def _dequeue(self, uidl: str) -> None:
        with self._wake:
            self._wants.queue.pop(uidl, None)

