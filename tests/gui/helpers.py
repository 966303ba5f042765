"""Helpers shared by the GUI end-to-end tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from core.accounts import Account
from core.demoserver import DemoServer
from core.engine.events import ListLoaded, MessageInfo, MessageState
from core.net import Security
from gui.models.columns import Column, RawRole, UidlRole
from gui.runner import AccountRunner
from gui.window.mainwindow import MainWindow

LARGE = 3_000_000
TIMEOUT = 30_000  # ms, for qtbot.waitUntil


class Server:
    """Start a DemoServer over the test's mailbox; stopped at teardown."""

    def __init__(self, mailbox: Path):
        self.mailbox = mailbox
        self.servers: list[DemoServer] = []

    def start(self, **kwargs: Any) -> DemoServer:
        server = DemoServer(self.mailbox, **kwargs)
        server.start()
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


def demo_account(server: DemoServer, tmp_path: Path, **kwargs: Any) -> Account:
    host, port = server.address
    values: dict[str, Any] = {
        "host": host, "port": port, "security": Security.NONE, "user": "demo",
        "maildir": str(tmp_path / "Maildir"), "allow_plaintext": True,
    }
    values.update(kwargs)
    return Account(**values)



def connect(qtbot: Any, window: MainWindow, account: Account, **kwargs: Any) -> AccountRunner:
    runner = window.add_runner(account, fixed_password=kwargs.pop("password", "demo"), **kwargs)
    window.select_runner(runner)
    runner.start()
    qtbot.waitUntil(lambda: runner.model.rowCount() > 0, timeout=TIMEOUT)
    return runner



def source_file(mailbox: Path, uidl: str) -> Path:
    for sub in ("new", "cur"):
        for p in (mailbox / sub).iterdir():
            if p.name.split(":2,", 1)[0] == uidl:
                return p
    raise FileNotFoundError(uidl)



def server_files(mailbox: Path) -> set[str]:
    return {p.name.split(":2,", 1)[0] for sub in ("new", "cur") for p in (mailbox / sub).iterdir()}



def large_uidl(runner: AccountRunner) -> str:
    model = runner.model
    return max(model.uidls(), key=lambda u: model.data(model.index(model.row_of(u) or 0,
                                                                   Column.SIZE), RawRole))



def select(window: MainWindow, uidls: list[str]) -> None:
    sel = window.table.selectionModel()
    sel.clearSelection()
    for row in range(window.proxy.rowCount()):
        ix = window.proxy.index(row, 0)
        if window.proxy.data(ix, UidlRole) in uidls:
            sel.select(ix, QItemSelectionModel.SelectionFlag.Select
                       | QItemSelectionModel.SelectionFlag.Rows)
    window._update_actions()



def state(runner: AccountRunner, uidl: str) -> MessageState | None:
    return runner.model.state_of(uidl)


def answer(qtbot: Any, window: MainWindow, name: str,
           button: QMessageBox.StandardButton) -> QMessageBox:
    """Wait for the non-blocking box ``name`` and click ``button`` in it."""
    qtbot.waitUntil(lambda: any(d.objectName() == name for d in window.open_dialogs()),
                    timeout=TIMEOUT)
    box = next(d for d in window.open_dialogs() if d.objectName() == name)
    assert isinstance(box, QMessageBox)
    box.button(button).click()
    return box


class RecordingHost:
    """A Host (gui.host) that keeps what it was asked to show."""

    def __init__(self, widget: QWidget | None = None) -> None:
        self._widget = widget or QWidget()
        self.dialogs: list[QDialog] = []
        self.statuses: list[str] = []
        self.errors: list[tuple[str, str]] = []

    def widget(self) -> QWidget:
        return self._widget

    def show_dialog(self, dialog: QDialog) -> None:
        self.dialogs.append(dialog)
        dialog.open()

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statuses.append(text)

    def report_error(self, title: str, text: str) -> None:
        self.errors.append((title, text))


class RecordingEngine:
    """Stands for the engine where the engine is not the point (core.engine.api says what
    an engine offers): records each call as (name, arguments)."""

    def __init__(self, account: Account, **kwargs: Any) -> None:
        self._account = account
        self.calls: list[tuple[str, Any]] = []

    @property
    def account(self) -> Account:
        return self._account

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args[0] if args else None))

        return call

    def update_account(self, account: Account) -> None:
        self._account = account
        self.calls.append(("update_account", account))


def info(n: int, *, size: int = 1000, state: MessageState = MessageState.REMOTE,
         marked: bool = False, received: int = 0) -> MessageInfo:
    return MessageInfo(f"uid-{n}", n, size, f"Person {n} <p{n}@example.org>",
                       f"Message number {n}", "Tue, 03 Mar 2026 05:06:00 +0000", state,
                       received, marked)


def runner_with(qtbot: Any, infos: list[MessageInfo], **kwargs: Any) -> AccountRunner:
    """A runner whose engine records calls, with ``infos`` listed (as if from the server)."""
    account = Account(host="127.0.0.1", port=1, security=Security.NONE, user="u",
                      maildir="/nonexistent/Maildir", allow_plaintext=True)
    runner = AccountRunner(account, fixed_password="pw", engine_factory=RecordingEngine,
                           **kwargs)
    runner.start()
    qtbot.waitUntil(lambda: runner.engine is not None, timeout=TIMEOUT)
    runner.model.apply(ListLoaded(tuple(infos)))
    return runner
