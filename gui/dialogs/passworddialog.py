"""Asks for an account's password when none can be had otherwise."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from core.accounts import Account


class PasswordDialog(QDialog):
    """Asks for an account's password (no keychain, nothing stored, or refused)."""

    def __init__(
        self, account: Account, reason: str, keychain_available: bool, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setObjectName("passwordDialog")
        self.setWindowTitle("Password")
        layout = QVBoxLayout(self)
        text = QLabel(f"Password for <b>{account.user}</b> on <b>{account.host}</b>")
        layout.addWidget(text)
        if reason:
            why = QLabel(reason)
            why.setWordWrap(True)
            layout.addWidget(why)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        layout.addWidget(self.edit)
        self.remember = QCheckBox("Save the password in the system keychain")
        self.remember.setChecked(keychain_available)
        self.remember.setEnabled(keychain_available)
        self.remember.setVisible(keychain_available)
        layout.addWidget(self.remember)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(380)
        self.setWindowModality(Qt.WindowModality.WindowModal)


def with_pin(account: Account, sha256: str) -> Account:
    return replace(account, pinned_sha256=sha256)
