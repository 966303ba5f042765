"""gui.dialogs.passworddialog: the prompt names the account, and offers the keychain only
where there is one."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QLineEdit

from core.accounts import Account
from core.net import Security
from gui.dialogs.passworddialog import PasswordDialog, with_pin

ACCOUNT = Account(host="pop.example.org", port=995, security=Security.TLS, user="me",
                  maildir="/tmp/m")


def test_the_prompt_names_the_account_and_hides_the_password(qtbot: Any) -> None:
    dialog = PasswordDialog(ACCOUNT, "the server refused the saved password", True)
    qtbot.addWidget(dialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert "Password for <b>me</b> on <b>pop.example.org</b>" in texts
    assert "the server refused the saved password" in texts
    assert dialog.edit.echoMode() is QLineEdit.EchoMode.Password
    assert dialog.remember.isChecked() and dialog.remember.isEnabled()


def test_without_a_keychain_nothing_offers_to_save(qtbot: Any) -> None:
    dialog = PasswordDialog(ACCOUNT, "", False)
    qtbot.addWidget(dialog)
    assert not dialog.remember.isChecked() and not dialog.remember.isVisibleTo(dialog)


def test_with_pin_changes_only_the_pin() -> None:
    pinned = with_pin(ACCOUNT, "ab" * 32)
    assert pinned.pinned_sha256 == ":".join(["AB"] * 32)  # as Account spells a pin
    assert pinned.key == ACCOUNT.key and pinned.host == ACCOUNT.host
