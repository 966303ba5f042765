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

import threading
import time
from collections.abc import Iterable

from core.accounts import Account
from core.engine.api import EngineAPI, Listener, Stats
from core.engine.base import log
from core.engine.events import (
    CommitFinished,
    ConnectionState,
    MarksChanged,
    MessageState,
    MessageStateChanged,
)
from core.engine.listing import ListLoading
from core.engine.retry import RetryPolicy
from core.engine.transfers import SMALL_MESSAGE, Transfers
from core.errors import (
    AuthenticationError,
    CertificateError,
    ConnectionLost,
    Interrupted,
    LoginDelay,
    PopError,
    SecurityError,
    StorageError,
)
from core.net import TlsPolicy
from core.pop3.session import open_session

__all__ = ["Engine", "EngineAPI", "Listener", "RetryPolicy", "Stats"]


class Engine(Transfers, ListLoading):
    """Fetches one account's mail; README.md ("The engine API") has the API on one page.

    Public methods are thread-safe and return at once; everything else runs on the
    worker thread started by start().
    """

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
            targets = set(w.queue) | set(self._active_uidls()) if uidls is None else set(uidls)
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

    def _set_marks(self, uidls: Iterable[str], marked: bool) -> None:
        with self._wake:
            self._pending_marks.append((frozenset(uidls), marked))
            self._wants.marks_changed = True
        self._poke()

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
        self._error(
            f"{exc}; reconnecting in {delay:.1f} s (attempt {self._failures + 1})",
            fatal=False, exc=exc,
        )
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

    def _hold_stalled(self) -> None:
        for msg in self._messages.values():
            if msg.state is MessageState.DOWNLOADING:
                self._set_state(msg, MessageState.STALLED, "waiting for the connection")

    def _resume_stalled(self) -> None:
        for msg in self._messages.values():
            if msg.state is MessageState.STALLED:
                self._set_state(msg, MessageState.QUEUED)

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



def _implements(engine: Engine) -> EngineAPI:
    """mypy proves here that Engine satisfies the Protocol the GUI is typed against."""
    return engine
