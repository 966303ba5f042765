"""The window's commands as QActions: texts, icons, shortcuts, where they appear, and when
they are enabled.

One place for the keyboard map (the Help menu's shortcut list and README's table are
checked against it) and for the rules that grey out a command, so the toolbar, the menus
and the context menus cannot disagree. Message actions run a command function of
gui.window.commands through ``bind``; the window connects the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QToolBar, QToolButton, QWidget

from core.engine.events import ConnectionState, MessageState
from gui import icons
from gui.runner import AccountRunner
from gui.window import commands as cmd
from gui.window.commands import Command

Bind = Callable[[Command], Callable[[], None]]

_CONNECTED = (ConnectionState.CONNECTED, ConnectionState.RECONNECTING,
              ConnectionState.CONNECTING)


class WindowActions:
    """Creates every action on ``owner`` (so their shortcuts work anywhere in it)."""

    def __init__(self, owner: QWidget, bind: Bind) -> None:
        self._owner = owner
        self._all: list[tuple[QAction, str]] = []  # each action and what it does

        def m(text: str, icon: str | None, shortcut: str | QKeySequence.StandardKey | None,
              tip: str, command: Command) -> QAction:
            action = self._action(text, icon, shortcut, tip)
            action.triggered.connect(bind(command))
            return action

        a = self._action
        self.check = m("&Check for mail", "refresh", "F5",
                       "Connect and load the list of messages", cmd.check)
        self.download = m("&Download", "download", "Ctrl+D",
                          "Download the selected messages", cmd.download_selected)
        self.download_all = m("Download &all", "download-all", "Ctrl+Shift+D",
                              "Download every message not stored yet", cmd.download_all)
        self.toggle = m("&Pause / resume", "pause", "Space",
                        "Pause the selected downloads, or resume them", cmd.toggle_selected)
        self.pause_all = m("Pause all", "pause", "Ctrl+Shift+P",
                           "Pause every download; partial bytes are kept", cmd.pause_all)
        self.resume_all = m("Resume all", "resume", "Ctrl+Shift+R",
                            "Resume every paused download", cmd.resume_all)
        self.cancel = m("&Cancel download", "cancel", "Ctrl+Backspace",
                        "Stop the selected downloads and discard their partial bytes",
                        cmd.cancel_selected)
        self.mark = m("&Mark for deletion", "marked", QKeySequence.StandardKey.Delete,
                      "Mark the selected messages; they are deleted on the server only "
                      "when you commit", cmd.mark_selected)
        self.unmark = m("&Unmark", "unmark", "Shift+Del",
                        "Keep the selected messages on the server", cmd.unmark_selected)
        self.unmark_all = m("Unmark all", "unmark", "Ctrl+Shift+U",
                            "Keep every message on the server", cmd.unmark_all)
        self.mark_stored = m("Mark all stored", "marked", "Ctrl+Shift+Del",
                             "Mark every message that is safely stored here", cmd.mark_stored)
        self.commit = m("C&ommit deletions…", "commit", "Ctrl+Return",
                        "Tell the server to delete the marked messages (QUIT)", cmd.commit)
        self.disconnect_session = m(
            "Disconnect without committing", "disconnect", "Ctrl+Shift+X",
            "Close the connection; nothing is deleted on the server", cmd.end_session)
        self.retry = m("&Retry now", "refresh", "Ctrl+R",
                       "Reconnect now instead of waiting", cmd.retry_now)
        self.open = m("&Open message", None, "Return",
                      "Show the selected stored message", cmd.open_selected)
        self.open.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        # connected by the window
        self.filter = a("&Filter", None, "Ctrl+F", "Narrow the list by sender or subject")
        self.log = a("Protocol &log", None, "Ctrl+L", "Show the protocol log")
        self.log.setCheckable(True)
        self.add = a("&Add account…", "account", "Ctrl+N", "Add a POP3 account")
        self.edit = a("&Edit account…", None, "Ctrl+E",
                      "Change the selected account's settings and trusted certificate")
        self.remove = a("&Remove account…", None, None,
                        "Remove the selected account (its Maildir stays)")
        self.demo = a("Try the &demo mailbox", None, None,
                      "Start a local demo server with sample mail")
        self.settings = a("&Settings…", None, "Ctrl+,", "popfetch's own settings")
        self.shortcuts = a("&Keyboard shortcuts", None, None, "Every shortcut in one list")
        self.files = a("&Where files live", None, None,
                       "Where popfetch keeps settings, state, and the demo's data")
        self.about = a("&About popfetch", None, None, "Version and licence")
        self.about_qt = a("About &Qt", None, None, "The Qt version popfetch runs on")
        self.quit = a("&Quit", None, "Ctrl+Q", "Quit popfetch")

    def _action(self, text: str, icon: str | None,
                shortcut: str | QKeySequence | QKeySequence.StandardKey | None,
                tip: str) -> QAction:
        action = QAction(text, self._owner)
        if icon:
            action.setIcon(icons.icon(icon))
        self._all.append((action, tip))
        if shortcut:
            seq = QKeySequence(shortcut)
            action.setShortcut(seq)
            tip = f"{tip} ({seq.toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)  # no status tip: it would cover the connection state
        self._owner.addAction(action)
        return action

    def shortcut_table(self) -> list[tuple[str, str]]:
        """(key, what it does) for every action that has a shortcut, in the order made."""
        rows = []
        for action, what in self._all:
            key = action.shortcut().toString(QKeySequence.SequenceFormat.PortableText)
            if key:
                rows.append((key, what))
        return rows

    # ------------------------------------------------------------------ where they appear

    def fill_toolbar(self, tb: QToolBar) -> None:
        for act in (self.check, self.download, self.download_all):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.toggle, self.pause_all, self.resume_all, self.cancel):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.mark, self.unmark, self.commit, self.disconnect_session):
            tb.addAction(act)
        for act in (self.pause_all, self.resume_all, self.cancel, self.unmark,
                    self.disconnect_session):
            w = tb.widgetForAction(act)
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)

    def fill_menus(self, mb: QMenuBar, view_actions: Sequence[QAction]) -> None:
        m = mb.addMenu("&Account")
        for act in (self.check, self.retry, self.disconnect_session):
            m.addAction(act)
        m.addSeparator()
        for act in (self.add, self.edit, self.remove, self.demo):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.settings)
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
        m.addAction(self.log)
        for act in view_actions:
            m.addAction(act)
        m = mb.addMenu("&Help")
        for act in (self.shortcuts, self.files):
            m.addAction(act)
        m.addSeparator()
        for act in (self.about, self.about_qt):
            m.addAction(act)

    def account_actions(self) -> tuple[QAction, ...]:
        """The account list's context menu."""
        return (self.check, self.disconnect_session, self.edit, self.remove)

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
        self.download.setEnabled(any(s.resumable for s in states))
        self.download_all.setEnabled(bool(t and t.downloadable))
        self.toggle.setEnabled(any(s.active or s.resumable for s in states))
        self.pause_all.setEnabled(bool(t and t.active))
        self.resume_all.setEnabled(bool(t and t.paused))
        self.cancel.setEnabled(any(s.active or s is MessageState.PAUSED for s in states))
        self.mark.setEnabled(any(s is not MessageState.GONE for s in states))
        self.unmark.setEnabled(bool(states))
        self.unmark_all.setEnabled(bool(t and t.marked))
        self.mark_stored.setEnabled(bool(t and t.stored))
        self.commit.setEnabled(bool(t and t.marked))
        self.disconnect_session.setEnabled(bool(connected))
        self.retry.setEnabled(has)
        self.open.setEnabled(bool(states))
        self.edit.setEnabled(runner is not None and not runner.demo)
        self.remove.setEnabled(has)
        if any(s.active for s in states):
            self.toggle.setIcon(icons.icon("pause"))
            self.toggle.setText("&Pause")
        else:
            self.toggle.setIcon(icons.icon("resume"))
            self.toggle.setText("&Resume")
