"""What the message commands do to the current account: download, pause, mark, commit…

They act on the selection in the message table or on the whole list, and only ask the
account's runner; the window decides when they are enabled (gui.window.actions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QObject, Slot
from PySide6.QtWidgets import QMessageBox

from core.engine.events import CommitFinished, ConnectionState, MessageState
from gui import fmt
from gui.models.columns import Column, PathRole, StateRole, UidlRole

if TYPE_CHECKING:
    from gui.window.mainwindow import MainWindow

# What the transfer commands may apply to.
ACTIVE = (MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED)
RESUMABLE = (MessageState.PAUSED, MessageState.FAILED, MessageState.REMOTE)


def messages(n: int) -> str:
    """"1 message", "2 messages"."""
    return f"{n} message" if n == 1 else f"{n} messages"


def commit_report(name: str, event: CommitFinished) -> str:
    """What the server did with a commit, in words, quoting its answer."""
    answer = event.text.strip() or ("OK" if event.ok else "no answer")
    if event.ok:
        return (f"The server “{name}” deleted {messages(len(event.deleted))}. "
                f"It answered: “{answer}”")
    return (f"The server “{name}” could not delete every marked message. It answered: "
            f"“{answer}”. The messages stay marked; commit again later.")


class MessageCommands(QObject):
    """The slots behind the message actions, for the window's current account."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def _selected(self) -> list[tuple[str, MessageState]]:
        return self._window.table.selected_states()

    @Slot()
    def check(self) -> None:
        """F5: connect if not connected (that loads the list), else reload the list."""
        runner = self._window.current
        if runner is None:
            return
        if runner.connection.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            runner.retry_now()
        else:
            runner.refresh()

    @Slot()
    def retry_now(self) -> None:
        if self._window.current is not None:
            self._window.current.retry_now()

    @Slot()
    def download_selected(self) -> None:
        runner = self._window.current
        if runner is None:
            return
        uidls = [u for u, st in self._selected()
                 if st not in (MessageState.STORED, MessageState.GONE)]
        if uidls:
            runner.download(uidls)

    @Slot()
    def download_all(self) -> None:
        if self._window.current is not None:
            self._window.current.download(None)

    @Slot()
    def toggle_selected(self) -> None:
        """Space: pause what moves in the selection; else resume what is paused in it."""
        runner = self._window.current
        if runner is None:
            return
        states = self._selected()
        active = [u for u, st in states if st in ACTIVE]
        if active:
            runner.pause(active)
            return
        waiting = [u for u, st in states if st in RESUMABLE]
        if waiting:
            runner.resume(waiting)

    @Slot()
    def pause_all(self) -> None:
        if self._window.current is not None:
            self._window.current.pause(None)

    @Slot()
    def resume_all(self) -> None:
        """Every paused message, by UIDL: also those paused in an earlier session (the
        engine's resume(None) covers only what was paused since it started)."""
        runner = self._window.current
        if runner is None:
            return
        model = runner.model
        paused = [u for u in model.uidls() if model.state_of(u) == MessageState.PAUSED]
        if paused:
            runner.resume(paused)

    @Slot()
    def cancel_selected(self) -> None:
        runner = self._window.current
        if runner is None:
            return
        uidls = [u for u, st in self._selected() if st in ACTIVE or st == MessageState.PAUSED]
        if uidls:
            runner.cancel(uidls)

    @Slot()
    def mark_selected(self) -> None:
        runner = self._window.current
        if runner is None:
            return
        uidls = [u for u, st in self._selected() if st != MessageState.GONE]
        if uidls:
            runner.mark(uidls)

    @Slot()
    def unmark_selected(self) -> None:
        runner = self._window.current
        if runner is not None and self._window.table.selected_uidls():
            runner.unmark(self._window.table.selected_uidls())

    @Slot()
    def unmark_all(self) -> None:
        runner = self._window.current
        if runner is not None:
            marked = runner.model.marked_uidls()
            if marked:
                runner.unmark(marked)

    @Slot()
    def mark_stored(self) -> None:
        runner = self._window.current
        if runner is None:
            return
        model = runner.model
        stored = [u for u in model.uidls() if model.state_of(u) == MessageState.STORED]
        if stored:
            runner.mark(stored)

    @Slot()
    def commit(self) -> None:
        """Ask first: deleting on the server cannot be undone."""
        window = self._window
        runner = window.current
        if runner is None:
            return
        t = runner.model.totals()
        if t.marked == 0:
            window.statusBar().showMessage("No message is marked for deletion.", 5000)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Delete on the server",
            f"Delete {messages(t.marked)} ({fmt.size(t.marked_bytes)}) from the server "
            f"“{runner.name}”?",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, window)
        box.setObjectName("commitConfirm")
        not_stored = [u for u in runner.model.marked_uidls()
                      if runner.model.state_of(u) != MessageState.STORED]
        extra = ""
        if not_stored:
            extra = (f"\n\n{messages(len(not_stored)).capitalize()} of them "
                     f"{'is' if len(not_stored) == 1 else 'are'} not downloaded: "
                     "they will be gone for good.")
        box.setInformativeText("popfetch ends the session with QUIT and the server removes "
                               "them. This cannot be undone." + extra)
        box.button(QMessageBox.StandardButton.Ok).setText("Delete on server")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Ok:
            return
        window.statusBar().showMessage("Committing: the server deletes the marked messages…")
        runner.commit()

    @Slot()
    def disconnect(self) -> None:
        if self._window.current is not None:
            self._window.current.disconnect()
            self._window.statusBar().showMessage(
                "Disconnected without committing: nothing was deleted on the server.", 8000)

    @Slot()
    def open_selected(self) -> None:
        rows = self._window.table.selectionModel().selectedRows()
        if rows:
            self.open_index(rows[0])

    @Slot(QModelIndex)
    def open_index(self, index: QModelIndex) -> None:
        """Show a stored message; download one that is not here yet."""
        window = self._window
        if window.current is None:
            return
        proxy = window.proxy
        state = proxy.data(index, StateRole)
        uidl = str(proxy.data(index, UidlRole))
        if state == MessageState.STORED:
            path = str(proxy.data(index, PathRole) or "")
            if path:
                from gui.dialogs.viewer import MessageViewer

                subject = str(proxy.data(index.siblingAtColumn(Column.SUBJECT)) or "")
                window.show_dialog(MessageViewer(path, subject, window))
            else:
                window.statusBar().showMessage(
                    "This message was stored in an earlier session; open it from the "
                    "Maildir with your mail program.", 6000)
        elif state in RESUMABLE:
            window.current.download([uidl])
