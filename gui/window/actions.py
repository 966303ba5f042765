"""The window's commands as QActions: texts, icons, shortcuts, where they appear, and when
they are enabled.

One place for the keyboard map and for the rules that grey out a command, so the
toolbar, the menus and the context menus cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar, QToolButton, QWidget

from core.engine.events import ConnectionState, MessageState
from gui import icons
from gui.runner import AccountRunner
from gui.window.commands import ACTIVE, RESUMABLE

if TYPE_CHECKING:
    from gui.window.mainwindow import MainWindow

_CONNECTED = (ConnectionState.CONNECTED, ConnectionState.RECONNECTING,
              ConnectionState.CONNECTING)


class WindowActions:
    """Creates every action on ``window`` (so their shortcuts work anywhere in it)."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        a = self._action
        cmd = window.commands
        accounts = window.accounts
        self.check = a("&Check for mail", "refresh", "F5",
                       "Connect and load the list of messages", cmd.check)
        self.download = a("&Download", "download", "Ctrl+D",
                          "Download the selected messages", cmd.download_selected)
        self.download_all = a("Download &all", "download-all", "Ctrl+Shift+D",
                              "Download every message not stored yet", cmd.download_all)
        self.toggle = a("&Pause / resume", "pause", "Space",
                        "Pause the selected downloads, or resume them", cmd.toggle_selected)
        self.pause_all = a("Pause all", "pause", "Ctrl+Shift+P",
                           "Pause every download; partial bytes are kept", cmd.pause_all)
        self.resume_all = a("Resume all", "resume", "Ctrl+Shift+R",
                            "Resume every paused download", cmd.resume_all)
        self.cancel = a("&Cancel download", "cancel", "Ctrl+Backspace",
                        "Stop the selected downloads and discard their partial bytes",
                        cmd.cancel_selected)
        self.mark = a("&Mark for deletion", "marked", QKeySequence.StandardKey.Delete,
                      "Mark the selected messages; they are deleted on the server only "
                      "when you commit", cmd.mark_selected)
        self.unmark = a("&Unmark", "unmark", "Shift+Del",
                        "Keep the selected messages on the server", cmd.unmark_selected)
        self.unmark_all = a("Unmark all", "unmark", "Ctrl+Shift+U",
                            "Keep every message on the server", cmd.unmark_all)
        self.mark_stored = a("Mark all stored", "marked", "Ctrl+Shift+Del",
                             "Mark every message that is safely stored here", cmd.mark_stored)
        self.commit = a("C&ommit deletions…", "commit", "Ctrl+Return",
                        "Tell the server to delete the marked messages (QUIT)", cmd.commit)
        self.disconnect = a("Disconnect without committing", "disconnect", "Ctrl+Shift+X",
                            "Close the connection; nothing is deleted on the server",
                            cmd.disconnect)
        self.retry = a("&Retry now", "refresh", "Ctrl+R",
                       "Reconnect now instead of waiting", cmd.retry_now)
        self.open = a("&Open message", None, "Return",
                      "Show the selected stored message", cmd.open_selected)
        self.open.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.filter = a("&Filter", None, "Ctrl+F",
                        "Narrow the list by sender or subject", window.focus_filter)
        self.add = a("&Add account…", "account", "Ctrl+N",
                     "Add a POP3 account", accounts.add_account)
        self.edit = a("&Edit account…", None, "Ctrl+E",
                      "Change the selected account's settings", accounts.edit_account)
        self.remove = a("&Remove account…", None, None,
                        "Remove the selected account (its Maildir stays)",
                        accounts.remove_account)
        self.demo = a("Try the &demo mailbox", None, None,
                      "Start a local demo server with sample mail", accounts.start_demo)
        self.about = a("&About popfetch", None, None, "Version and licence", window.about)
        self.quit = a("&Quit", None, QKeySequence.StandardKey.Quit, "Quit popfetch",
                      window.close)

    def _action(self, text: str, icon: str | None,
                shortcut: str | QKeySequence | QKeySequence.StandardKey | None,
                tip: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self._window)
        if icon:
            action.setIcon(icons.icon(icon))
        if shortcut:
            seq = QKeySequence(shortcut)
            action.setShortcut(seq)
            tip = f"{tip} ({seq.toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self._window.addAction(action)
        return action

    # ------------------------------------------------------------------ where they appear

    def fill_toolbar(self, tb: QToolBar) -> None:
        for act in (self.check, self.download, self.download_all):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.toggle, self.pause_all, self.resume_all, self.cancel):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.mark, self.unmark, self.commit, self.disconnect):
            tb.addAction(act)
        for act in (self.pause_all, self.resume_all, self.cancel, self.unmark,
                    self.disconnect):
            w = tb.widgetForAction(act)
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def fill_menus(self, mb: QMenuBar, view_actions: Sequence[QAction]) -> None:
        m = mb.addMenu("&Account")
        for act in (self.check, self.retry, self.disconnect):
            m.addAction(act)
        m.addSeparator()
        for act in (self.add, self.edit, self.remove, self.demo):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.quit)
        m = mb.addMenu("&Messages")
        for act in (self.open, self.download, self.download_all, self.toggle,
                    self.pause_all, self.resume_all, self.cancel):
            m.addAction(act)
        m.addSeparator()
        for act in (self.mark, self.unmark, self.mark_stored, self.unmark_all, self.commit):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.filter)
        m = mb.addMenu("&View")
        for act in view_actions:
            m.addAction(act)
        m = mb.addMenu("&Help")
        m.addAction(self.about)

    def account_actions(self) -> tuple[QAction, ...]:
        """The account list's context menu."""
        return (self.check, self.disconnect, self.edit, self.remove)

    def message_menu(self, parent: QWidget) -> QMenu:
        """The message table's context menu."""
        menu = QMenu(parent)
        for act in (self.open, self.download, self.toggle, self.cancel):
            menu.addAction(act)
        menu.addSeparator()
        for act in (self.mark, self.unmark, self.commit):
            menu.addAction(act)
        return menu

    # ------------------------------------------------------------------ enabled or not

    def update(self, runner: AccountRunner | None, states: list[MessageState]) -> None:
        """Enable what applies to ``runner`` and to the states of the selected messages."""
        has = runner is not None
        t = runner.model.totals() if runner is not None else None
        connected = runner is not None and runner.connection.state in _CONNECTED
        self.check.setEnabled(has)
        self.download.setEnabled(any(s in RESUMABLE for s in states))
        self.download_all.setEnabled(bool(t and t.count > t.stored))
        self.toggle.setEnabled(any(s in ACTIVE or s in RESUMABLE for s in states))
        self.pause_all.setEnabled(bool(t and t.active))
        self.resume_all.setEnabled(bool(t and t.paused))
        self.cancel.setEnabled(any(s in ACTIVE or s == MessageState.PAUSED for s in states))
        self.mark.setEnabled(any(s != MessageState.GONE for s in states))
        self.unmark.setEnabled(bool(states))
        self.unmark_all.setEnabled(bool(t and t.marked))
        self.mark_stored.setEnabled(bool(t and t.stored))
        self.commit.setEnabled(bool(t and t.marked))
        self.disconnect.setEnabled(bool(connected))
        self.retry.setEnabled(has)
        self.open.setEnabled(bool(states))
        self.edit.setEnabled(runner is not None and not runner.demo)
        self.remove.setEnabled(has)
        if any(s in ACTIVE for s in states):
            self.toggle.setIcon(icons.icon("pause"))
            self.toggle.setText("&Pause")
        else:
            self.toggle.setIcon(icons.icon("resume"))
            self.toggle.setText("&Resume")
