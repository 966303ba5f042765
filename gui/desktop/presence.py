"""The app on the desktop: the tray icon and new-mail notifications, fed by the registry.

New mail is what a later list of an account shows that an earlier one did not (the first
list after start is the baseline: mail already waiting then is not "new"). It is counted
on the tray icon until the window is activated, and announced through the notification
service unless the window has focus. A click on a notification, or "Open popfetch" in
the tray's menu, brings the window forward (at that message).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSettings, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

from core.engine.events import ConnectionState, ListLoaded, MessageState
from core.engine.retention import retention_of
from core.engine.scheduler import Due
from gui.desktop import autostart
from gui.desktop.checks import ScheduledChecks, describe
from gui.desktop.notifications import NewMail, Notifier
from gui.desktop.tray import Tray, TrayState, TrayStatus
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner

__all__ = ["DesktopPresence"]

CLOSE_KEY = "desktop/close_to_tray"  # "tray" or "quit": the answer, asked once
BUSY = (ConnectionState.CONNECTING, ConnectionState.CONNECTED, ConnectionState.RECONNECTING,
        ConnectionState.COMMITTING)


class DesktopPresence(QObject):
    """Owns the tray icon, the notifier and the scheduled checks for one window."""

    def __init__(
        self,
        registry: RunnerRegistry,
        window: QWidget,
        *,
        open_message: Callable[[AccountRunner, str], None],
        note: Callable[[str, str], None],
        report: Callable[[str, str], None],
        settings: QSettings | None = None,
        checks: ScheduledChecks | None = None,
        notifier: Notifier | None = None,
        tray: Tray | None = None,
        tray_available: Callable[[], bool] = Tray.available,
    ) -> None:
        super().__init__(window)
        self._registry = registry
        self._window = window
        self._open_message = open_message
        self._note = note
        self._report = report
        self.checks = checks or ScheduledChecks(registry, self)
        self.notifier = notifier or Notifier(self, quiet=window.isActiveWindow)
        self.tray = tray or Tray(self, autostart=autostart.is_enabled())
        self._settings = settings
        self._tray_available = tray_available
        self._seen: dict[AccountRunner, set[str]] = {}
        self.new_count = 0
        self.quitting = False  # "Quit popfetch" from the tray: closing really quits

        registry.added.connect(self._added)
        registry.removed.connect(self._removed)
        registry.changed.connect(self._update_tray)
        for runner in registry:
            self._added(runner)
        self.checks.checkStarted.connect(self._check_started)
        self.checks.downloading.connect(self._downloading)
        self.checks.retaining.connect(self._retaining)
        self.checks.problem.connect(lambda runner, text: self._note(runner.name, text))
        self.notifier.activated.connect(self._activated)
        self.notifier.unavailable.connect(lambda reason: self._note("popfetch", reason))
        self.tray.open_requested.connect(self.bring_forward)
        self.tray.check_requested.connect(self.checks.check_all)
        self.tray.autostart_toggled.connect(self._autostart)
        self.tray.quit_requested.connect(self.quit)
        window.installEventFilter(self)
        self._update_tray()
        if tray_available():
            self.tray.show()

    @Slot()
    def quit(self) -> None:
        self.quitting = True
        self._window.close()

    def keep_running_in_tray(self) -> bool:
        """Asked when the window closes: hide it and go on checking in the tray? Asked
        once (the answer is remembered); never without a tray, never after "Quit"."""
        if self.quitting or not self._tray_available():
            return False
        answer = self._settings.value(CLOSE_KEY, "") if self._settings is not None else ""
        if answer not in ("tray", "quit"):
            answer = "tray" if self._ask_close() else "quit"
            if self._settings is not None:
                self._settings.setValue(CLOSE_KEY, answer)
        return answer == "tray"

    def _ask_close(self) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Keep popfetch running?",
                          "Keep popfetch running in the tray when its window is closed?",
                          parent=self._window)
        box.setObjectName("closeToTray")
        box.setInformativeText("It goes on checking for mail and tells you when some "
                               "arrives. Quit from the tray icon's menu. You are asked once.")
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep)
        box.exec()
        return box.clickedButton() is keep

    def close(self) -> None:
        self.checks.stop()
        self.notifier.close()
        self.tray.hide()

    # -- the registry --------------------------------------------------------------------

    @Slot(object, int)
    def _added(self, runner: AccountRunner, _index: int = 0) -> None:
        runner.bridge.listLoaded.connect(self._list_loaded)
        runner.connectionChanged.connect(self._update_tray)

    @Slot(object, int)
    def _removed(self, runner: AccountRunner, _index: int) -> None:
        # Its signals may still come while it stops: the slots look it up in the registry.
        self._seen.pop(runner, None)
        self._update_tray()

    @Slot(object)
    def _list_loaded(self, event: ListLoaded) -> None:
        runner = next((r for r in self._registry if r.bridge is self.sender()), None)
        if runner is None:
            return
        listed = {m.uidl for m in event.messages}
        seen = self._seen.get(runner)
        self._seen[runner] = listed | (seen or set())
        if seen is None:
            return  # the first list is the baseline
        fresh = [m for m in event.messages
                 if m.uidl not in seen and m.state is not MessageState.STORED]
        if not fresh:
            return
        self.new_count += len(fresh)
        self._note(runner.name, f"{len(fresh)} new message{'s' if len(fresh) != 1 else ''}")
        self.notifier.announce([NewMail(self._key(runner), m.uidl, m.sender, m.subject)
                                for m in fresh])
        self._update_tray()

    @staticmethod
    def _key(runner: AccountRunner) -> str:
        return f"{id(runner):x}"

    # -- the tray ------------------------------------------------------------------------

    @Slot()
    def _update_tray(self, *_: object) -> None:
        runners = self._registry.runners()
        failed = [r for r in runners
                  if r.connection.state is ConnectionState.FAILED or r.needs_password]
        if failed:
            status = TrayStatus(TrayState.ERROR, self.new_count,
                                f"{failed[0].name}: {failed[0].status_text()}")
        elif any(r.connection.state in BUSY for r in runners):
            status = TrayStatus(TrayState.FETCHING, self.new_count)
        else:
            status = TrayStatus(TrayState.IDLE, self.new_count)
        if status != self.tray.status:
            self.tray.set_status(status)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() is QEvent.Type.WindowActivate \
                and self.new_count:
            self.new_count = 0  # the user is looking
            self._update_tray()
        return False

    @Slot()
    def bring_forward(self) -> None:
        window = self._window
        if window.isMinimized():
            window.showNormal()
        window.show()
        window.raise_()
        window.activateWindow()

    @Slot(object)
    def _activated(self, mail: NewMail) -> None:
        self.bring_forward()
        runner = next((r for r in self._registry if self._key(r) == mail.account), None)
        if runner is not None:
            self._open_message(runner, mail.uidl)

    @Slot(bool)
    def _autostart(self, on: bool) -> None:
        try:
            if on:
                autostart.enable()
            else:
                autostart.disable()
        except OSError as exc:
            self._report("Start at login", f"Could not change the autostart entry: {exc}")
            self.tray.autostart_action.setChecked(autostart.is_enabled())

    # -- the log -------------------------------------------------------------------------

    @Slot(object, object)
    def _check_started(self, runner: AccountRunner, due: Due) -> None:
        self._note(runner.name, describe(due))

    @Slot(object, object, bool)
    def _retaining(self, runner: AccountRunner, uidls: frozenset[str], committed: bool) -> None:
        rule = retention_of(runner.account).describe()
        text = f"{rule}: {len(uidls)} marked"
        text += ", committing" if committed else "; they go with your next commit"
        self._note(runner.name, text)

    @Slot(object, int, int)
    def _downloading(self, runner: AccountRunner, started: int, over: int) -> None:
        text = f"downloading {started} new message{'s' if started != 1 else ''}"
        if over:
            text += f"; {over} over the size limit left on the server until asked for"
        self._note(runner.name, text)
