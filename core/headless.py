"""Fetching configured accounts without a display: in parallel, once or on a schedule.

``popfetch fetch --account NAME … | --all [--max-size SIZE] [--every DURATION]``. Each
*check* of an account is one fresh session: log in, list, download what is new and not
over the size limit, mark what the leave-on-server rule selects, and QUIT (which commits
the marks; with none it just ends the session cleanly, DESIGN rule 15). Accounts run on
threads of their own, one connection each (POP3 locks the maildrop), so a slow server
does not hold up the others. With ``--every`` the :class:`~core.engine.scheduler.Scheduler`
says when each account checks next; SIGTERM ends the run, with exit 0, within 2 s.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    MessageState,
    MessageStateChanged,
)
from core.engine.retention import Retention, Rule, StoredCopy, retention_of, to_delete
from core.engine.scheduler import Scheduler
from core.errors import PopError
from core.store.forward import open_account_store
from core.store.local import Store
from core.text import sanitize
from core.units import format_size

__all__ = ["CheckResult", "FetchOptions", "Fetcher", "check"]

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2
POLL = 0.1  # how often a waiting check looks at the stop flag
STOP_GRACE = 1.5  # SIGTERM to exit: engines get this long to drop their sessions
# A sleeping scheduler wakes at least this often: Event.wait counts monotonic time, which
# stands still in suspend, so only a poll can notice that the wall clock jumped.
MAX_NAP = 5.0


@dataclass(frozen=True)
class FetchOptions:
    max_size: int | None = None  # octets; larger messages are listed, not downloaded
    retention: Retention | None = None  # None: each account's own rule
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    read_timeout: float = 60.0
    quiet: bool = False
    state_dir: Path | None = None  # one account only: where its state lives (--state-dir)
    discard_partials: bool = False  # forget partly downloaded messages first
    # --deliver: opens the account's store (a TargetStore) in its state directory
    open_store: Callable[[Account, Path], Store] | None = None

    def retention_for(self, account: Account) -> Retention:
        return self.retention if self.retention is not None else retention_of(account)

    def max_size_for(self, account: Account) -> int | None:
        return self.max_size if self.max_size is not None else account.max_size


@dataclass
class CheckResult:
    """What one check of one account did: the summary line and the exit status come from it."""

    name: str
    fetched: int = 0
    fetched_bytes: int = 0
    resumed: int = 0
    reconnects: int = 0
    deleted: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[int] = field(default_factory=list)  # LIST sizes of messages over the limit
    fatal: str | None = None
    commit_failed: str | None = None
    interrupted: bool = False
    login_delay: float | None = None  # the server's CAPA LOGIN-DELAY, for the schedule

    @property
    def status(self) -> int:
        if self.fatal is not None or self.commit_failed is not None or self.interrupted:
            return EXIT_ERROR
        return EXIT_SOME_FAILED if self.failed else EXIT_OK

    def summary(self) -> str:
        line = (
            f"popfetch: {self.name}: {self.fetched} messages "
            f"({self.fetched_bytes / 1e6:.1f} MB) fetched, {self.resumed} resumed, "
            f"{self.deleted} deleted, {len(self.failed)} failed"
        )
        if self.skipped:
            line += (
                f", {len(self.skipped)} skipped over the size limit "
                f"({format_size(sum(self.skipped))}, largest {format_size(max(self.skipped))})"
            )
        if self.reconnects:
            line += f", {self.reconnects} reconnects"
        if self.fatal is not None:
            line += f"; stopped: {sanitize(self.fatal)}"
        return line


class _Collector:
    """The engine's listener for one check: keeps what the summary needs, says problems."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name = name
        self.quiet = quiet
        self.failed: dict[str, str] = {}
        self.fatal: ErrorOccurred | None = None
        self.commit: CommitFinished | None = None
        self.ended = threading.Event()  # the session ended, by QUIT or for good
        self.login_delay: float | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, MessageStateChanged):
            if event.state is MessageState.FAILED:
                self.failed[event.uidl] = event.detail
                self._say(f"{event.uidl}: {event.detail}")
            elif event.state is MessageState.STORED:
                self.failed.pop(event.uidl, None)
        elif isinstance(event, ErrorOccurred):
            if event.fatal:
                self.fatal = event
            if event.fatal or event.left_on_server or not self.quiet:
                self._say(event.message)
        elif isinstance(event, CommitFinished):
            self.commit = event
        elif isinstance(event, ConnectionChanged):
            if event.login_delay is not None:
                self.login_delay = event.login_delay
            if event.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
                self.ended.set()

    def _say(self, text: str) -> None:
        # Server text (a UIDL, an -ERR line) is untrusted: escaped and cut (DESIGN rule 16).
        print(f"popfetch: {self.name}: {sanitize(text)}", file=sys.stderr, flush=True)


def _wait(engine: Engine, collector: _Collector, stop: threading.Event) -> bool:
    """Until the engine is idle (True), or stopped on an error or by us (False)."""
    while not engine.wait_idle(POLL):
        if stop.is_set() or collector.fatal is not None:
            return False
    return not stop.is_set() and collector.fatal is None


def check(
    account: Account,
    password: str | TokenSource,
    options: FetchOptions,
    stop: threading.Event,
    *,
    now: Callable[[], float] = time.time,
    started: Callable[[Engine], None] = lambda engine: None,
) -> CheckResult:
    """One session with ``account`` (see the module docstring). ``now`` is the wall clock
    the leave-on-server rule reads (tests move it days ahead); ``started`` receives the
    engine, so that a signal handler can shut it down."""
    name = account.display_name
    result = CheckResult(name)
    collector = _Collector(name, options.quiet)
    try:
        state_dir = options.state_dir or account.state_dir()
        if options.open_store is not None:
            store = options.open_store(account, state_dir)
        else:
            store = open_account_store(account, state_dir, timeout=options.read_timeout)
        if options.discard_partials:
            store.discard_partials()
    except (PopError, OSError) as exc:
        result.fatal = str(exc)
        collector(ErrorOccurred(str(exc), fatal=True))
        return result
    engine = Engine(
        account,
        password=lambda: password,
        listener=collector,
        store=store,
        retry=options.retry,
        auto_download=False,  # we choose: the size limit decides what is fetched
        delete_after_fetch=False,  # the leave-on-server rule decides what is deleted
        read_timeout=options.read_timeout,
        transcript=False,
        list_headers=False,
    )
    started(engine)
    try:
        engine.start()
        if _wait(engine, collector, stop):
            _download(engine, collector, options.max_size_for(account), result, stop)
        if not stop.is_set() and collector.fatal is None:
            collector.ended.clear()
            if _apply_retention(engine, store, options.retention_for(account), now()):
                engine.commit()  # QUIT: the server deletes what is marked
            else:
                engine.disconnect()  # QUIT after RSET: the session ends, nothing deleted
            while not collector.ended.wait(POLL):
                if stop.is_set() or collector.fatal is not None:
                    break
    finally:
        engine.shutdown(timeout=STOP_GRACE if stop.is_set() else 10.0)
    stats = engine.stats
    result.fetched, result.fetched_bytes = stats.fetched, stats.fetched_bytes
    result.resumed, result.reconnects = stats.resumed, stats.reconnects
    result.failed = dict(collector.failed)
    result.login_delay = collector.login_delay
    result.interrupted = stop.is_set() and collector.commit is None
    if collector.fatal is not None:
        result.fatal = collector.fatal.message
    if collector.commit is not None:
        result.deleted = len(collector.commit.deleted)
        if not collector.commit.ok:
            result.commit_failed = collector.commit.text
    return result


def _download(engine: Engine, collector: _Collector, max_size: int | None,
              result: CheckResult, stop: threading.Event) -> None:
    wanted: list[str] = []
    for info in engine.messages():
        if info.state in (MessageState.STORED, MessageState.GONE):
            continue
        if max_size is not None and info.size > max_size:
            result.skipped.append(info.size)
        else:
            wanted.append(info.uidl)
    if wanted:
        engine.download(wanted)
        _wait(engine, collector, stop)


def _apply_retention(engine: Engine, store: Store, retention: Retention, now: float) -> bool:
    """Mark what the rule selects, for the commit that follows (two-stage deletion).

    False for "keep": then the session ends without a commit, so that marks the user left
    journalled in the app are not committed behind their back.
    """
    if retention.rule is Rule.KEEP:
        return False
    on_server = [m.uidl for m in engine.messages() if m.state is not MessageState.GONE]
    copies: dict[str, StoredCopy] = {}
    for uidl in on_server:
        entry = store.state.stored(uidl)
        if entry is not None:
            copies[uidl] = StoredCopy(entry.stored_at, store.has_copy(uidl))
    chosen = to_delete(retention, on_server, copies, now)
    if chosen:
        engine.mark(chosen)
    return True


class Fetcher:
    """Runs checks of several accounts in parallel, once (:meth:`once`) or on a schedule
    (:meth:`every`); :meth:`stop` (from a signal handler) ends either promptly."""

    def __init__(self, accounts: Sequence[tuple[Account, str | TokenSource]],
                 options: FetchOptions) -> None:
        self.accounts = list(accounts)
        self.options = options
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._engines: set[Engine] = set()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """Safe in a signal handler: sets flags, and asks running engines to stop (no wait)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            engines = list(self._engines)
        for engine in engines:
            engine.shutdown(timeout=0)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def _check(self, account: Account, password: str | TokenSource) -> CheckResult:
        mine: list[Engine] = []

        def started(engine: Engine) -> None:
            mine.append(engine)
            with self._lock:
                self._engines.add(engine)
            if self._stop.is_set():
                engine.shutdown(timeout=0)

        try:
            result = check(account, password, self.options, self._stop, started=started)
        finally:
            with self._lock:
                self._engines.difference_update(mine)
        print(result.summary(), flush=True)
        return result

    def once(self) -> int:
        """Every account checked once, all at the same time; the worst exit status."""
        with ThreadPoolExecutor(max_workers=len(self.accounts) or 1) as pool:
            futures = [pool.submit(self._check, a, pw) for a, pw in self.accounts]
            results = [f.result() for f in futures]
        return max((r.status for r in results), default=EXIT_OK)

    def every(self, interval: float, scheduler: Scheduler | None = None) -> int:
        """Check each account every ``interval`` seconds until :meth:`stop`; exit 0 then."""
        scheduler = scheduler or Scheduler()
        by_key = {a.key: (a, pw) for a, pw in self.accounts}
        for key in by_key:
            scheduler.add(key, interval)
        with ThreadPoolExecutor(max_workers=len(by_key) or 1) as pool:
            while not self._stop.is_set():
                for due in scheduler.poll():
                    account, password = by_key[due.account]
                    future = pool.submit(self._check, account, password)
                    future.add_done_callback(partial(self._done, scheduler, due.account))
                nap = scheduler.next_wakeup()
                self._wake.wait(MAX_NAP if nap is None else min(nap, MAX_NAP))
                self._wake.clear()
            pool.shutdown(wait=True, cancel_futures=True)
        return EXIT_OK

    def _done(self, scheduler: Scheduler, key: str, future: Future[CheckResult]) -> None:
        if not future.cancelled() and future.exception() is None:
            scheduler.set_login_delay(key, future.result().login_delay)
        scheduler.finished(key)
        self._wake.set()
