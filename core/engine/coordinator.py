"""The fetcher: one per account, one worker thread, commands in and plain events out.

Built from parts with one job each:

- :class:`~core.engine.intent.Intent` holds what the user wants (queue, pauses,
  cancels, marks, commit and disconnect requests) under its own lock; the public
  methods write there and return;
- :class:`~core.engine.messages.MessageTable` holds the list, and changes a message's
  state only through the table in :mod:`core.engine.lifecycle`;
- :mod:`core.engine.listing`, :mod:`core.engine.transfers` and :mod:`core.engine.marks`
  are session work: they talk to the server and return outcomes;
- the :class:`Engine` below is the coordinator: on its worker thread it folds the
  intent into the table, runs session work, applies the outcomes to the store and the
  table, and decides blame by evidence (DESIGN rule 14).

Locks: the intent's and the table's are never held across I/O; the store and the
network are touched by the worker alone (and the delivery thread it waits for).

Sessions (rules 12 and 15): a message is durable before it can be marked by
``delete_after_fetch``; marks are journalled before any DELE and re-issued at the start
of every session; only QUIT (commit) makes the server delete. Every session ends with
QUIT (RSET first when marks were issued and no commit was asked), also at shutdown when
the session is idle; only a drop, or a stop in the middle of a reply, leaves without it.
A refresh opens a fresh session (only a new login sees new mail); a session idle for
``idle_end`` seconds ends, and the next action reconnects.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.engine import marks
from core.engine.api import EngineAPI, Listener, Stats
from core.engine.events import (
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
    TranscriptLine,
)
from core.engine.intent import Intent, Wants
from core.engine.lifecycle import ACTIVE, Step
from core.engine.listing import read_list
from core.engine.messages import NO_HEADERS, Message, MessageTable
from core.engine.retry import RetryPolicy
from core.engine.transfers import (
    BATCH_BYTES,
    BATCH_COUNT,
    SMALL_MESSAGE,
    Broke,
    Done,
    Outcome,
    Refused,
    Restart,
    Stopped,
    Suspect,
    fetch_batch,
    fetch_large,
    undelivered,
)
from core.errors import (
    MAX_SERVER_WAIT,
    AuthenticationError,
    CertificateError,
    ConnectionLost,
    DeliveryError,
    Interrupted,
    LoginDelay,
    PopError,
    SecurityError,
    ServerError,
    StorageError,
    StoreBusy,
    TargetUnavailable,
)
from core.net import Dialer, TlsPolicy
from core.pop3.session import Session, open_session
from core.store.local import Store
from core.store.targets import Receipt

__all__ = ["Engine", "EngineAPI", "Listener", "RetryPolicy", "Stats"]

log = logging.getLogger("core.engine.coordinator")

HOLD_LOGIN_DELAY = 60.0  # with a LOGIN-DELAY this long, pausing holds the connection
SAME_PLACE = 3  # breaks at the same octet of one message, without progress: it is the message
WHOLE_REREADS = 4  # without EXT-RETR: whole reads of one message that broke, then FAILED
REOPEN_DELAY = 0.3  # after dropping a connection on purpose: the server frees the maildrop
QUIT_GRACE = 0.5  # at shutdown, how long an idle session's RSET/QUIT may take


class Engine:
    """Fetches one account's mail; README.md ("The engine API") has the API on one page.

    Public methods are thread-safe and return at once (but shutdown and wait_idle);
    everything else runs on the worker thread started by start().
    """

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
        idle_end: float = 60.0,
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
        self._idle_end = idle_end
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._transcript = transcript
        self._list_headers = list_headers  # TOP n 0 per message: a UI wants it, cron does not
        self._rng = random.Random()

        self._intent = Intent(on_stop=self._on_stop)
        self._table = MessageTable(self._store.marks())
        self._idle = threading.Condition(threading.Lock())
        self._is_idle = False
        self._thread: threading.Thread | None = None
        self._link = threading.Lock()
        self._dialer: Dialer | None = None
        self._opening = False  # connect, TLS, greeting, login: abort these at once
        self._parked = False  # a session is open and the worker waits for work: QUIT it
        self._quitting = False  # the graceful end at shutdown: reads go on (a timer bounds it)

        # Worker-owned state.
        self._session: Session | None = None
        self._server_marks: set[str] = set()
        self._use_offsets = True  # this session still trusts RETR offsets
        self._failures = 0  # sessions in a row that ended without progress
        self._progress = False  # this session stored something (rule 14)
        self._broken = False  # the last session ended by an error: the next one reconnects
        self._announce = False  # a refresh: send the next list even if nothing changed
        self._stopped = False  # a fatal error: wait for the user
        self._holding = False
        self._seen = -1  # the intent generation _between_chunks last looked at
        self._read_seen = -1  # the one _while_reading last looked at
        self._last_work = time.monotonic()
        self._last_command = time.monotonic()
        self._same_place: dict[str, tuple[int, int]] = {}  # uidl -> (octet, times)
        self._rereads: dict[str, list[int]] = {}  # uidl -> octets of each broken whole read
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch-deliver")
        self._delivery: (
            tuple[list[tuple[Message, int]], Future[Sequence[Path | Receipt | DeliveryError]]]
            | None
        ) = None
        self.stats = Stats()
        self.state = ConnectionState.DISCONNECTED
        self.last_error: ErrorOccurred | None = None
        self._problems: set[str] = set()  # listing anomalies already reported

    # -- the public API (any thread) ------------------------------------------------------

    def start(self) -> None:
        if self._auto:
            self._intent.download(None)
        else:
            self._intent.want(connect=True)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"popfetch {self.account.key}", daemon=True
            )
            self._thread.start()
        self._busy()

    def refresh(self) -> None:
        self._intent.want(refresh=True, retry=True)
        self._busy()

    def download(self, uidls: Iterable[str] | None = None) -> None:
        self._intent.download(None if uidls is None else list(uidls))
        self._busy()

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        """None resumes every paused message, including partials left by an earlier run."""
        if uidls is None:
            targets = set(self._intent.paused()) | set(self._table.paused())
        else:
            targets = set(uidls)
        self.download(targets)

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        self._intent.pause(None if uidls is None else list(uidls), self._table.active())
        self._busy()

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        """Stop and forget the partial bytes (pause keeps them)."""
        self._intent.cancel(None if uidls is None else list(uidls), self._table.active())
        self._busy()

    def mark(self, uidls: Iterable[str]) -> None:
        self._intent.mark(uidls, True)
        self._busy()

    def unmark(self, uidls: Iterable[str]) -> None:
        self._intent.mark(uidls, False)
        self._busy()

    def commit(self) -> None:
        """QUIT: the server deletes what is marked. The answer comes as CommitFinished."""
        self._intent.want(commit=True, retry=True)
        self._busy()

    def disconnect(self) -> None:
        """End the session with QUIT, after RSET if marks were issued: nothing is deleted."""
        self._busy()
        self._intent.disconnect()

    def retry_now(self) -> None:
        self._intent.want(retry=True)
        self._busy()

    def update_account(self, account: Account) -> None:
        """New settings (a pinned certificate, another port ...) for the next connection."""
        self.account = account
        self._intent.want(retry=True)
        self._busy()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker within about a second, nothing deleted: an idle session ends
        with QUIT (RSET first with marks), a busy one is dropped; partials stay for next
        time. The store is closed when this returns (unless ``timeout`` ran out first)."""
        self._intent.shutdown()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        elif thread is None:
            self._store.close()
            self._writer.shutdown()

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

    def messages(self) -> list[MessageInfo]:
        """A snapshot of the list (any thread)."""
        return self._table.snapshot()

    def _busy(self) -> None:
        with self._idle:
            self._is_idle = False

    def _on_stop(self, shutdown: bool) -> None:
        """From the caller's thread: a connection being opened is aborted at once, and on
        shutdown a busy one too; an idle session is ended with QUIT by the worker, and
        reads in an open session see the request within a poll."""
        with self._link:
            busy = self._opening or (shutdown and not self._parked)
            dialer = self._dialer if busy else None
        if dialer is not None:
            dialer.abort()

    # -- plumbing (worker) ----------------------------------------------------------------

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
                can_resume=(info.ext_retr and self._use_offsets) if info else None,
                retry_in=retry_in,
                attempt=attempt,
                login_delay=info.login_delay if info else None,
            )
        )

    def _step(self, msg: Message, step: Step, detail: str = "", path: str = "") -> bool:
        if not self._table.step(msg, step, detail):
            return False
        self._emit(MessageStateChanged(msg.uidl, msg.state, msg.received, detail, path))
        return True

    def _error(
        self, message: str, *, fatal: bool, exc: BaseException | None = None, left: bool = False
    ) -> None:
        code = exc.code if isinstance(exc, ServerError) else None
        event = ErrorOccurred(
            message,
            fatal,
            code,
            auth=isinstance(exc, AuthenticationError),
            certificate=exc.info if isinstance(exc, CertificateError) else None,
            left_on_server=left,
        )
        if fatal:
            self.last_error = event
        self._emit(event)

    def _note(self, sent: bool, text: str) -> None:
        if self._transcript:
            self._emit(TranscriptLine(sent, text))

    def _set_idle(self, idle: bool) -> None:
        with self._idle:
            self._is_idle = idle
            if idle:
                self._idle.notify_all()


    def _while_reading(self) -> bool:
        """Looked at every poll while a session reads (greeting, login, listing, bodies):
        the user's pauses and cancels show at once, and True ends the read."""
        if self._quitting:
            return False
        generation = self._intent.generation
        if generation != self._read_seen:
            self._read_seen = generation
            self._apply_intent()
        return self._intent.stopping()

    def _hold_store(self) -> bool:
        """Reopen the store closed while idle; False while another popfetch holds it."""
        try:
            self._store.reopen()
        except StoreBusy:
            return False
        return True

    def _release_store(self) -> None:
        """Nothing to do and no session: let another popfetch use the account meanwhile."""
        if self._delivery is None and self._store.is_open:
            self._store.close()

    def _marks_changed(self) -> None:
        self._table.set_marks(frozenset(self._store.marks()))
        self._emit(MarksChanged(self._table.marks))

    def _apply_intent(self) -> Wants:
        """Fold the intent into the table and the journal (no network here)."""
        if self._intent.has_journal_work() and not self._hold_store():
            return self._intent.snapshot()  # another popfetch has the store: later
        marks = self._intent.take_marks()
        for uidls, marked in marks:
            self._store.set_marks(uidls, marked)
        if marks:
            self._marks_changed()
        for uidl in self._intent.take_cancelled():
            msg = self._table.get(uidl)
            if msg is None or uidl == self._table.current:
                continue
            if msg.state in (MessageState.STORED, MessageState.GONE):
                continue
            self._store.discard(self._store.begin(uidl, msg.size))
            msg.received = 0
            self._step(msg, Step.CANCEL, "cancelled")
        if self._table.loaded:
            self._intent.expand_download_all(
                m.uidl for m in self._table
                if m.state not in (MessageState.STORED, MessageState.GONE)
            )
        w = self._intent.snapshot()
        for uidl in w.queue:
            msg = self._table.get(uidl)
            if msg is not None and msg.state in (
                MessageState.REMOTE, MessageState.PAUSED, MessageState.FAILED
            ):
                self._step(msg, Step.QUEUE)
        for uidl in w.paused:
            msg = self._table.get(uidl)
            if msg is not None and msg.state in (MessageState.QUEUED, MessageState.STALLED):
                self._step(msg, Step.PAUSE, "paused")
        return w

    # -- the worker loop ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug: say so loudly rather than end the thread quietly
            log.exception("popfetch engine stopped")
            self._error(f"internal error, the account stopped: {exc!r}", fatal=True)
            self._conn_state(ConnectionState.FAILED, "internal error")
        finally:
            self._drop()
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
            w = self._apply_intent()
            if w.shutdown:
                self._quit_at_shutdown()
                return
            with self._link:
                self._parked = False
            if self._session is None:
                if w.disconnect:
                    self._intent.clear(disconnect=True)
                    self._hold_stalled()
                    self._conn_state(ConnectionState.DISCONNECTED, "disconnected; nothing deleted")
                    continue
                if not w.connected or (self._stopped and not w.retry_now):
                    self._release_store()
                    self._set_idle(True)
                    # marks that found the store busy are journalled once it is free
                    self._intent.wait(1.0 if self._intent.has_journal_work() else None)
                    continue
                self._intent.clear(retry=True)
                if w.refresh:  # the session opening now is the fresh one asked for
                    self._intent.clear(refresh=True)
                    self._announce = True
                self._stopped = False
                try:
                    self._open()
                except (PopError, OSError) as exc:
                    self._after_error(_pop_error(exc))
                continue
            try:
                self._work(w)
            except Interrupted:
                self._finish_delivery()
                self._drop()  # mid-reply: this connection cannot be used again
                self._hold_stalled()
            except (PopError, OSError) as exc:
                self._after_error(_pop_error(exc))

    def _open(self) -> None:
        self._busy()
        if not self._hold_store():
            raise StoreBusy(f"another popfetch is using this account's state "
                            f"({self._store.state_dir})")
        acct = self.account
        dialer = Dialer()
        with self._link:
            self._dialer = dialer
            self._opening = True
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
                dialer=dialer,
                stop=self._while_reading,
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
        finally:
            with self._link:
                self._opening = False
        self._session = session
        self._server_marks = set()
        self._use_offsets = True
        self._progress = False
        self._last_work = self._last_command = time.monotonic()
        self._load_list()
        if self._broken:
            self._broken = False
            self.stats.reconnects += 1
        self._conn_state(ConnectionState.CONNECTED, session.info.describe())
        for msg in self._table:
            if msg.state is MessageState.STALLED:
                self._step(msg, Step.RECONNECT)

    def _work(self, w: Wants) -> None:
        """One step with a live session: marks, commit, refresh, one download, or idle."""
        if w.disconnect:
            self._intent.clear(disconnect=True)
            self._finish_delivery()
            self._end_session("disconnected; nothing deleted", release=True)
            self._hold_stalled()
            return
        if w.commit or w.refresh:
            self._finish_delivery()
        self._sync_marks()
        if w.commit:
            self._commit()
            return
        if w.refresh:
            self._intent.clear(refresh=True)
            self._announce = True
            self._end_session("a new session sees new mail: reconnecting")
            return
        batch = self._next_work(w)
        first = self._table[batch[0]] if batch else None
        large = first is not None and (first.size > SMALL_MESSAGE or first.received > 0)
        if self._delivery is not None and (large or not batch):
            self._finish_delivery()
            return
        if batch:
            self._busy()
            self._last_work = time.monotonic()
            if large:
                self._download_large(self._table[batch[0]])
            else:
                self._download_small([self._table[u] for u in batch])
            self._last_work = self._last_command = time.monotonic()
            return
        now = time.monotonic()
        if now - self._last_work >= self._idle_end:
            self._intent.clear(connected=True)
            self._end_session("idle: the session ended; the next action reconnects", release=True)
            return
        wait = min(self._last_command + self._keepalive, self._last_work + self._idle_end) - now
        with self._link:
            self._parked = True  # before saying idle: a shutdown from now on QUITs
        self._set_idle(True)
        woke = self._intent.wait(max(wait, 0.0))
        with self._link:
            if self._intent.stopping():
                return  # the loop ends the session; a shutdown found us parked
            self._parked = False
        due = time.monotonic() - self._last_command >= self._keepalive
        if not woke and due and self._session is not None:
            self._session.noop()
            self._last_command = time.monotonic()

    def _next_work(self, w: Wants) -> list[str]:
        """The next large message alone, or a batch of small ones (pipelined)."""
        batch: list[str] = []
        total = 0
        for uidl in w.queue:
            m = self._table.get(uidl)
            if m is None or m.state not in ACTIVE:
                continue
            if m.size > SMALL_MESSAGE or m.received:
                if not batch:
                    return [uidl]
                break
            batch.append(uidl)
            total += m.size
            if total >= BATCH_BYTES or len(batch) >= BATCH_COUNT:
                break
        return batch

    # -- ending sessions ------------------------------------------------------------------

    def _drop(self) -> None:
        """Close without QUIT: a drop, a desync, a stop mid-reply. The server deletes nothing."""
        with self._link:
            self._dialer = None
        if self._session is not None:
            self._session.close()
            self._session = None
            self._server_marks = set()

    def _quit_at_shutdown(self) -> None:
        """An idle session still ends with QUIT (RSET first with marks), bounded: if the
        server does not answer within QUIT_GRACE seconds the link is dropped instead."""
        with self._link:
            dialer = self._dialer if self._parked else None
            self._parked = False
        if dialer is None or self._session is None:
            return
        timer = threading.Timer(QUIT_GRACE, dialer.abort)
        timer.start()
        self._quitting = True
        try:
            self._end_session("shut down; nothing deleted")
        finally:
            self._quitting = False
            timer.cancel()

    def _end_session(self, detail: str, *, release: bool = False) -> None:
        """QUIT, after RSET when marks were issued (rule 15): nothing is deleted.
        ``release``: no session follows, so the store is let go too (before saying so)."""
        session = self._session
        if session is None:
            return
        try:
            marks.quit_keeping_everything(session, frozenset(self._server_marks))
        except (PopError, OSError) as exc:
            log.info("ending the session: %s", exc)
        self._drop()
        if release:
            self._release_store()
        self._conn_state(ConnectionState.DISCONNECTED, detail)

    def _after_error(self, exc: PopError) -> None:
        """The session broke. Blame by evidence (rule 14): the account counts sessions in
        a row without progress; messages are judged in the transfer code."""
        try:
            self._finish_delivery()  # what arrived whole is kept, even now
        except (StorageError, TargetUnavailable) as storage:
            exc = storage
        self._drop()
        self._hold_stalled()
        self._broken = True
        w = self._intent.snapshot()
        if w.shutdown:
            return
        if w.disconnect and not isinstance(exc, StorageError):
            return
        retryable = isinstance(exc, StoreBusy) or (exc.retryable and not isinstance(
            exc, AuthenticationError | CertificateError | SecurityError | StorageError
        ))
        if not retryable:
            self._give_up(str(exc), exc)
            return
        self._failures = 0 if self._progress else self._failures + 1
        self._progress = False
        limit = self._retry.max_failures
        if limit is not None and self._failures > limit:
            self._give_up(
                f"giving up after {self._failures} connections in a row without progress: "
                f"{exc}", exc,
            )
            return
        delay = self._retry.delay(max(self._failures, 1), self._rng)
        if isinstance(exc, LoginDelay):
            delay = max(delay, exc.delay)
        if delay > MAX_SERVER_WAIT:  # a LOGIN-DELAY that long is reported, not obeyed
            when = (datetime.now() + timedelta(seconds=delay)).strftime("%H:%M")
            self._give_up(
                f"the server allows a login every {delay:.0f} s; try after {when}", exc
            )
            return
        attempt = self._failures + 1
        self._error(
            f"{exc}; reconnecting in {delay:.1f} s (attempt {attempt})", fatal=False, exc=exc
        )
        self._conn_state(
            ConnectionState.RECONNECTING, f"connection lost: {exc}",
            retry_in=delay, attempt=attempt,
        )
        deadline = time.monotonic() + delay
        while True:
            w = self._apply_intent()
            if w.shutdown or w.retry_now or w.disconnect or not w.connected:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._intent.wait(remaining)

    def _give_up(self, message: str, exc: PopError) -> None:
        self._stopped = True
        self._intent.clear(commit=True)
        self._error(message, fatal=True, exc=exc)
        self._conn_state(ConnectionState.FAILED, message)
        self._set_idle(True)

    def _hold_stalled(self) -> None:
        for msg in self._table:
            if msg.state is MessageState.DOWNLOADING:
                self._step(msg, Step.LINK_LOST, "waiting for the connection")

    # -- the list -------------------------------------------------------------------------

    def _load_list(self) -> None:
        session = self._require()
        old = self._table.by_uidl()
        listing = read_list(session, set(old), with_headers=self._list_headers)
        self.stats.skipped = len(listing.problems)
        for problem in listing.problems:
            if problem not in self._problems:
                self._problems.add(problem)
                self._error(problem, fatal=False, left=True)
        partials = self._store.partial_offsets()
        stored = self._store.stored_uidls()
        messages: dict[str, Message] = {}
        order: list[str] = []
        refreshed: list[Message] = []
        for number in sorted(listing.entries):
            uidl, size = listing.entries[number]
            prev = old.get(uidl)
            if prev is not None and uidl in stored and prev.state is not MessageState.STORED:
                # Another popfetch stored it while this engine had let go of the store.
                prev.received = size
                if self._table.step(prev, Step.STORE):
                    refreshed.append(prev)
            if prev is not None:
                prev.number, prev.size = number, size
                messages[uidl] = prev
            else:
                if uidl in stored:
                    state, received = MessageState.STORED, size
                else:
                    received = partials.get(uidl, 0)
                    state = MessageState.PAUSED if received else MessageState.REMOTE
                headers = listing.headers.get(number, NO_HEADERS)
                messages[uidl] = Message(uidl, number, size, headers, state, received)
            order.append(uidl)
        gone = [old[u] for u in old if u not in messages]
        fresh = [u for u in messages if u not in old]
        self._table.replace(messages, order)
        for msg in refreshed:
            self._emit(MessageStateChanged(msg.uidl, msg.state, msg.received))
        for msg in gone:
            if self._table.step(msg, Step.VANISH, "no longer on the server"):
                self._emit(MessageStateChanged(msg.uidl, msg.state, 0, msg.detail))
        marks = self._store.marks()
        vanished = marks - set(messages)
        if vanished:  # deleted by an earlier QUIT whose answer we never saw
            self._store.forget(vanished)
        self._intent.keep_only(messages)
        if self._delete_after:
            self._store.set_marks(
                [u for u in order if messages[u].state is MessageState.STORED], True
            )
        self._table.set_marks(frozenset(self._store.marks()))
        if gone or fresh or self._announce or not self._table.loaded:
            self._table.loaded = True
            self._announce = False
            self._emit(ListLoaded(tuple(self._table.snapshot())))
        self._emit(MarksChanged(self._table.marks))

    def _require(self) -> Session:
        if self._session is None:
            raise ConnectionLost("not connected")
        return self._session

    # -- marks and commit -----------------------------------------------------------------

    def _sync_marks(self) -> None:
        """Make the server's DELE set equal the journal (RSET is the only undo, rule 2)."""
        wanted = frozenset(u for u in self._table.marks if u in self._table)
        issued = frozenset(self._server_marks)
        if wanted != issued:
            self._server_marks = set(
                marks.issue(self._require(), self._table, wanted, issued)
            )

    def _commit(self) -> None:
        session = self._require()
        self._intent.clear(commit=True)
        if not self._intent.snapshot().queue:
            self._intent.clear(connected=True)
        self._conn_state(ConnectionState.COMMITTING, "QUIT: the server deletes marked messages")
        marked = frozenset(self._server_marks)
        self._session = None
        self._server_marks = set()
        try:
            ok, text = session.quit()
        except (PopError, OSError) as exc:
            # The answer was lost: the server may or may not have deleted. The journal keeps
            # the marks; the next session sees by UIDL what is gone and commits the rest.
            session.close()
            self._intent.again(commit=True)
            raise ConnectionLost(f"connection lost during QUIT: {exc}") from exc
        with self._link:
            self._dialer = None
        deleted = marked if ok else frozenset()
        if deleted:
            self._store.forget(deleted)
            self.stats.deleted += len(deleted)
            gone = [m for m in self._table if m.uidl in deleted]
            self._table.remove(deleted)
            for msg in gone:
                self._emit(MessageStateChanged(
                    msg.uidl, MessageState.GONE, 0, "deleted on the server"
                ))
        self._table.set_marks(frozenset(self._store.marks()))
        self._emit(CommitFinished(ok, text, deleted))
        self._emit(MarksChanged(self._table.marks))
        self._conn_state(ConnectionState.DISCONNECTED, f"committed: {text}")
        if not ok:
            self._error(f"the server could not delete every marked message: {text}", fatal=False)

    # -- downloads: applying outcomes -----------------------------------------------------

    def _stored(self, msg: Message, path: Path | Receipt, received: int) -> None:
        msg.received = received
        self._progress = True
        self._same_place.pop(msg.uidl, None)
        self._rereads.pop(msg.uidl, None)
        self.stats.fetched += 1
        self.stats.fetched_bytes += received
        self._intent.done([msg.uidl])
        self._step(msg, Step.STORE, "", str(path))
        if self._delete_after:
            self._store.set_marks([msg.uidl], True)

    def _failed(self, msg: Message, why: str) -> None:
        """Evidence against this message alone: it fails, the queue goes on."""
        self.stats.failed += 1
        self._progress = True  # the queue moved on: not the account's failure
        self._intent.done([msg.uidl])
        self._step(msg, Step.FAIL, why)

    def _suspect(self, msg: Message, why: str) -> None:
        self.stats.suspect += 1
        self._failed(msg, f"suspect copy: {why}")

    def _broke_at(self, msg: Message, broke: Broke) -> None:
        """The link broke inside ``msg`` with no progress: the same octet again and again
        is evidence against the message (a poison message), anything else is the link's.
        A break before the server began its reply says nothing about the message."""
        if not broke.in_reply:
            return
        at, error = broke.at, broke.error
        prev_at, times = self._same_place.get(msg.uidl, (-1, 0))
        times = times + 1 if prev_at == at else 1
        self._same_place[msg.uidl] = (at, times)
        if times >= SAME_PLACE:
            self._failed(
                msg,
                f"the connection breaks at octet {at} of this message every time "
                f"({times} times in a row: {error}); the other messages go on",
            )

    def _download_small(self, batch: list[Message]) -> None:
        session = self._require()
        for msg in batch:
            self._step(msg, Step.START)
        result = fetch_batch(session, batch, self.stats)
        self._finish_delivery()
        for msg, why in result.refused:
            self._failed(msg, why)
        for msg, data, why in result.suspect:
            self._keep_partial(msg, data)
            self._suspect(msg, why)
        if result.bodies:
            self._intent.done([m.uidl for m, _ in result.bodies])  # in flight to the disk
            items = [(m.uidl, data) for m, data in result.bodies]
            future = self._writer.submit(self._store.deliver_batch, items)
            self._delivery = ([(m, len(data)) for m, data in result.bodies], future)
        if result.broke is not None:
            culprit = result.culprit
            moved = bool(result.bodies)
            if culprit is not None and result.unfinished and session.info.ext_retr:
                # Keep what arrived: the message resumes by offset, alone, like a large one.
                before = culprit.received
                self._keep_partial(culprit, result.unfinished)
                if culprit.received > before:
                    self._progress = moved = True
            if culprit is not None and not moved:
                self._broke_at(culprit, result.broke)
            raise result.broke.error

    def _keep_partial(self, msg: Message, data: bytes) -> None:
        """Part of a small message becomes its partial: a suspect copy (kept, never
        delivered, never DELE'd), or the start of one cut mid-body (resumed by offset)."""
        partial = self._store.begin(msg.uidl, msg.size)
        partial.restart(verify=False)
        partial.write(data)
        partial.close()
        msg.received = partial.wire_offset

    def _finish_delivery(self) -> None:
        """Wait for the batch being made durable; only then is it STORED (and, with
        delete-after-fetch, marked: no DELE before the copy is durable, rule 12)."""
        if self._delivery is None:
            return
        messages, future = self._delivery
        self._delivery = None
        outcomes = future.result()
        for (msg, received), outcome in zip(messages, outcomes, strict=True):
            if isinstance(outcome, DeliveryError):
                self._failed(msg, undelivered(outcome))
            else:
                self._stored(msg, outcome, received)
        if self._delete_after:
            self._marks_changed()

    def _download_large(self, msg: Message) -> None:
        session = self._require()
        partial = self._store.begin(msg.uidl, msg.size)
        use_offsets = session.info.ext_retr and self._use_offsets
        detail = "" if use_offsets or not partial.wire_offset else (
            "restarting from the beginning: this server cannot resume mid-message"
        )
        self._table.current = msg.uidl
        self._seen = -1
        self._step(msg, Step.START, detail)
        try:
            outcome = fetch_large(
                session, self._store, msg, partial, use_offsets=use_offsets,
                stats=self.stats, emit=self._emit, check=lambda: self._between_chunks(msg),
            )
        finally:
            self._table.current = None
            self._holding = False
        self._apply_large(msg, outcome, use_offsets)

    def _apply_large(self, msg: Message, outcome: Outcome, use_offsets: bool) -> None:
        if isinstance(outcome, Done):
            self._stored(msg, outcome.path, outcome.received)
            if self._delete_after:
                self._marks_changed()
            return
        if isinstance(outcome, Refused):
            msg.received = 0
            self._failed(msg, outcome.reason)
            return
        if isinstance(outcome, Suspect):
            self._suspect(msg, outcome.reason)
            self._drop()  # the reply may not be over: start the next session clean
            return
        if isinstance(outcome, Restart):
            msg.received = 0
            if outcome.no_offsets:
                self._use_offsets = False
            self._step(msg, Step.RESTART, outcome.reason)
            if not outcome.connection_usable:
                self._drop()  # a reply may still be in flight
                self._conn_state(ConnectionState.CONNECTING, "reopening the connection")
                self._intent.wait(REOPEN_DELAY)
            return
        if isinstance(outcome, Stopped):
            self._after_stop(msg)
            return
        self._after_break(msg, outcome, use_offsets)

    def _after_break(self, msg: Message, broke: Broke, use_offsets: bool) -> None:
        if broke.progress:
            self._progress = True
            self._same_place.pop(msg.uidl, None)
        else:
            self._broke_at(msg, broke)
        if not use_offsets and msg.state is not MessageState.FAILED:
            reads = self._rereads.setdefault(msg.uidl, [])
            reads.append(broke.at)
            if len(reads) >= WHOLE_REREADS:
                self._failed(msg, (
                    f"this server cannot resume, and the link drops every "
                    f"~{max(reads) / 1e6:.1f} MB, before the end of this "
                    f"{msg.size / 1e6:.1f} MB message ({len(reads)} whole reads)"
                ))
        raise broke.error

    def _after_stop(self, msg: Message) -> None:
        """The RETR reply is unfinished: keep (or drop) the bytes, drop the connection."""
        w = self._intent.snapshot()
        paused = msg.uidl in w.paused
        if not paused and msg.uidl not in w.queue:
            self._store.discard(self._store.begin(msg.uidl, msg.size))
            msg.received = 0
            self._step(msg, Step.CANCEL, "cancelled")
        elif paused:
            msg.received = self._store.partial_offset(msg.uidl)
            if not self._step(msg, Step.PAUSE, "paused"):
                self._emit(MessageStateChanged(msg.uidl, msg.state, msg.received, "paused"))
        self._drop()
        if w.connected and not w.disconnect and not w.shutdown:
            self._conn_state(ConnectionState.CONNECTING, "reopening the connection")
            # The server releases the maildrop lock once it sees our close; reconnecting
            # at once would often meet its [IN-USE].
            self._intent.wait(REOPEN_DELAY)
        raise Interrupted(msg.uidl)

    def _between_chunks(self, msg: Message) -> None:
        """Stop for pause/cancel/commit/disconnect; or hold the connection (no EXT-RETR).

        Runs after every chunk: it looks at the intent only when it changed."""
        if self._intent.generation == self._seen and not self._holding:
            return
        self._seen = self._intent.generation
        while True:
            w = self._apply_intent()
            if w.shutdown or w.disconnect or w.commit:
                raise Interrupted(msg.uidl)
            paused = msg.uidl in w.paused
            if not paused and msg.uidl not in w.queue:
                raise Interrupted(msg.uidl)  # cancelled
            if not paused:
                if self._holding:
                    self._holding = False
                    self._step(msg, Step.START)
                return
            if self._can_drop_for_pause():
                raise Interrupted(msg.uidl)
            if not self._holding:
                self._holding = True
                self._step(
                    msg, Step.HOLD,
                    "paused, holding the connection: this server cannot resume mid-message",
                )
            self._intent.wait(1.0)

    def _can_drop_for_pause(self) -> bool:
        info = self._session.info if self._session else None
        if info is None or not info.ext_retr or not self._use_offsets:
            return False
        return (info.login_delay or 0) < HOLD_LOGIN_DELAY


def _pop_error(exc: BaseException) -> PopError:
    return exc if isinstance(exc, PopError) else ConnectionLost(str(exc))


def _implements(engine: Engine) -> EngineAPI:
    """mypy proves here that Engine satisfies the Protocol the GUI is typed against."""
    return engine
