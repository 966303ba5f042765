"""The fetcher: one per account, one worker thread, commands in and plain events out.

Built from parts with one job each:

- :class:`~core.engine.intent.Intent` holds what the user wants (queue, pauses,
  cancels, marks, commit and disconnect requests) under its own lock; the public
  methods write there and return;
- :class:`~core.engine.messages.MessageTable` holds the list, and changes a message's
  state only through the table in :mod:`core.engine.lifecycle`;
- :mod:`core.engine.listing`, :mod:`core.engine.transfers` and :mod:`core.engine.marks`
  are session work: they talk to the server and return outcomes;
- :class:`~core.engine.worker.Worker` is the coordinator on its own thread: it folds
  the intent into the table, opens and ends sessions, runs session work, and with
  :class:`~core.engine.downloads.Downloads` applies the outcomes to the store and the
  table and decides blame by evidence (DESIGN rule 14);
- :class:`~core.engine.reporter.Reporter` turns what it learns into events,
  :class:`~core.engine.link.Link` lets a caller abort a connection, and
  :class:`~core.engine.idle.IdleState` says when there is nothing left to do;
- the :class:`Engine` below is the public API over them (:class:`EngineAPI`).

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

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.engine.api import EngineAPI, Listener, Stats
from core.engine.events import ConnectionState, ErrorOccurred, MessageInfo
from core.engine.idle import IdleState
from core.engine.intent import Intent
from core.engine.link import Link
from core.engine.messages import MessageTable
from core.engine.reporter import Reporter
from core.engine.retry import RetryPolicy
from core.engine.worker import Options, Worker
from core.store.local import Store

__all__ = ["Engine", "EngineAPI", "Listener", "RetryPolicy", "Stats"]


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
        self._store = store or Store(Path(account.maildir), account.state_dir())
        self._auto = auto_download
        link = Link()
        self._intent = Intent(on_stop=link.stop_requested)
        self._table = MessageTable(self._store.marks())
        self._idle = IdleState(lambda: self._intent.generation)
        self._report = Reporter(listener, self._table, transcript=transcript)
        self._stats = Stats()
        options = Options(
            retry=retry or RetryPolicy(),
            delete_after=(account.delete_after_fetch if delete_after_fetch is None
                          else delete_after_fetch),
            keepalive=keepalive, idle_end=idle_end, read_timeout=read_timeout,
            connect_timeout=connect_timeout, list_headers=list_headers,
        )
        self._worker = Worker(
            account, password, options, store=self._store, intent=self._intent,
            table=self._table, link=link, idle=self._idle, report=self._report,
            stats=self._stats,
        )
        self._thread: threading.Thread | None = None

    @property
    def account(self) -> Account:
        return self._worker.account

    @property
    def stats(self) -> Stats:
        return self._stats

    @property
    def state(self) -> ConnectionState:
        return self._report.state

    @property
    def last_error(self) -> ErrorOccurred | None:
        return self._report.last_error

    # -- the public API (any thread) ------------------------------------------------------

    def start(self) -> None:
        if self._auto:
            self._intent.download(None)
        else:
            self._intent.want(connect=True)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._worker.run, name=f"popfetch {self.account.key}", daemon=True
            )
            self._thread.start()

    def refresh(self) -> None:
        self._intent.want(refresh=True, retry=True)

    def download(self, uidls: Iterable[str] | None = None) -> None:
        self._intent.download(None if uidls is None else list(uidls))

    def resume(self, uidls: Iterable[str] | None = None) -> None:
        """None resumes every paused message, including partials left by an earlier run."""
        if uidls is None:
            targets = set(self._intent.paused()) | set(self._table.paused())
        else:
            targets = set(uidls)
        self.download(targets)

    def pause(self, uidls: Iterable[str] | None = None) -> None:
        self._intent.pause(None if uidls is None else list(uidls), self._table.active())

    def cancel(self, uidls: Iterable[str] | None = None) -> None:
        """Stop and forget the partial bytes (pause keeps them)."""
        self._intent.cancel(None if uidls is None else list(uidls), self._table.active())

    def mark(self, uidls: Iterable[str]) -> None:
        self._intent.mark(uidls, True)

    def unmark(self, uidls: Iterable[str]) -> None:
        self._intent.mark(uidls, False)

    def commit(self) -> None:
        """QUIT: the server deletes what is marked. The answer comes as CommitFinished."""
        self._intent.want(commit=True, retry=True)

    def disconnect(self) -> None:
        """End the session with QUIT, after RSET if marks were issued: nothing is deleted."""
        self._intent.disconnect()

    def retry_now(self) -> None:
        self._intent.want(retry=True)

    def update_account(self, account: Account) -> None:
        """New settings (a pinned certificate, another port ...) for the next connection."""
        self._worker.account = account
        self._intent.want(retry=True)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the worker within about a second, nothing deleted: an idle session ends
        with QUIT (RSET first with marks), a busy one is dropped; partials stay for next
        time. The store is closed when this returns (unless ``timeout`` ran out first)."""
        self._intent.shutdown()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        elif thread is None:
            self._worker.close()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the worker has nothing left to do (or stopped on an error), having
        seen every request made before this call."""
        return self._idle.wait(timeout)

    def messages(self) -> list[MessageInfo]:
        """A snapshot of the list (any thread)."""
        return self._table.snapshot()


def _implements(engine: Engine) -> EngineAPI:
    """mypy proves here that Engine satisfies the Protocol the GUI is typed against."""
    return engine
