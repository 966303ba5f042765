"""Helpers shared by the GUI end-to-end tests (fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtWidgets import QMessageBox

from core.accounts import Account
from core.demoserver import DemoServer
from core.engine.events import MessageState
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
