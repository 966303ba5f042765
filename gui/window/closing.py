"""Quitting with work pending: ask, and optionally commit every account before closing.

Marked messages are deleted only on commit and transfers stop on quit, so the window
asks first; "Commit and quit" waits for every account's commit report (or 30 s) and
then closes for real.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox

from gui import fmt
from gui.runner import AccountRunner
from gui.window.commands import messages

if TYPE_CHECKING:
    from gui.window.mainwindow import MainWindow

COMMIT_WAIT_MS = 30_000


class CloseGuard(QObject):
    """Decides whether a close event may proceed; ``really_close`` skips the question."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.really_close = False
        self._closing_after_commit: set[AccountRunner] = set()

    def pending_summary(self) -> tuple[int, int, int]:
        """(marked messages, their octets, active transfers) over every account."""
        marked = octets = active = 0
        for runner in self._window.runners:
            t = runner.model.totals()
            marked += t.marked
            octets += t.marked_bytes
            active += t.active
        return marked, octets, active

    def may_close(self, event: QCloseEvent) -> bool:
        """False (and the event ignored) if the user cancels or chose to commit first."""
        if self.really_close:
            return True
        marked, octets, active = self.pending_summary()
        if not (marked or active):
            return True
        choice = self._ask(marked, octets, active)
        if choice == QMessageBox.StandardButton.Cancel:
            event.ignore()
            return False
        if choice == QMessageBox.StandardButton.Save and marked:
            event.ignore()
            self._closing_after_commit = {
                r for r in self._window.runners if r.model.totals().marked}
            for runner in self._closing_after_commit:
                runner.commit()
            self._window.statusBar().showMessage("Committing before quitting…")
            QTimer.singleShot(COMMIT_WAIT_MS, self._force_close)
            return False
        return True

    def commit_finished(self, runner: object) -> bool:
        """True if this commit was one the window waits for to quit (then no report box)."""
        if not isinstance(runner, AccountRunner) or runner not in self._closing_after_commit:
            return False
        self._closing_after_commit.discard(runner)
        if not self._closing_after_commit:
            self.really_close = True
            QTimer.singleShot(0, self._window.close)
        return True

    def _force_close(self) -> None:
        if self._closing_after_commit:
            self._closing_after_commit.clear()
            self.really_close = True
            self._window.close()

    def _ask(self, marked: int, octets: int, active: int) -> QMessageBox.StandardButton:
        parts = []
        if marked:
            parts.append(f"{messages(marked)} ({fmt.size(octets)}) marked for deletion")
        if active:
            parts.append(f"{active} download{'s' if active != 1 else ''} in progress")
        box = QMessageBox(QMessageBox.Icon.Question, "Quit popfetch",
                          "You have " + " and ".join(parts) + ".", parent=self._window)
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
        return QMessageBox.StandardButton(box.exec())
