"""The fetcher: one per account, one worker thread, commands in and plain events out.

Public methods only record what the user wants (the *desired state*: download queue,
paused set, deletion marks, commit/disconnect requests) and wake the worker; the worker
alone touches the network and the store and reconciles the session with that state.
That is what makes every method safe to call from any thread and lets a pause take
effect within a second: the transfer loop checks a flag between chunks.

Order of operations (DESIGN rule 12): a message is durable in the Maildir before it can
be marked by ``delete_after_fetch``; marks are journalled in the store before any DELE,
re-issued after every reconnect, and only QUIT (commit) makes the server delete.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from core.accounts import Account
from core.errors import (
    AuthenticationError,
    BodyOverrun,
    CertificateError,
    ConnectionLost,
    Interrupted,
    LoginDelay,
    MessageIntegrityError,
    NoSuchMessage,
    OffsetOverrun,
    PopError,
    SecurityError,
    ServerError,
    StorageError,
)
from core.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    ListLoaded,
    MarksChanged,
    MessageInfo,
    MessageState,
    MessageStateChanged,
    Progress,
    TranscriptLine,
)
from core.net import TlsPolicy
from core.partial import PartialDownload
from core.session import Headers, Session, open_session, parse_headers
from core.store import Store

Listener = Callable[[Event], None]
log = logging.getLogger(__name__)

SMALL_MESSAGE = 256 * 1024  # at most this size: fetched in pipelined batches, in memory
BATCH_BYTES = 8 * 1024 * 1024
BATCH_COUNT = 2500  # one syncfs per batch: fewer, larger batches are cheaper
CHECKPOINT_BYTES = 8 * 1024 * 1024
CHECKPOINT_SECONDS = 1.0
PROGRESS_SECONDS = 0.1
HOLD_LOGIN_DELAY = 60.0  # with a LOGIN-DELAY this long, pausing holds the connection
MAX_STUCK = 4  # attempts at one message that end in an error without progress, then FAILED
REOPEN_DELAY = 0.3  # seconds between dropping a connection on purpose and reopening it
PROGRESS_FLOOR = 64 * 1024  # less than this received in an attempt counts as no progress


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter; ``max_failures`` in a row, then give up (None: never)."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 60.0
    jitter: float = 0.25
    max_failures: int | None = None

    def delay(self, failures: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.factor ** max(failures - 1, 0))
        return max(0.0, base * (1 + rng.uniform(-self.jitter, self.jitter)))


@dataclass
class Stats:
    """Totals for the summary line and the fault tests."""

    fetched: int = 0
    fetched_bytes: int = 0  # wire octets of the stored messages
    received_bytes: int = 0  # wire octets that came over the network (includes re-sends)
    resumed: int = 0
    restarted: int = 0  # resumes that had to start again from octet 0
    deleted: int = 0
    failed: int = 0
    reconnects: int = 0


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


class Engine:
    """Fetches one account's mail; README.md ("The engine API") has the API on one page."""

    def __init__(
        self,
        account: Account,
        *,
        password: Callable[[], str],
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

    # -- the API: every method returns at once --------------------------------------

    def start(self) -> None:
        with self._wake:
            self._wants.connected = True
            if self._auto:
                self._wants.download_all = True
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"popfetch {self.account.key}", daemon=True
            )
            self._thread.start()
        self._poke()

    def refresh(self) -> None:
        self._update(connected=True, refresh=True, retry=True)

    def download(self, uidls: Iterable[str] | None = None) -> None:
        with self._wake:
            w = self._wants
            w.connected = True
            if uidls is None:
                w.download_all = True
                w.paused.clear()
            else:
                for uidl in uidls:
                    w.paused.discard(uidl)
                    w.cancelled.discard(uidl)
                    w.queue.setdefault(uidl)
                    w.queue_changed = True
        self._poke()

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        """None resumes every paused message, including partials left by an earlier run."""
        with self._wake:
            if uidls is None:
                found = {u for u, m in self._messages.items() if m.state is MessageState.PAUSED}
                targets = set(self._wants.paused) | found
            else:
                targets = set(uidls)
        self.download(targets)

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        with self._wake:
            w = self._wants
            targets = set(w.queue) | set(self._partial_uidls()) if uidls is None else set(uidls)
            if uidls is None and self._current:
                targets.add(self._current)
                w.download_all = False
            w.paused |= targets
            w.queue = {u: None for u in w.queue if u not in targets}
        self._poke()

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        """Stop and forget the partial bytes (pause keeps them)."""
        with self._wake:
            w = self._wants
            targets = set(w.queue) | set(w.paused) if uidls is None else set(uidls)
            if uidls is None:
                w.download_all = False
                if self._current:
                    targets.add(self._current)
            w.cancelled |= targets
            w.paused -= targets
            w.queue = {u: None for u in w.queue if u not in targets}
        self._poke()

    def mark(self, uidls: Iterable[str]) -> None:
        self._set_marks(uidls, True)

    def unmark(self, uidls: Iterable[str]) -> None:
        self._set_marks(uidls, False)

    def commit(self) -> None:
        """QUIT: the server deletes what is marked. The answer comes as CommitFinished."""
        self._update(connected=True, commit=True, retry=True)

    def disconnect(self) -> None:
        """Close without QUIT: nothing is deleted on the server."""
        with self._wake:
            self._wants.disconnect = True
            self._wants.connected = False
            self._wants.commit = False
        self._poke()

    def retry_now(self) -> None:
        self._update(connected=True, retry=True)

    def update_account(self, account: Account) -> None:
        """New settings (a pinned certificate, another port ...) for the next connection."""
        with self._wake:
            self.account = account
        self._update(connected=True, retry=True)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker without QUIT (nothing deleted); partials stay for next time."""
        with self._wake:
            self._wants.shutdown = True
        self._poke()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def messages(self) -> list[MessageInfo]:
        with self._lock:
            marks = self._store_marks()
            return [self._messages[u].info(u in marks) for u in self._order]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker has nothing left to do (or stopped on an error)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while not self._is_idle:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # -- plumbing for the API --------------------------------------------------------

    def _update(
        self, *, connected: bool = False, refresh: bool = False, commit: bool = False,
        retry: bool = False,
    ) -> None:
        with self._wake:
            w = self._wants
            w.connected |= connected
            w.refresh |= refresh
            w.commit |= commit
            w.retry_now |= retry
            if connected:
                w.disconnect = False
        self._poke()

    def _poke(self) -> None:
        with self._idle:
            self._is_idle = False
        self._interrupt.set()
        with self._wake:
            self._wake.notify_all()

    def _set_marks(self, uidls: Iterable[str], marked: bool) -> None:
        with self._wake:
            self._pending_marks.append((frozenset(uidls), marked))
            self._wants.marks_changed = True
        self._poke()

    def _partial_uidls(self) -> list[str]:
        return [
            u for u, m in self._messages.items()
            if m.state in (MessageState.DOWNLOADING, MessageState.STALLED, MessageState.QUEUED)
        ]

    def _store_marks(self) -> set[str]:
        return self._marks_cache

    # -- events -----------------------------------------------------------------------

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

    # -- the worker -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug: say so loudly rather than end the thread quietly
            log.exception("popfetch engine stopped")
            self._error(f"internal error, the account stopped: {exc!r}", fatal=True)
            self._conn_state(ConnectionState.FAILED, "internal error")
        finally:
            self._drop_session()
            try:
                self._finish_delivery()
            except PopError as exc:
                self._error(str(exc), fatal=True, exc=exc)
            finally:
                self._writer.shutdown()
                self._store.close()
                self._set_idle(True)

    def _loop(self) -> None:
        while True:
            self._apply_commands()
            w = self._wants
            if w.shutdown:
                return
            if w.disconnect:
                w.disconnect = False
                self._drop_session()
                self._hold_stalled()
                self._conn_state(ConnectionState.DISCONNECTED, "disconnected; nothing deleted")
            if self._session is None:
                if not w.connected or (self._stopped and not w.retry_now):
                    self._wait(None)
                    continue
                w.retry_now = False
                self._stopped = False
                if not self._connect():
                    continue
            try:
                self._work()
            except Interrupted:
                continue
            except (PopError, OSError) as exc:
                err = exc if isinstance(exc, PopError) else ConnectionLost(str(exc))
                try:
                    self._finish_delivery()  # what arrived whole is kept, even now
                except StorageError as storage:
                    err = storage
                self._on_session_error(err)

    def _work(self) -> None:
        """One step with a live session: marks, commit, refresh, one download, or idle."""
        w = self._wants
        if w.commit or w.refresh:
            self._finish_delivery()
        self._sync_marks()
        if w.commit:
            self._commit()
            return
        if w.refresh:
            w.refresh = False
            self._load_list(announce=True)
            return
        batch = self._next_work()
        large = len(batch) == 1 and self._messages[batch[0]].size > SMALL_MESSAGE
        if self._delivery is not None and (large or not batch):
            self._finish_delivery()
            return
        if batch:
            if large:
                self._download_large(self._messages[batch[0]])
            else:
                self._download_small([self._messages[u] for u in batch])
            self._failures = 0
            return
        self._set_idle(True)
        if not self._wait(self._keepalive) and self._session is not None:
            self._session.noop()

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

    # -- connecting -------------------------------------------------------------------

    def _connect(self) -> bool:
        self._set_idle(False)
        acct = self.account
        self._conn_state(ConnectionState.CONNECTING, f"connecting to {acct.host}:{acct.port}")
        try:
            session = open_session(
                acct.host,
                acct.port,
                acct.security,
                TlsPolicy(acct.cafile, acct.pinned_sha256),
                transcript=self._note,
                connect_timeout=self._connect_timeout,
                read_timeout=self._read_timeout,
            )
            try:
                session.login(
                    acct.user,
                    self._password(),
                    method=acct.auth,
                    allow_plaintext=acct.allow_plaintext,
                )
                session.capa()  # capabilities may change after login (RFC 2449)
            except BaseException:
                session.close()
                raise
            self._session = session
            self._server_marks = set()
            self._load_list(announce=not self._list_loaded)
        except (PopError, OSError) as exc:
            err = exc if isinstance(exc, PopError) else ConnectionLost(str(exc))
            self._on_session_error(err)
            return False
        if self._failures:
            self.stats.reconnects += 1
        self._failures = 0
        self._conn_state(ConnectionState.CONNECTED, session.info.describe())
        self._resume_stalled()
        return True

    def _on_session_error(self, exc: PopError) -> None:
        self._drop_session()
        self._hold_stalled()
        retryable = exc.retryable and not isinstance(
            exc, AuthenticationError | CertificateError | SecurityError | StorageError
        )
        if not retryable:
            self._stopped = True
            with self._wake:
                self._wants.commit = False
            self._error(str(exc), fatal=True, exc=exc)
            self._conn_state(ConnectionState.FAILED, str(exc))
            self._set_idle(True)
            return
        self._failures += 1
        limit = self._retry.max_failures
        if limit is not None and self._failures > limit:
            self._stopped = True
            self._error(f"giving up after {self._failures} failures: {exc}", fatal=True, exc=exc)
            self._conn_state(ConnectionState.FAILED, str(exc))
            self._set_idle(True)
            return
        delay = self._retry.delay(self._failures, self._rng)
        if isinstance(exc, LoginDelay):
            delay = max(delay, exc.delay)
        self._error(f"{exc}; reconnecting in {delay:.0f} s", fatal=False, exc=exc)
        self._conn_state(
            ConnectionState.RECONNECTING,
            f"connection lost: {exc}",
            retry_in=delay,
            attempt=self._failures + 1,
        )
        deadline = time.monotonic() + delay
        while True:
            remaining = deadline - time.monotonic()
            with self._wake:
                w = self._wants
                if w.shutdown or w.retry_now or w.disconnect or not w.connected:
                    return
            if remaining <= 0:
                return
            self._wait(remaining)
            self._apply_commands()

    def _drop_session(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
            self._server_marks = set()

    def _hold_stalled(self) -> None:
        for msg in self._messages.values():
            if msg.state is MessageState.DOWNLOADING:
                self._set_state(msg, MessageState.STALLED, "waiting for the connection")

    def _resume_stalled(self) -> None:
        for msg in self._messages.values():
            if msg.state is MessageState.STALLED:
                self._set_state(msg, MessageState.QUEUED)

    # -- the list ---------------------------------------------------------------------

    def _load_list(self, *, announce: bool) -> None:
        session = self._require()
        sizes = session.list_sizes()
        uidls = session.uidls()
        if not uidls:
            uidls = self._synthetic_uidls(session, sizes)
        old = self._messages
        fresh = [n for n, u in uidls.items() if u not in old]
        tops = session.headers(sorted(fresh)) if self._list_headers and fresh else {}
        headers = {n: parse_headers(h) for n, h in tops.items()}
        partials = self._store.partial_offsets()
        messages: dict[str, _Message] = {}
        order: list[str] = []
        stored = self._store.stored_uidls()
        for number in sorted(uidls):
            uidl = uidls[number]
            size = sizes.get(number)
            if size is None or uidl in messages:
                continue  # deleted in this session, or a duplicate UIDL (server bug)
            prev = old.get(uidl)
            if prev is not None:
                prev.number, prev.size = number, size
                messages[uidl] = prev
            else:
                if uidl in stored:
                    state, received = MessageState.STORED, size
                else:
                    received = partials.get(uidl, 0)
                    state = MessageState.PAUSED if received else MessageState.REMOTE
                messages[uidl] = _Message(
                    uidl, number, size, headers.get(number, Headers("", "", "")), state,
                    received,
                )
            order.append(uidl)
        # DELE'd in this session: the server hides them from LIST/UIDL until QUIT or RSET,
        # but they are still there (and still the user's marks).
        hidden = [u for u in self._server_marks if u in old and u not in messages]
        for uidl in hidden:
            messages[uidl] = old[uidl]
        if hidden:
            order = sorted([*order, *hidden], key=lambda u: messages[u].number)
        gone = set(old) - set(messages)
        with self._lock:
            self._messages = messages
            self._order = order
        for uidl in gone:
            self._emit(MessageStateChanged(uidl, MessageState.GONE, 0, "no longer on the server"))
        self._marks_cache = self._store.marks()
        vanished = self._marks_cache - set(messages)
        if vanished:  # deleted by an earlier QUIT whose answer we never saw
            self._store.forget(vanished)
            self._marks_cache = self._store.marks()
        with self._wake:
            w = self._wants
            w.queue = {u: None for u in w.queue if u in messages}
            if self._delete_after:
                self._store.set_marks(
                    [u for u in order if messages[u].state is MessageState.STORED], True
                )
                self._marks_cache = self._store.marks()
        if announce or gone or fresh or not self._list_loaded:
            self._list_loaded = True
            self._emit(ListLoaded(tuple(self.messages())))
        self._emit(MarksChanged(frozenset(self._marks_cache)))
        self._apply_commands()  # a "download all" that waited for the list

    def _synthetic_uidls(self, session: Session, sizes: dict[int, int]) -> dict[int, str]:
        """No UIDL: identify by size + a hash of the headers (DESIGN rule 4)."""
        tops = session.headers(sorted(sizes))
        out: dict[int, str] = {}
        for number, size in sizes.items():
            if number not in tops:
                raise ServerError("UIDL", "the server has neither UIDL nor TOP: cannot tell "
                                  "messages apart safely", "SYS/PERM")
            digest = hashlib.sha256(str(size).encode() + b"\0" + tops[number]).hexdigest()
            out[number] = f"~{digest[:40]}"
        return out

    def _require(self) -> Session:
        if self._session is None:
            raise ConnectionLost("not connected")
        return self._session

    # -- marks and commit -------------------------------------------------------------

    def _sync_marks(self) -> None:
        """Make the server's DELE set equal the journal (RSET is the only undo, rule 2)."""
        session = self._require()
        wanted = {u for u in self._marks_cache if u in self._messages}
        if self._server_marks - wanted:
            session.rset()
            self._server_marks = set()
        todo = [u for u in self._order if u in wanted and u not in self._server_marks]
        if todo:
            refused = set(session.dele(self._messages[u].number for u in todo))
            for uidl in todo:
                if self._messages[uidl].number not in refused:
                    self._server_marks.add(uidl)

    def _commit(self) -> None:
        session = self._require()
        with self._wake:
            self._wants.commit = False
            self._wants.connected = bool(self._wants.queue)
        self._conn_state(ConnectionState.COMMITTING, "QUIT: the server deletes marked messages")
        marked = frozenset(self._server_marks)
        self._session = None
        try:
            ok, text = session.quit()
        except (PopError, OSError) as exc:
            # The answer was lost: the server may or may not have deleted. The journal keeps
            # the marks; the next session sees by UIDL what is gone and commits the rest.
            with self._wake:
                self._wants.commit = True
                self._wants.connected = True
            raise ConnectionLost(f"connection lost during QUIT: {exc}") from exc
        deleted = marked if ok else frozenset()
        if deleted:
            self._store.forget(deleted)
            self._marks_cache = self._store.marks()
            self.stats.deleted += len(deleted)
            with self._lock:
                for uidl in deleted:
                    msg = self._messages.pop(uidl, None)
                    if msg is not None:
                        self._order.remove(uidl)
            for uidl in deleted:
                self._emit(MessageStateChanged(uidl, MessageState.GONE, 0, "deleted on the server"))
        self._server_marks = set()
        self._emit(CommitFinished(ok, text, deleted))
        self._emit(MarksChanged(frozenset(self._marks_cache)))
        self._conn_state(ConnectionState.DISCONNECTED, f"committed: {text}")
        if not ok:
            self._error(f"the server could not delete every marked message: {text}", fatal=False)

    # -- downloads --------------------------------------------------------------------

    def _next_work(self) -> list[str]:
        """The next large message alone, or a batch of small ones (pipelined)."""
        with self._wake:
            q = self._wants.queue
            head = next(iter(q), None)
            while head is not None and (
                head not in self._messages
                or self._messages[head].state in (MessageState.STORED, MessageState.GONE)
            ):
                del q[head]
                head = next(iter(q), None)
            if head is None:
                return []
            first = self._messages[head]
            if first.size > SMALL_MESSAGE or first.received:
                return [head]
            batch: list[str] = []
            total = 0
            for uidl in q:
                m = self._messages.get(uidl)
                if m is None or m.size > SMALL_MESSAGE or m.received:
                    break
                if m.state in (MessageState.STORED, MessageState.GONE):
                    continue
                batch.append(uidl)
                total += m.size
                if total >= BATCH_BYTES or len(batch) >= BATCH_COUNT:
                    break
            return batch

    def _dequeue(self, uidl: str) -> None:
        with self._wake:
            self._wants.queue.pop(uidl, None)

    def _stored(self, msg: _Message, path: Path) -> None:
        msg.received = msg.size
        self._stuck.pop(msg.uidl, None)
        self.stats.fetched += 1
        self.stats.fetched_bytes += msg.size
        self._dequeue(msg.uidl)
        self._set_state(msg, MessageState.STORED, "", str(path))
        if self._delete_after:
            self._store.set_marks([msg.uidl], True)
            self._marks_cache.add(msg.uidl)

    def _no_progress(self, msg: _Message, exc: BaseException) -> None:
        """Count an attempt that broke without moving on; a message that keeps breaking
        the connection must fail alone, not keep the whole account reconnecting forever."""
        tries = self._stuck.get(msg.uidl, 0) + 1
        self._stuck[msg.uidl] = tries
        if tries >= MAX_STUCK:
            self._failed(msg, f"gave up after {tries} attempts that made no progress: {exc}")

    def _failed(self, msg: _Message, why: str) -> None:
        self.stats.failed += 1
        self._dequeue(msg.uidl)
        self._set_state(msg, MessageState.FAILED, why)

    def _download_small(self, batch: list[_Message]) -> None:
        session = self._require()
        for msg in batch:
            self._set_state(msg, MessageState.DOWNLOADING)
        bodies: list[tuple[_Message, bytes]] = []
        by_number = {m.number: m for m in batch}
        done: set[int] = set()
        try:
            for number, ok, data in session.retr_small([(m.number, m.size) for m in batch]):
                done.add(number)
                msg = by_number[number]
                if not ok:
                    self._failed(msg, f"the server refused RETR: {data.decode(errors='replace')}")
                    continue
                self.stats.received_bytes += len(data)
                bodies.append((msg, data))
        except (PopError, OSError) as exc:
            # Replies come in order: the message being read when it broke is the culprit.
            culprit = next(m for m in batch if m.number not in done)
            if isinstance(exc, BodyOverrun):
                self._failed(culprit, str(exc))
            else:
                self._no_progress(culprit, exc)
            raise
        finally:
            # Also after a drop mid-batch: keep what arrived whole rather than fetch it again.
            self._finish_delivery()
            if bodies:
                for msg, _ in bodies:
                    self._dequeue(msg.uidl)  # in flight to the disk: not to be fetched again
                items = [(m.uidl, data) for m, data in bodies]
                future = self._writer.submit(self._store.deliver_batch, items)
                self._delivery = ([m for m, _ in bodies], future)
        self._apply_commands()

    def _finish_delivery(self) -> None:
        """Wait for the batch being made durable; only then is it STORED (and, with
        delete-after-fetch, marked: no DELE before the copy is durable, rule 12)."""
        if self._delivery is None:
            return
        messages, future = self._delivery
        self._delivery = None
        paths = future.result()
        for msg, path in zip(messages, paths, strict=True):
            self._stored(msg, path)
        if self._delete_after:
            self._emit(MarksChanged(frozenset(self._marks_cache)))

    def _download_large(self, msg: _Message) -> None:
        session = self._require()
        partial = self._store.begin(msg.uidl, msg.size)
        info = session.info
        can_offset = info.ext_retr and not self._ext_retr_broken
        offset = 0
        if partial.wire_offset > 0:
            self.stats.resumed += 1
            if can_offset:
                offset = partial.wire_offset
            else:
                self.stats.restarted += 1
                partial.restart(verify=True)
        exact = offset > 0
        msg.received = offset
        received_before = self.stats.received_bytes
        self._current = msg.uidl
        detail = "" if can_offset or not partial.resumed else (
            "restarting from the beginning: this server cannot resume mid-message"
        )
        self._set_state(msg, MessageState.DOWNLOADING, detail)
        try:
            if offset < msg.size:
                self._transfer(session, msg, partial, offset)
            path = self._store.complete(partial, exact=exact)
        except Interrupted:
            self._after_interrupt(msg, partial)
            raise
        except MessageIntegrityError as exc:
            self._store.discard(partial)
            msg.received = 0
            if exact:
                self._ext_retr_broken = isinstance(exc, BodyOverrun) or self._ext_retr_broken
                self._set_state(msg, MessageState.QUEUED, f"{exc}; fetching again from the start")
                self._drop_session()  # a reply may still be in flight
                raise ConnectionLost("restarting the transfer") from exc
            self._failed(msg, str(exc))
            return
        except OffsetOverrun:
            self._store.discard(partial)
            msg.received = 0
            self._set_state(msg, MessageState.QUEUED, "stored part was longer than the message")
            return
        except BodyOverrun as exc:
            self._store.discard(partial)
            msg.received = 0
            if exact:
                # The server sent more than the rest: it ignored the offset (Courier does).
                self._ext_retr_broken = True
                self._set_state(msg, MessageState.QUEUED, "server ignored the resume offset")
            else:
                self._failed(msg, str(exc))
            raise ConnectionLost(str(exc)) from exc
        except (NoSuchMessage, ServerError) as exc:
            if isinstance(exc, ServerError) and exc.retryable:
                partial.checkpoint()
                raise
            partial.checkpoint()
            self._failed(msg, f"the server refused the message: {exc}")
            return
        except (PopError, OSError) as exc:
            partial.checkpoint()
            if self.stats.received_bytes - received_before < PROGRESS_FLOOR:
                self._no_progress(msg, exc)
            raise
        finally:
            self._current = None
        self._stored(msg, path)
        if self._delete_after:
            self._emit(MarksChanged(frozenset(self._marks_cache)))

    def _transfer(
        self, session: Session, msg: _Message, partial: PartialDownload, offset: int
    ) -> None:
        start = time.monotonic()
        last_check = last_progress = start
        since_check = 0
        got = offset
        rate = 0.0
        window_t, window_b = start, offset
        stats = self.stats

        def sink(data: bytes) -> None:
            nonlocal since_check, last_check, last_progress, got, rate, window_t, window_b
            partial.write(data)
            n = len(data)
            got += n
            stats.received_bytes += n
            since_check += n
            now = time.monotonic()
            if since_check >= CHECKPOINT_BYTES or now - last_check >= CHECKPOINT_SECONDS:
                partial.checkpoint(wait=False)
                since_check = 0
                last_check = now
            if now - last_progress >= PROGRESS_SECONDS:
                span = now - window_t
                if span >= 1.0:
                    rate = (got - window_b) / span
                    window_t, window_b = now, got
                elif rate == 0.0 and span > 0:
                    rate = (got - window_b) / span
                last_progress = now
                msg.received = got
                self._emit(Progress(msg.uidl, got, msg.size, rate))

        def check() -> None:
            if self._interrupt.is_set():
                self._check_interrupt(msg)

        session.retr(msg.number, sink, offset=offset, size=msg.size, check=check)
        msg.received = got
        self._emit(Progress(msg.uidl, got, msg.size, 0.0))

    def _check_interrupt(self, msg: _Message) -> None:
        """Between chunks: stop for pause/cancel/commit/disconnect; or hold the connection."""
        while True:
            self._interrupt.clear()
            self._apply_commands()
            with self._wake:
                w = self._wants
                stop_all = w.shutdown or w.disconnect or w.commit
                paused = msg.uidl in w.paused
                cancelled = msg.state is MessageState.REMOTE or (
                    msg.uidl not in w.queue and not paused
                )
            if stop_all or cancelled:
                raise Interrupted(msg.uidl)
            if not paused:
                if self._holding:
                    self._holding = False
                    self._set_state(msg, MessageState.DOWNLOADING)
                return
            if self._can_drop_for_pause():
                raise Interrupted(msg.uidl)
            if not self._holding:
                self._holding = True
                self._set_state(
                    msg, MessageState.PAUSED,
                    "paused, holding the connection: this server cannot resume mid-message",
                )
            self._wait(1.0)

    def _can_drop_for_pause(self) -> bool:
        info = self._session.info if self._session else None
        if info is None or not info.ext_retr or self._ext_retr_broken:
            return False
        return (info.login_delay or 0) < HOLD_LOGIN_DELAY

    def _after_interrupt(self, msg: _Message, partial: PartialDownload) -> None:
        """The RETR reply is unfinished: keep the bytes, drop the desynced connection."""
        self._holding = False
        with self._wake:
            w = self._wants
            paused = msg.uidl in w.paused
            keep_connected = w.connected and not w.disconnect and not w.shutdown
        if msg.state is MessageState.REMOTE or (not paused and msg.uidl not in w.queue):
            self._store.discard(partial)
            msg.received = 0
            self._set_state(msg, MessageState.REMOTE, "cancelled")
        else:
            partial.checkpoint()
            msg.received = partial.wire_offset
            if paused:
                self._set_state(msg, MessageState.PAUSED, "paused")
        # Reconnecting re-issues the journalled marks before anything else (rule 3).
        self._drop_session()
        if keep_connected:
            self._conn_state(ConnectionState.CONNECTING, "reopening the connection")
            # The server releases the maildrop lock once it sees our close; reconnecting
            # at once would often meet its [IN-USE].
            self._wait(REOPEN_DELAY)

