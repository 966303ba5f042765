"""The message commands: functions of (runner, selection, host).

Each acts on one account's runner and the selected messages (UIDL and state pairs), and
asks the Host for anything it shows; none of them knows the window. The window binds
them to its actions (gui.window.actions), which also decide when they are enabled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QMessageBox

from core.engine.events import CommitFinished, ConnectionState, MessageState
from core.text import sanitize
from gui import fmt
from gui.host import Host
from gui.models.columns import ServerState
from gui.models.model import delivered_text
from gui.runner import AccountRunner

Selection = Sequence[tuple[str, MessageState]]
Command = Callable[[AccountRunner, Selection, Host], None]


def messages(n: int) -> str:
    """"1 message", "2 messages"."""
    return f"{n} message" if n == 1 else f"{n} messages"


def commit_report(name: str, event: CommitFinished) -> str:
    """What the server did with a commit, in words, quoting its answer."""
    answer = sanitize(event.text.strip()) or ("OK" if event.ok else "no answer")
    if event.ok:
        return (f"The server “{name}” deleted {messages(len(event.deleted))}. "
                f"It answered: “{answer}”")
    return (f"The server “{name}” could not delete every marked message. It answered: "
            f"“{answer}”. The messages stay marked; commit again later.")


def check(runner: AccountRunner, selection: Selection, host: Host) -> None:
    """F5: a fresh session and its list (only a new login sees new mail); after a stop
    that needs the user (a password, a certificate), try again."""
    if runner.connection.state is ConnectionState.FAILED:
        runner.retry_now()
    else:
        runner.refresh()


def retry_now(runner: AccountRunner, selection: Selection, host: Host) -> None:
    runner.retry_now()


def download_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    uidls = [u for u, st in selection if st.resumable]
    if uidls:
        runner.download(uidls)


def download_all(runner: AccountRunner, selection: Selection, host: Host) -> None:
    runner.download(None)


def toggle_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    """Space: pause what moves in the selection; else resume what is paused in it."""
    active = [u for u, st in selection if st.active]
    if active:
        runner.pause(active)
        return
    waiting = [u for u, st in selection if st.resumable]
    if waiting:
        runner.resume(waiting)


def pause_all(runner: AccountRunner, selection: Selection, host: Host) -> None:
    runner.pause(None)


def resume_all(runner: AccountRunner, selection: Selection, host: Host) -> None:
    """Every paused message, by UIDL: also those paused in an earlier session (the
    engine's resume(None) covers only what was paused since it started)."""
    model = runner.model
    paused = [u for u in model.uidls() if model.state_of(u) is MessageState.PAUSED]
    if paused:
        runner.resume(paused)


def cancel_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    uidls = [u for u, st in selection if st.active or st is MessageState.PAUSED]
    if uidls:
        runner.cancel(uidls)


def mark_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    uidls = [u for u, st in selection if st is not MessageState.GONE and on_server(runner, u)]
    if uidls:
        runner.mark(uidls)


def unmark_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    if selection:
        runner.unmark([u for u, _ in selection])


def unmark_all(runner: AccountRunner, selection: Selection, host: Host) -> None:
    marked = runner.model.marked_uidls()
    if marked:
        runner.unmark(marked)


def mark_stored(runner: AccountRunner, selection: Selection, host: Host) -> None:
    model = runner.model
    stored = [u for u in model.uidls()
              if model.state_of(u) is MessageState.STORED and on_server(runner, u)]
    if stored:
        runner.mark(stored)


def on_server(runner: AccountRunner, uidl: str) -> bool:
    """Whether the last list had it (a stored message deleted there cannot be marked)."""
    return runner.model.server_state_of(uidl) is ServerState.PRESENT


def commit(runner: AccountRunner, selection: Selection, host: Host) -> None:
    """Ask first (deleting on the server cannot be undone); the answer commits."""
    t = runner.model.totals()
    if t.marked == 0:
        host.show_status("No message is marked for deletion.", 5000)
        return
    box = QMessageBox(
        QMessageBox.Icon.Warning, "Delete on the server",
        f"Delete {messages(t.marked)} ({fmt.size(t.marked_bytes)}) from the server "
        f"“{runner.name}”?",
        QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, host.widget())
    box.setObjectName("commitConfirm")
    not_stored = [u for u in runner.model.marked_uidls()
                  if runner.model.state_of(u) is not MessageState.STORED]
    extra = ""
    if not_stored:
        extra = (f"\n\n{messages(len(not_stored)).capitalize()} of them "
                 f"{'is' if len(not_stored) == 1 else 'are'} not downloaded: "
                 "they will be gone for good.")
    box.setInformativeText("popfetch ends the session with QUIT and the server removes "
                           "them. This cannot be undone." + extra)
    box.button(QMessageBox.StandardButton.Ok).setText("Delete on server")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)

    def confirmed() -> None:
        host.show_status("Committing: the server deletes the marked messages…")
        runner.commit()

    box.accepted.connect(confirmed)
    host.show_dialog(box)


def end_session(runner: AccountRunner, selection: Selection, host: Host) -> None:
    runner.end_session()
    host.show_status("Disconnected without committing: nothing was deleted on the server.",
                     8000)


def open_selected(runner: AccountRunner, selection: Selection, host: Host) -> None:
    """Show the first selected message if it is stored; download it if it is not here."""
    if not selection:
        return
    uidl, state = selection[0]
    if state is MessageState.STORED:
        path = runner.model.path_of(uidl)
        receipt = runner.model.receipt_of(uidl)
        if receipt:
            host.show_status(f"{delivered_text(receipt)}; popfetch keeps no copy of it.", 8000)
            return
        if not path:
            host.show_status("The stored copy of this message is no longer in the Maildir "
                             "(a mail program may have moved or deleted it).", 6000)
            return
        from gui.dialogs.viewer import MessageViewer

        host.show_dialog(MessageViewer(path, runner.model.subject_of(uidl),
                                       runner.model.size_of(uidl), host, host.widget()))
    elif state.resumable:
        runner.download([uidl])
