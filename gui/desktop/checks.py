"""Checks for mail by themselves: the :class:`~core.engine.scheduler.Scheduler` driven by a
Qt timer, acting on the runners of the app's :class:`~gui.registry.RunnerRegistry`.

A check is the runner's refresh (a fresh session: only a new login sees new mail); it
ends when the new list arrives, or when the account stops on an error. Each account's
interval is its ``check_every`` setting; the network coming back (``QNetworkInformation``)
and a resume from suspend (the scheduler sees the wall clock jump) check every account.
With ``auto_download`` the new messages are downloaded, except those over the account's
``max_size``, which stay listed (headers only) until the user asks for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtNetwork import QNetworkInformation

from core.engine.events import ConnectionChanged, ConnectionState, ListLoaded, MessageState
from core.engine.retention import Rule, StoredCopy, retention_of, to_delete
from core.engine.scheduler import Due, Reason, Scheduler
from core.store.catalog import StoredEntry, read_catalog
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner
from gui.tasks import BackgroundTask

__all__ = ["ScheduledChecks"]

MAX_NAP_MS = 5000  # wake at least this often: only a poll notices a resume from suspend


class ScheduledChecks(QObject):
    """Starts each account's checks on time; the app owns one."""

    checkStarted = Signal(object, object)  # AccountRunner, Due (for the log)
    downloading = Signal(object, int, int)  # AccountRunner, started, left over the size limit
    retaining = Signal(object, object, bool)  # AccountRunner, marked UIDLs, committed
    problem = Signal(object, str)  # AccountRunner, what went wrong (for the log)

    def __init__(self, registry: RunnerRegistry, parent: QObject | None = None, *,
                 scheduler: Scheduler | None = None, watch_network: bool = True,
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(parent)
        self.scheduler = scheduler or Scheduler()
        self._now = now  # the wall clock the leave-on-server rules read
        self._registry = registry
        self._runners: dict[str, AccountRunner] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.poll)
        registry.added.connect(self._added)
        registry.removed.connect(self._removed)
        registry.changed.connect(self._changed)
        for runner in registry:
            self._added(runner)
        self._network: QNetworkInformation | None = None
        if watch_network and QNetworkInformation.loadBackendByFeatures(
                QNetworkInformation.Feature.Reachability):
            self._network = QNetworkInformation.instance()
            self._network.reachabilityChanged.connect(self._reachability)

    @staticmethod
    def _key(runner: AccountRunner) -> str:
        return f"{id(runner):x}"  # two runners may serve one account key (the demo)

    # -- the registry --------------------------------------------------------------------

    @Slot(object, int)
    def _added(self, runner: AccountRunner, _index: int = 0) -> None:
        key = self._key(runner)
        self._runners[key] = runner
        # The app connects each account at start: the first scheduled check is one
        # interval later.
        self.scheduler.add(key, runner.account.check_every, check_first=False)
        runner.bridge.listLoaded.connect(self._list_loaded)
        runner.connectionChanged.connect(self._connection)
        self._rearm()

    @Slot(object, int)
    def _removed(self, runner: AccountRunner, _index: int) -> None:
        key = self._key(runner)
        self._runners.pop(key, None)
        self.scheduler.remove(key)  # its late signals find no key: ignored

    @Slot(object)
    def _changed(self, runner: AccountRunner) -> None:
        key = self._key(runner)
        if key in self._runners:
            self.scheduler.set_interval(key, runner.account.check_every)
            self._rearm()

    # -- checks --------------------------------------------------------------------------

    def check_all(self) -> None:
        """"Check now" for every account (the tray's menu)."""
        for key in self._runners:
            self.scheduler.check_now(key)
        self.poll()

    @Slot()
    def poll(self) -> None:
        for due in self.scheduler.poll():
            runner = self._runners[due.account]
            if due.reason is not Reason.MANUAL and self._waits_for_user(runner):
                # Stopped on a refused password or an untrusted certificate: asking the
                # server again by itself would only repeat that (DESIGN rule 8).
                self.scheduler.finished(due.account)
                continue
            self.checkStarted.emit(runner, due)
            runner.refresh()
        self._rearm()

    @staticmethod
    def _waits_for_user(runner: AccountRunner) -> bool:
        return runner.needs_password or runner.connection.state is ConnectionState.FAILED

    def _rearm(self) -> None:
        nap = self.scheduler.next_wakeup()
        ms = MAX_NAP_MS if nap is None else min(MAX_NAP_MS, int(nap * 1000) + 1)
        self._timer.start(ms)

    def _runner_key(self, sender: QObject | None) -> str | None:
        return next((k for k, r in self._runners.items() if r is sender or r.bridge is sender),
                    None)

    @Slot(object)
    def _list_loaded(self, event: ListLoaded) -> None:
        key = self._runner_key(self.sender())
        if key is None:
            return
        self.scheduler.finished(key)
        runner = self._runners[key]
        account = runner.account
        if account.auto_download:
            new = [m for m in event.messages if m.state is MessageState.REMOTE]
            limit = account.max_size
            wanted = [m.uidl for m in new if limit is None or m.size <= limit]
            if wanted:
                runner.download(wanted)
            if new:
                self.downloading.emit(runner, len(wanted), len(new) - len(wanted))
        if Rule(account.leave_on_server) is not Rule.KEEP:
            self._apply_rule(runner, [m.uidl for m in event.messages])
        self._rearm()

    def _apply_rule(self, runner: AccountRunner, on_server: list[str]) -> None:
        """Mark what the account's leave-on-server rule selects among its stored messages
        (read from the store off the GUI thread), and commit, unless the user has marks of
        their own waiting: their commit is theirs to make, and the rule's marks join it."""
        account = runner.account
        state_dir = runner.state_dir
        task = BackgroundTask(lambda: read_catalog(account.maildir_path(), state_dir),
                              on_error=lambda exc: self.problem.emit(
                                  runner, f"leave-on-server rule not applied: {exc}"),
                              parent=self,
                              name=f"rule {account.key}")

        def decide(entries: list[StoredEntry]) -> None:
            if self._runner_key(runner) is None:
                return  # removed meanwhile
            copies = {e.uidl: StoredCopy(e.stored_at, bool(e.path)) for e in entries}
            chosen = to_delete(retention_of(account), on_server, copies, self._now())
            chosen -= set(runner.model.marked_uidls())
            if not chosen:
                return
            waiting = bool(runner.model.marked_uidls())
            runner.mark(chosen)
            if not waiting:
                runner.commit()
            self.retaining.emit(runner, frozenset(chosen), not waiting)

        task.done.connect(decide)
        task.start()

    @Slot(object)
    def _connection(self, event: ConnectionChanged) -> None:
        key = self._runner_key(self.sender())
        if key is None:
            return
        if event.login_delay is not None:
            self.scheduler.set_login_delay(key, event.login_delay)
        if event.state is ConnectionState.FAILED:  # stopped for the user: this check is over
            self.scheduler.finished(key)
            self._rearm()

    @Slot(QNetworkInformation.Reachability)
    def _reachability(self, reachability: QNetworkInformation.Reachability) -> None:
        if reachability is QNetworkInformation.Reachability.Online:
            self.scheduler.network_up()
            self.poll()

    def stop(self) -> None:
        self._timer.stop()


def describe(due: Due) -> str:
    """For the log: why this check ran."""
    return f"checking for mail ({due.reason.value})"
