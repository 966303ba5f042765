"""Quitting with work pending: ask, and optionally commit every account before closing.

Marked messages are deleted only on commit and transfers stop on quit, so the window
asks first (a dialog that does not block); "Commit and quit" waits for every account's
commit report (or 30 s) and then closes for real.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QAbstractButton, QMessageBox

from gui import fmt
from gui.host import Host
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner
from gui.window.commands import messages

COMMIT_WAIT_MS = 30_000


class CloseGuard(QObject):
    """Decides whether the window may close now; ``really_close`` skips the question."""

    def __init__(self, registry: RunnerRegistry, host: Host, close: Callable[[], object],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._host = host
        self._close = close
        self.really_close = False
        self._closing_after_commit: set[AccountRunner] = set()
        self._asking: QMessageBox | None = None

    def pending_summary(self) -> tuple[int, int, int]:
        """(marked messages, their octets, active transfers) over every account."""
        marked = octets = active = 0
        for runner in self._registry:
            t = runner.model.totals()
            marked += t.marked
            octets += t.marked_bytes
            active += t.active
        return marked, octets, active

    def may_close(self) -> bool:
        """True to close now; False while the user is asked (the answer closes or not)."""
        if self.really_close:
            return True
        marked, octets, active = self.pending_summary()
        if not (marked or active):
            return True
        if self._asking is None:
            self._ask(marked, octets, active)
        return False

    def _answered(self, button: QAbstractButton) -> None:
        box = self._asking
        self._asking = None
        if box is None:
            return
        choice = box.standardButton(button)
        if choice == QMessageBox.StandardButton.Save:
            self._closing_after_commit = {
                r for r in self._registry if r.model.totals().marked}
            for runner in self._closing_after_commit:
                runner.commit()
            self._host.show_status("Committing before quitting…")
            QTimer.singleShot(COMMIT_WAIT_MS, self._force_close)
        elif choice == QMessageBox.StandardButton.Discard:
            self.really_close = True
            self._close()

    def commit_finished(self, runner: AccountRunner) -> bool:
        """True if this commit was one the window waits for to quit (then no report box)."""
        if runner not in self._closing_after_commit:
            return False
        self._closing_after_commit.discard(runner)
        if not self._closing_after_commit:
            self.really_close = True
            QTimer.singleShot(0, self._close)
        return True

    def _force_close(self) -> None:
        if self._closing_after_commit:
            self._closing_after_commit.clear()
            self.really_close = True
            self._close()

    def _ask(self, marked: int, octets: int, active: int) -> None:
        parts = []
        if marked:
            parts.append(f"{messages(marked)} ({fmt.size(octets)}) marked for deletion")
        if active:
            parts.append(f"{active} download{'s' if active != 1 else ''} in progress")
        box = QMessageBox(QMessageBox.Icon.Question, "Quit popfetch",
                          "You have " + " and ".join(parts) + ".", parent=self._host.widget())
        box.setObjectName("closeQuestion")
        info = []
        if marked:
            info.append("Marked messages are deleted on the server only when you commit. "
                        "If you quit without committing, they stay on the server and stay "
                        "marked for next time.")
        if active:
            info.append("Downloads stop; their partial bytes are kept and they resume next "
                        "time.")
        box.setInformativeText(" ".join(info))
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if marked:
            buttons |= QMessageBox.StandardButton.Save
        box.setStandardButtons(buttons)
        if marked:
            box.button(QMessageBox.StandardButton.Save).setText("Commit and quit")
        box.button(QMessageBox.StandardButton.Discard).setText(
            "Quit without committing" if marked else "Quit")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(self._answered)
        self._asking = box
        self._host.show_dialog(box)
