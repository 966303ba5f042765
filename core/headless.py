"""Every ``popfetch fetch`` runs here: one account or several, once or on a schedule.

``popfetch fetch --host … | --account NAME … | --all [--max-size SIZE] [--every DURATION]``.
Each *check* of an account is one fresh session: log in, list, download what is new and not
over the size limit, mark what the leave-on-server rule selects, and QUIT (which commits
the marks; with none it just ends the session cleanly, DESIGN rule 15). Accounts run on
threads of their own, one connection each (POP3 locks the maildrop), so a slow server
does not hold up the others. With ``--every`` the :class:`~core.engine.scheduler.Scheduler`
says when each account checks next.

The rules of a run, each written once: the summary line (:meth:`CheckResult.summary`), the
exit status (:attr:`CheckResult.status`), the interrupt (:func:`stop_status`), and the
wait for the engine (:func:`_until`, bounded and interruptible).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.cliparser import EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    Event,
    MessageState,
    MessageStateChanged,
    Progress,
)
from core.engine.retention import Retention, Rule, StoredCopy, retention_of, to_delete
from core.engine.scheduler import Scheduler
from core.errors import PopError
from core.store.forward import open_account_store
from core.store.local import Store
from core.text import sanitize
from core.units import format_size

__all__ = ["CheckResult", "FetchOptions", "Fetcher", "check", "stop_status"]

POLL = 0.1  # how often a waiting check looks at the stop flag
STOP_GRACE = 1.5  # SIGTERM to exit: engines get this long to drop their sessions
END_GRACE = 10.0  # a check that ran to its end: the engine's worker gets this long to stop
# A sleeping scheduler wakes at least this often: Event.wait counts monotonic time, which
# stands still in suspend, so only a poll can notice that the wall clock jumped.
MAX_NAP = 5.0
SHOWN = 500  # characters of one reported line (server text is cut, DESIGN rule 16)


@dataclass(frozen=True)
class FetchOptions:
    max_size: int | None = None  # octets; larger messages are listed, not downloaded
    retention: Retention | None = None  # None: each account's own rule
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    read_timeout: float = 60.0
    connect_timeout: float = 30.0  # connect, TLS handshake, greeting
    quiet: bool = False
    state_dir: Path | None = None  # one account only: where its state lives (--state-dir)
    discard_partials: bool = False  # forget partly downloaded messages first
    # --deliver: opens the account's store (a TargetStore) in its state directory
    open_store: Callable[[Account, Path], Store] | None = None
    named: bool = True  # lines start with the account's name (False: one account, from flags)
    progress: bool = False  # a progress line per message (one account, on a terminal)

    def retention_for(self, account: Account) -> Retention:
        return self.retention if self.retention is not None else retention_of(account)

    def max_size_for(self, account: Account) -> int | None:
        return self.max_size if self.max_size is not None else account.max_size


@dataclass
class CheckResult:
    """What one check of one account did: the summary line and the exit status come from it."""

    name: str
    named: bool = True
    fetched: int = 0
    fetched_bytes: int = 0  # octets received of the stored messages (not LIST sizes)
    resent: int = 0  # octets received again after a drop
    resumed: int = 0
    reconnects: int = 0
    deleted: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    suspect: int = 0  # of the failed: copies kept under a suspect mark (DESIGN rule 13)
    left: int = 0  # left on the server by the listing: a duplicate UIDL, no LIST entry ...
    skipped: list[int] = field(default_factory=list)  # LIST sizes of messages over the limit
    fatal: str | None = None
    commit_failed: str | None = None
    interrupted: bool = False
    login_delay: float | None = None  # the server's CAPA LOGIN-DELAY, for the schedule

    @property
    def status(self) -> int:
        """2: stopped (an error, a refused commit, an interrupt); 1: some message failed or
        was left on the server; 0: all done (messages over --max-size are not a failure)."""
        if self.fatal is not None or self.commit_failed is not None or self.interrupted:
            return EXIT_ERROR
        return EXIT_SOME_FAILED if self.failed or self.left else EXIT_OK

    @property
    def says_nothing(self) -> bool:
        """Stopped by an error before anything happened: the error line says it all, and
        "0 messages fetched" would mislead."""
        return self.fatal is not None and not (self.fetched or self.deleted or self.failed)

    def summary(self) -> str:
        who = f"{self.name}: " if self.named else ""
        line = (
            f"popfetch: {who}{self.fetched} messages "
            f"({self.fetched_bytes / 1e6:.1f} MB) fetched, {self.resumed} resumed, "
            f"{self.deleted} deleted, {len(self.failed)} failed"
        )
        if self.suspect:
            line += f", {self.suspect} suspect copies kept"
        if self.skipped:
            line += (
                f", {len(self.skipped)} skipped over the size limit "
                f"({format_size(sum(self.skipped))}, largest {format_size(max(self.skipped))})"
            )
        if self.left:
            line += f", {self.left} left on the server"
        if self.reconnects:
            line += f", {self.reconnects} reconnects"
        if self.resent:
            line += f", {self.resent} octets sent again"
        if self.fatal is not None:
            line += f"; stopped: {sanitize(self.fatal, SHOWN)}"
        return line


class _Reporter:
    """The engine's listener for one check: says problems on stderr (and progress, on a
    terminal), and keeps what the summary needs."""

    def __init__(self, name: str, options: FetchOptions) -> None:
        self.prefix = f"popfetch: {name}: " if options.named else "popfetch: "
        self.quiet = options.quiet
        self.progress = options.progress
        self.failed: dict[str, str] = {}
        self.fatal: ErrorOccurred | None = None
        self.commit: CommitFinished | None = None
        self.committed = threading.Event()  # CommitFinished arrived
        self.ended = threading.Event()  # the session ended, by QUIT or for good
        self.login_delay: float | None = None
        self._mid_line = False  # a progress line waits for its end
        self._lock = threading.Lock()  # several engine threads may report at once

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._handle(event)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Progress):
            if self.progress and not self.quiet and event.total:
                pct = 100 * event.received / event.total
                self._write(f"\r  {sanitize(event.uidl)[:30]:30} {pct:5.1f}% "
                            f"{event.rate / 1e6:7.1f} MB/s", mid_line=True)
        elif isinstance(event, MessageStateChanged):
            if event.state is MessageState.FAILED:
                self.failed[event.uidl] = event.detail
                self.say(f"{event.uidl}: {event.detail}")
            elif event.state is MessageState.STORED:
                self.failed.pop(event.uidl, None)
                if self._mid_line:
                    self._write(f"\r  {sanitize(event.uidl)[:30]:30} stored{' ' * 20}\n")
        elif isinstance(event, ErrorOccurred):
            if event.fatal:
                self.fatal = event
            if event.fatal or event.left_on_server or not self.quiet:
                self.say(event.message)
        elif isinstance(event, CommitFinished):
            self.commit = event
            self.committed.set()
        elif isinstance(event, ConnectionChanged):
            if event.login_delay is not None:
                self.login_delay = event.login_delay
            if event.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
                self.ended.set()

    def say(self, text: str) -> None:
        # Server text (a UIDL, an -ERR line) is untrusted: escaped and cut (DESIGN rule 16).
        self._write(f"{self.prefix}{sanitize(text, SHOWN)}\n")

    def _write(self, text: str, *, mid_line: bool = False) -> None:
        if self._mid_line and not text.startswith("\r"):
            text = "\n" + text  # below the progress line, not over it
        self._mid_line = mid_line
        sys.stderr.write(text)
        sys.stderr.flush()


def _until(done: Callable[[float], bool], reporter: _Reporter, stop: threading.Event) -> bool:
    """Every wait of a check: until ``done(POLL)`` holds (True), or a stop or a fatal error
    (False). Each wait on the engine is bounded by POLL, so that neither an engine that
    never reports idle nor a lost event can hold the run past a SIGTERM."""
    while not done(POLL):
        if stop.is_set() or reporter.fatal is not None:
            return False
    return not stop.is_set() and reporter.fatal is None


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
    result = CheckResult(name, options.named)
    reporter = _Reporter(name, options)
    try:
        state_dir = options.state_dir or account.state_dir()
        if options.open_store is not None:
            store = options.open_store(account, state_dir)
        else:
            store = open_account_store(account, state_dir, timeout=options.read_timeout)
        if options.discard_partials:
            dropped = store.discard_partials()
            if dropped and not options.quiet:
                reporter.say(f"discarded {dropped} partial download(s)")
    except (PopError, OSError) as exc:
        result.fatal = str(exc)
        reporter(ErrorOccurred(str(exc), fatal=True))
        return result
    engine = Engine(
        account,
        password=lambda: password,
        listener=reporter,
        store=store,
        retry=options.retry,
        auto_download=False,  # we choose: the size limit decides what is fetched
        delete_after_fetch=False,  # the leave-on-server rule decides what is deleted
        read_timeout=options.read_timeout,
        connect_timeout=options.connect_timeout,
        transcript=False,
        list_headers=False,
    )
    started(engine)
    try:
        engine.start()
        if _until(engine.wait_idle, reporter, stop):
            _download(engine, reporter, options.max_size_for(account), result, stop)
        if not stop.is_set() and reporter.fatal is None:
            reporter.ended.clear()
            if _apply_retention(engine, store, options.retention_for(account), now()):
                engine.commit()  # QUIT: the server deletes what is marked
                _until(reporter.committed.wait, reporter, stop)
            else:
                engine.disconnect()  # QUIT after RSET: the session ends, nothing deleted
                _until(reporter.ended.wait, reporter, stop)
    finally:
        engine.shutdown(timeout=STOP_GRACE if stop.is_set() else END_GRACE)
    stats = engine.stats
    result.fetched, result.fetched_bytes = stats.fetched, stats.fetched_bytes
    result.resent = max(stats.received_bytes - stats.fetched_bytes, 0)
    result.resumed, result.reconnects = stats.resumed, stats.reconnects
    result.suspect, result.left = stats.suspect, stats.skipped
    result.failed = dict(reporter.failed)
    result.login_delay = reporter.login_delay
    result.interrupted = stop.is_set() and reporter.commit is None
    if reporter.fatal is not None:
        result.fatal = reporter.fatal.message
    if reporter.commit is not None:
        result.deleted = len(reporter.commit.deleted)
        if not reporter.commit.ok:
            result.commit_failed = reporter.commit.text
    return result


def _download(engine: Engine, reporter: _Reporter, max_size: int | None,
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
        _until(engine.wait_idle, reporter, stop)


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


def stop_status(every: float | None) -> int:
    """The exit status of a run that SIGTERM or SIGINT ended. A stop cuts a one-shot run
    short: 2, partial downloads kept for the next run (issue 7). It is how a run on a
    schedule (``every``) is meant to end: 0 (issue 11)."""
    return EXIT_OK if every is not None else EXIT_ERROR


def _worst(results: Sequence[CheckResult]) -> int:
    """A run's exit status: its worst check's (0 with no account)."""
    return max((r.status for r in results), default=EXIT_OK)


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
        self._checked: set[str] = set()  # accounts checked before (under _lock)

    def run(self, every: float | None = None) -> int:
        """``popfetch fetch``, once or on a schedule (``every``, seconds): the exit status.
        SIGTERM and SIGINT call :meth:`stop`; :func:`stop_status` says what a stop exits with."""
        old_int = signal.signal(signal.SIGINT, lambda *_: self.stop())
        old_term = signal.signal(signal.SIGTERM, lambda *_: self.stop())
        try:
            if every is not None:
                self.every(every)  # returns on a stop only
                return stop_status(every)
            results = self._once()
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
        if any(r.interrupted for r in results):
            print("popfetch: interrupted; partial downloads are kept for the next run",
                  file=sys.stderr, flush=True)
            return stop_status(every)
        return _worst(results)

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

        with self._lock:
            again = account.key in self._checked
            self._checked.add(account.key)
        # --discard-partials is for the run's start: a later check resumes what the one
        # before it left, as any run does.
        options = replace(self.options, discard_partials=False) if again else self.options
        try:
            result = check(account, password, options, self._stop, started=started)
        finally:
            with self._lock:
                self._engines.difference_update(mine)
        if not result.says_nothing:
            print(result.summary(), flush=True)
        return result

    def once(self) -> int:
        """Every account checked once, all at the same time; the worst exit status."""
        return _worst(self._once())

    def _once(self) -> list[CheckResult]:
        with ThreadPoolExecutor(max_workers=len(self.accounts) or 1) as pool:
            futures = [pool.submit(self._check, a, pw) for a, pw in self.accounts]
            return [f.result() for f in futures]

    def every(self, interval: float, scheduler: Scheduler | None = None) -> None:
        """Check each account every ``interval`` seconds until :meth:`stop`."""
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

    def _done(self, scheduler: Scheduler, key: str, future: Future[CheckResult]) -> None:
        if not future.cancelled() and future.exception() is None:
            scheduler.set_login_delay(key, future.result().login_delay)
        scheduler.finished(key)
        self._wake.set()
