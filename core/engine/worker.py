"""The engine's worker thread: the connection and session lifecycle and the loop that
drives it. It folds the user's intent into the table and the journal, opens a session
when there is work (a check always opens a fresh one), runs session work (the list,
marks, commit; downloads through :class:`~core.engine.downloads.Downloads`), ends every
session with QUIT (RSET first when marks were issued and no commit was asked) unless
the link dropped, and reconnects with backoff, counting sessions in a row without
progress (DESIGN rule 14). Only this thread touches the network and the store."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.engine import marks
from core.engine.api import Stats
from core.engine.downloads import Downloads
from core.engine.events import (
    CommitFinished,
    ConnectionState,
    ListLoaded,
    MarksChanged,
    MessageState,
    MessageStateChanged,
)
from core.engine.idle import IdleState
from core.engine.intent import Intent, Wants
from core.engine.lifecycle import ACTIVE, Step
from core.engine.link import Link
from core.engine.listing import read_list
from core.engine.messages import NO_HEADERS, Message, MessageTable
from core.engine.reporter import Reporter
from core.engine.retry import RetryPolicy
from core.engine.transfers import BATCH_BYTES, BATCH_COUNT, SMALL_MESSAGE
from core.errors import (
    MAX_SERVER_WAIT,
    AuthenticationError,
    CertificateError,
    ConnectionLost,
    Interrupted,
    LoginDelay,
    PopError,
    SecurityError,
    StorageError,
    StoreBusy,
    TargetUnavailable,
)
from core.net import Dialer, TlsPolicy
from core.pop3.session import ServerInfo, Session, open_session
from core.store.local import Store

log = logging.getLogger("core.engine.coordinator")

QUIT_GRACE = 0.5  # at shutdown, how long an idle session's RSET/QUIT may take


@dataclass(frozen=True)
class Options:
    """The engine's settings the worker reads (fixed for its life)."""

    retry: RetryPolicy
    delete_after: bool
    keepalive: float
    idle_end: float
    read_timeout: float
    connect_timeout: float
    list_headers: bool  # TOP n 0 per message: a UI wants it, cron does not


class Worker:
    def __init__(
        self, account: Account, password: Callable[[], str | TokenSource], options: Options, *,
        store: Store, intent: Intent, table: MessageTable, link: Link, idle: IdleState,
        report: Reporter, stats: Stats,
    ) -> None:
        self.account = account  # replaced by Engine.update_account; read at each open
        self._password = password
        self._store = store
        self._intent = intent
        self._table = table
        self._link = link
        self._idle = idle
        self._report = report
        self.stats = stats
        self._opt = options
        self._rng = random.Random()
        self._downloads = Downloads(self, store=store, table=table, intent=intent, report=report,
                                    stats=stats, delete_after=options.delete_after)
        self._applied = -1  # the intent generation last folded in
        self._session: Session | None = None
        self._server_marks: set[str] = set()
        self._failures = 0  # sessions in a row that ended without progress
        self._broken = False  # the last session ended by an error: the next one reconnects
        self._announce = False  # a refresh: send the next list even if nothing changed
        self._stopped = False  # a fatal error: wait for the user
        self._read_seen = -1  # the intent generation _while_reading last looked at
        self._last_work = time.monotonic()
        self._last_command = time.monotonic()
        self._problems: set[str] = set()  # listing anomalies already reported

    # -- for Downloads (SessionHost) ------------------------------------------------------

    def info(self) -> ServerInfo | None:
        return self._session.info if self._session else None

    def reopening(self) -> None:
        self._conn_state(ConnectionState.CONNECTING, "reopening the connection")

    def close(self) -> None:
        """Never started: let go of the store and the delivery thread."""
        self._store.close()
        self._downloads.shutdown()

    # -- plumbing ---------------------------------------------------------------------------

    def _conn_state(
        self, state: ConnectionState, detail: str = "", *, retry_in: float = 0.0, attempt: int = 0
    ) -> None:
        info = self._session.info if self._session else None
        self._report.connection(state, detail, info, offsets=self._downloads.use_offsets,
                                retry_in=retry_in, attempt=attempt)

    def _while_reading(self) -> bool:
        """Looked at every poll while a session reads (greeting, login, listing, bodies):
        the user's pauses and cancels show at once, and True ends the read."""
        if self._link.quitting:
            return False
        generation = self._intent.generation
        if generation != self._read_seen:
            self._read_seen = generation
            self.apply_intent()
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
        if not self._downloads.pending and self._store.is_open:
            self._store.close()

    def marks_changed(self) -> None:
        self._table.set_marks(frozenset(self._store.marks()))
        self._report.emit(MarksChanged(self._table.marks))

    def apply_intent(self) -> Wants:
        """Fold the intent into the table and the journal (no network here)."""
        self._applied = self._intent.generation  # before reading: a later change shows
        if self._intent.has_journal_work() and not self._hold_store():
            return self._intent.snapshot()  # another popfetch has the store: later
        marks = self._intent.take_marks()
        for uidls, marked in marks:
            self._store.set_marks(uidls, marked)
        if marks:
            self.marks_changed()
        for uidl in self._intent.take_cancelled():
            msg = self._table.get(uidl)
            if msg is None or uidl == self._table.current:
                continue
            if msg.state in (MessageState.STORED, MessageState.GONE):
                continue
            self._store.discard(self._store.begin(uidl, msg.size))
            msg.received = 0
            self._report.step(msg, Step.CANCEL, "cancelled")
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
                self._report.step(msg, Step.QUEUE)
        for uidl in w.paused:
            msg = self._table.get(uidl)
            if msg is not None and msg.state in (MessageState.QUEUED, MessageState.STALLED):
                self._report.step(msg, Step.PAUSE, "paused")
        return w

    # -- the worker loop ------------------------------------------------------------------

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug: say so loudly rather than end the thread quietly
            log.exception("popfetch engine stopped")
            self._report.error(f"internal error, the account stopped: {exc!r}", fatal=True)
            self._conn_state(ConnectionState.FAILED, "internal error")
        finally:
            self.drop()
            try:
                self._downloads.finish()
            except PopError as exc:
                self._report.error(str(exc), fatal=True, exc=exc)
            finally:
                self._downloads.shutdown()
                self._store.close()
                self._idle.ended()

    def _loop(self) -> None:
        while True:
            w = self.apply_intent()
            if w.shutdown:
                self._quit_at_shutdown()
                return
            self._link.unpark()
            if self._session is None:
                if w.disconnect:
                    self._intent.clear(disconnect=True)
                    self._hold_stalled()
                    self._conn_state(ConnectionState.DISCONNECTED, "disconnected; nothing deleted")
                    continue
                if not w.connected or (self._stopped and not w.retry_now):
                    self._release_store()
                    self._idle.idle(self._applied)
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
                self._downloads.finish()
                self.drop()  # mid-reply: this connection cannot be used again
                self._hold_stalled()
            except (PopError, OSError) as exc:
                self._after_error(_pop_error(exc))

    def _open(self) -> None:
        self._idle.busy()
        if not self._hold_store():
            raise StoreBusy(f"another popfetch is using this account's state "
                            f"({self._store.state_dir})")
        acct = self.account
        dialer = Dialer()
        self._link.opening(dialer)
        self._conn_state(ConnectionState.CONNECTING, f"connecting to {acct.host}:{acct.port}")
        try:
            session = open_session(
                acct.host,
                acct.port,
                acct.security,
                TlsPolicy(acct.cafile, acct.pinned_sha256),
                transcript=self._report.transcript,
                connect_timeout=self._opt.connect_timeout,
                read_timeout=self._opt.read_timeout,
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
            self._link.opened()
        self._session = session
        self._server_marks = set()
        self._downloads.use_offsets = True
        self._downloads.progress = False
        self._last_work = self._last_command = time.monotonic()
        self._load_list()
        if self._broken:
            self._broken = False
            self.stats.reconnects += 1
        self._conn_state(ConnectionState.CONNECTED, session.info.describe())
        for msg in self._table:
            if msg.state is MessageState.STALLED:
                self._report.step(msg, Step.RECONNECT)

    def _work(self, w: Wants) -> None:
        """One step with a live session: marks, commit, refresh, one download, or idle."""
        if w.disconnect:
            self._intent.clear(disconnect=True)
            self._downloads.finish()
            self._end_session("disconnected; nothing deleted", release=True)
            self._hold_stalled()
            return
        if w.commit or w.refresh:
            self._downloads.finish()
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
        if self._downloads.pending and (large or not batch):
            self._downloads.finish()
            return
        if batch:
            self._idle.busy()
            self._last_work = time.monotonic()
            if large:
                self._downloads.download_large(self._table[batch[0]])
            else:
                self._downloads.download_small([self._table[u] for u in batch])
            self._last_work = self._last_command = time.monotonic()
            return
        now = time.monotonic()
        if now - self._last_work >= self._opt.idle_end:
            self._intent.clear(connected=True)
            self._end_session("idle: the session ended; the next action reconnects", release=True)
            return
        opt = self._opt
        wait = min(self._last_command + opt.keepalive, self._last_work + opt.idle_end) - now
        self._link.park()  # before saying idle: a shutdown from now on QUITs
        self._idle.idle(self._applied)
        woke = self._intent.wait(max(wait, 0.0))
        if not self._link.unpark(self._intent.stopping):
            return  # the loop ends the session; a shutdown found us parked
        due = time.monotonic() - self._last_command >= self._opt.keepalive
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

    def drop(self) -> None:
        """Close without QUIT: a drop, a desync, a stop mid-reply. The server deletes nothing."""
        self._link.closed()
        if self._session is not None:
            self._session.close()
            self._session = None
            self._server_marks = set()

    def _quit_at_shutdown(self) -> None:
        """An idle session still ends with QUIT (RSET first with marks), bounded: if the
        server does not answer within QUIT_GRACE seconds the link is dropped instead."""
        dialer = self._link.take_parked()
        if dialer is None or self._session is None:
            return
        timer = threading.Timer(QUIT_GRACE, dialer.abort)
        timer.start()
        self._link.quitting = True
        try:
            self._end_session("shut down; nothing deleted")
        finally:
            self._link.quitting = False
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
        self.drop()
        if release:
            self._release_store()
        self._conn_state(ConnectionState.DISCONNECTED, detail)

    def _after_error(self, exc: PopError) -> None:
        """The session broke. Blame by evidence (rule 14): the account counts sessions in
        a row without progress; messages are judged in the transfer code."""
        try:
            self._downloads.finish()  # what arrived whole is kept, even now
        except (StorageError, TargetUnavailable) as storage:
            exc = storage
        self.drop()
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
        self._failures = 0 if self._downloads.progress else self._failures + 1
        self._downloads.progress = False
        limit = self._opt.retry.max_failures
        if limit is not None and self._failures > limit:
            self._give_up(
                f"giving up after {self._failures} connections in a row without progress: "
                f"{exc}", exc,
            )
            return
        delay = self._opt.retry.delay(max(self._failures, 1), self._rng)
        if isinstance(exc, LoginDelay):
            delay = max(delay, exc.delay)
        if delay > MAX_SERVER_WAIT:  # a LOGIN-DELAY that long is reported, not obeyed
            when = (datetime.now() + timedelta(seconds=delay)).strftime("%H:%M")
            self._give_up(
                f"the server allows a login every {delay:.0f} s; try after {when}", exc
            )
            return
        attempt = self._failures + 1
        self._report.error(
            f"{exc}; reconnecting in {delay:.1f} s (attempt {attempt})", fatal=False, exc=exc
        )
        self._conn_state(
            ConnectionState.RECONNECTING, f"connection lost: {exc}",
            retry_in=delay, attempt=attempt,
        )
        deadline = time.monotonic() + delay
        while True:
            w = self.apply_intent()
            if w.shutdown or w.retry_now or w.disconnect or not w.connected:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._intent.wait(remaining)

    def _give_up(self, message: str, exc: PopError) -> None:
        self._stopped = True
        self._intent.clear(commit=True)
        self._report.error(message, fatal=True, exc=exc)
        self._conn_state(ConnectionState.FAILED, message)
        self._idle.idle(self._applied)

    def _hold_stalled(self) -> None:
        for msg in self._table:
            if msg.state is MessageState.DOWNLOADING:
                self._report.step(msg, Step.LINK_LOST, "waiting for the connection")

    # -- the list -------------------------------------------------------------------------

    def _load_list(self) -> None:
        session = self.session()
        old = self._table.by_uidl()
        listing = read_list(session, set(old), with_headers=self._opt.list_headers)
        self.stats.skipped = len(listing.problems)
        for problem in listing.problems:
            if problem not in self._problems:
                self._problems.add(problem)
                self._report.error(problem, fatal=False, left=True)
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
            self._report.emit(MessageStateChanged(msg.uidl, msg.state, msg.received))
        for msg in gone:
            if self._table.step(msg, Step.VANISH, "no longer on the server"):
                self._report.emit(MessageStateChanged(msg.uidl, msg.state, 0, msg.detail))
        marks = self._store.marks()
        vanished = marks - set(messages)
        if vanished:  # deleted by an earlier QUIT whose answer we never saw
            self._store.forget(vanished)
        self._intent.keep_only(messages)
        if self._opt.delete_after:
            self._store.set_marks(
                [u for u in order if messages[u].state is MessageState.STORED], True
            )
        self._table.set_marks(frozenset(self._store.marks()))
        if gone or fresh or self._announce or not self._table.loaded:
            self._table.loaded = True
            self._announce = False
            self._report.emit(ListLoaded(tuple(self._table.snapshot())))
        self._report.emit(MarksChanged(self._table.marks))

    def session(self) -> Session:
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
                marks.issue(self.session(), self._table, wanted, issued)
            )

    def _commit(self) -> None:
        session = self.session()
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
        self._link.closed()
        deleted = marked if ok else frozenset()
        if deleted:
            self._store.forget(deleted)
            self.stats.deleted += len(deleted)
            gone = [m for m in self._table if m.uidl in deleted]
            self._table.remove(deleted)
            for msg in gone:
                self._report.emit(MessageStateChanged(
                    msg.uidl, MessageState.GONE, 0, "deleted on the server"
                ))
        self._table.set_marks(frozenset(self._store.marks()))
        self._report.emit(CommitFinished(ok, text, deleted))
        self._report.emit(MarksChanged(self._table.marks))
        self._conn_state(ConnectionState.DISCONNECTED, f"committed: {text}")
        if not ok:
            self._report.error(f"the server could not delete every marked message: {text}",
                               fatal=False)


def _pop_error(exc: BaseException) -> PopError:
    return exc if isinstance(exc, PopError) else ConnectionLost(str(exc))
