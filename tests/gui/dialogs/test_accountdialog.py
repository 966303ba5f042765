"""gui.dialogs.accountdialog: the trusted certificate is visible and removable."""

from __future__ import annotations

from typing import Any

from core.accounts import Account
from core.net import Security
from gui.dialogs.accountdialog import AccountDialog
from gui.dialogs.trustedcert import fingerprint_text

PIN = "ab" * 32


def test_a_pinned_certificate_is_shown_and_can_be_removed(qtbot: Any) -> None:
    account = Account(host="pop.example.org", port=995, security=Security.TLS, user="me",
                      maildir="/tmp/m", pinned_sha256=PIN)
    dialog = AccountDialog(account)
    qtbot.addWidget(dialog)
    assert dialog.trusted_cert.label.text() == f"SHA-256 {fingerprint_text(PIN)}"
    assert dialog.trusted_cert.label.text().startswith("SHA-256 AB:AB:")
    assert dialog.trusted_cert.remove.isVisibleTo(dialog)
    dialog.trusted_cert.remove.click()
    assert "only certificates the system trusts" in dialog.trusted_cert.label.text()
    assert not dialog.trusted_cert.remove.isVisibleTo(dialog)
    dialog.accept()
    assert dialog.account is not None and dialog.account.pinned_sha256 is None


def test_without_a_pin_there_is_nothing_to_remove(qtbot: Any) -> None:
    dialog = AccountDialog()
    qtbot.addWidget(dialog)
    assert not dialog.trusted_cert.remove.isVisibleTo(dialog)
