"""gui.runner: stored mail is listed from the store first, also while the server is down."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

from core.accounts import Account
from core.engine.events import ConnectionState, MessageState
from core.net import Security
from core.store.local import Store
from gui.dialogs.viewer import MessageViewer
from gui.models.columns import Column, ServerState
from gui.runner import AccountRunner
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import TIMEOUT, Server, demo_account, select


def closed_port() -> int:
    """A loopback port with nobody listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stored_account(tmp_path: Path, count: int) -> Account:
    account = Account(host="127.0.0.1", port=closed_port(), security=Security.NONE,
                      user="demo", maildir=str(tmp_path / "Maildir"), allow_plaintext=True)
    with Store(Path(account.maildir), account.state_dir()) as store:
        store.deliver_batch([
            (f"uidl-{i}", f"From: Ann <a@x.org>\r\nSubject: stored {i}\r\n\r\nbody {i}\r\n"
             .encode()) for i in range(count)])
    return account


def test_offline_the_stored_mail_is_listed_and_openable(qtbot: Any, window: MainWindow,
                                                        tmp_path: Path) -> None:
    account = stored_account(tmp_path, 11)
    runner = window.add_runner(account, fixed_password="demo")
    runner.start()
    model = runner.model
    qtbot.waitUntil(lambda: model.rowCount() == 11, timeout=TIMEOUT)
    assert {model.state_of(u) for u in model.uidls()} == {MessageState.STORED}
    assert model.data(model.index(0, Column.SERVER)) == ServerState.UNKNOWN.value
    assert model.data(model.index(0, Column.SUBJECT)).startswith("stored ")
    qtbot.waitUntil(lambda: "11/11 stored" in window.status.overall_label.text())
    # the server is down: the reason is in the status bar, and it never said "lost"
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.RECONNECTING,
                    timeout=TIMEOUT)
    label = window.status.conn_label.text()
    assert label.startswith("Cannot connect: ") and "refused" in label.lower(), label
    # and a stored message opens
    select(window, [model.uidls()[0]])
    window.acts.open.trigger()
    viewer = next(d for d in window.open_dialogs() if isinstance(d, MessageViewer))
    qtbot.waitUntil(lambda: viewer.loaded is not None, timeout=TIMEOUT)
    assert "body" in viewer.body.toPlainText()


def test_a_connection_once_made_and_then_lost_says_lost(qtbot: Any, window: MainWindow,
                                                        tmp_path: Path) -> None:
    account = stored_account(tmp_path, 1)
    runner = window.add_runner(account, fixed_password="demo")
    runner.ever_connected = True  # as after a session that worked
    runner.start()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.RECONNECTING,
                    timeout=TIMEOUT)
    assert window.status.conn_label.text().startswith("Connection lost")


def test_before_it_starts_a_runner_says_not_connected(tmp_path: Path) -> None:
    runner = AccountRunner(stored_account(tmp_path, 0), fixed_password="pw")
    assert runner.status_text() == "Not connected" and not runner.asks_password
    assert runner.state_icon_name() == "disconnected" and runner.engine is None


def printing(tmp_path: Path, text: str) -> str:
    """A password command (a real subprocess) that prints ``text``."""
    script = tmp_path / "pw.py"
    script.write_text(f"print({text!r})\n")
    return f"{sys.executable} {script}"


def test_the_runner_runs_the_accounts_password_command(
        qtbot: Any, window: MainWindow, server: Server, tmp_path: Path) -> None:
    srv = server.start()
    account = demo_account(srv, tmp_path, password_command=printing(tmp_path, "demo"))
    runner = window.add_runner(account)
    asked: list[object] = []
    runner.passwordNeeded.connect(asked.append)
    runner.start()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED,
                    timeout=TIMEOUT)
    assert runner.model.rowCount() == 9 and asked == []
    assert runner.cached_password() == "demo"


def test_a_password_command_without_output_stops_the_account_with_its_words(
        qtbot: Any, window: MainWindow, server: Server, tmp_path: Path) -> None:
    srv = server.start()
    runner = window.add_runner(demo_account(srv, tmp_path,
                                            password_command=printing(tmp_path, "")))
    asked: list[object] = []
    runner.passwordNeeded.connect(asked.append)
    runner.start()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.FAILED, timeout=TIMEOUT)
    assert runner.last_error is not None
    assert "password command printed no password" in runner.last_error.message
    assert asked == [] and not any(c.startswith(("USER", "PASS")) for c in srv.commands)
