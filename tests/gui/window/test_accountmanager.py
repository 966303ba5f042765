"""gui.window.accountmanager: a failed save and a keychain that refuses reach the user."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QMessageBox

from core.accounts import AccountBook
from gui.keyring_access import KeychainAccess
from gui.window.accountmanager import AccountManager
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import TIMEOUT, answer
from tests.support.memkeyring import BrokenKeyring, installed


def test_an_accounts_file_that_cannot_be_written_is_reported(
        qtbot: Any, tmp_path: Path, window: MainWindow) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    window.accounts._book = AccountBook(blocker / "accounts.json")
    window.add_account()
    dialog: Any = next(d for d in window.open_dialogs() if d.objectName() == "accountDialog")
    dialog.host_edit.setText("pop.example.org")
    dialog.user_edit.setText("me")
    dialog.maildir_edit.setText(str(tmp_path / "Mail"))
    dialog.accept()
    qtbot.waitUntil(lambda: any(d.objectName() == "errorReport" for d in window.open_dialogs()),
                    timeout=TIMEOUT)
    box: Any = next(d for d in window.open_dialogs() if d.objectName() == "errorReport")
    assert "accounts file could not be written" in box.text()


def test_removing_an_account_reports_a_password_that_stays(
        qtbot: Any, tmp_path: Path, window: MainWindow) -> None:
    from core.accounts import Account
    from core.net import Security

    account = Account(host="pop.example.org", port=995, security=Security.TLS, user="me",
                      maildir=str(tmp_path / "Mail"))
    window.book.add(account)
    runner = window.add_runner(account)
    assert isinstance(window.keychain, KeychainAccess)
    with installed(BrokenKeyring(RuntimeError("the keychain is locked"))):
        window.acts.remove.trigger()
        answer(qtbot, window, "removeAccount", QMessageBox.StandardButton.Yes)
        qtbot.waitUntil(lambda: any(d.objectName() == "errorReport"
                                    for d in window.open_dialogs()), timeout=TIMEOUT)
    box: Any = next(d for d in window.open_dialogs() if d.objectName() == "errorReport")
    assert "could not be removed" in box.text()
    assert runner not in window.runners


def test_the_demo_account_comes_and_goes_through_the_manager(
        qtbot: Any, tmp_path: Path, window: MainWindow) -> None:
    from gui.demo import DemoService

    assert isinstance(window.accounts, AccountManager)
    window.demo_factory = lambda: DemoService(tmp_path / "demo", count=2, large_sizes=(),
                                              rate=None, drop=0.0)
    window.start_demo()
    assert window.accounts.demo is not None and not window.acts.demo.isEnabled()
    qtbot.waitUntil(lambda: window.registry.demo() is not None, timeout=TIMEOUT)
    window.acts.remove.trigger()
    answer(qtbot, window, "removeAccount", QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(window.acts.demo.isEnabled, timeout=TIMEOUT)
    assert window.registry.demo() is None and window.accounts.demo is None
