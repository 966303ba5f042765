"""gui.dialogs.providersignin: a provider shows its sign-in rows, a new choice forgets the
old sign-in, and the settings follow the fields. (The browser flow against a real provider
is in tests/oauth/test_gui.py.)"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QWidget

from core.accounts import Account, OAuthSettings
from core.net import Security
from gui.dialogs.providersignin import ProviderSignIn


def _placed(qtbot: Any, account: Account | None) -> tuple[QWidget, ProviderSignIn]:
    page = QWidget()
    qtbot.addWidget(page)
    form = QFormLayout(page)
    sign_in = ProviderSignIn(account, page)
    form.addRow("Provider:", sign_in.provider_combo)
    sign_in.add_rows(form)
    return page, sign_in


def test_a_password_account_shows_no_sign_in_rows(qtbot: Any) -> None:
    page, sign_in = _placed(qtbot, None)
    assert sign_in.provider() == "" and sign_in.settings() is None
    assert not sign_in.sign_in_row.isVisibleTo(page)
    assert not sign_in.client_id_edit.isVisibleTo(page)
    with qtbot.waitSignal(sign_in.chosen):
        sign_in.provider_combo.setCurrentIndex(sign_in.provider_combo.findData("microsoft"))
    assert sign_in.sign_in_row.isVisibleTo(page) and sign_in.tenant_edit.isVisibleTo(page)
    assert sign_in.sign_in_button.text() == "Sign in with Microsoft"
    assert sign_in.sign_in_status.text() == "Not signed in yet"
    sign_in.client_id_edit.setText(" my-app ")
    sign_in.tenant_edit.setText("contoso.com")
    assert sign_in.settings() == OAuthSettings("microsoft", client_id="my-app",
                                               tenant="contoso.com")


def test_a_saved_sign_in_counts_until_another_provider_is_chosen(qtbot: Any) -> None:
    account = Account(host="pop.gmail.com", port=995, security=Security.TLS,
                      user="me@gmail.com", maildir="/tmp/m", auth="xoauth2",
                      oauth=OAuthSettings("google", client_id="c"))
    page, sign_in = _placed(qtbot, account)
    assert sign_in.provider() == "google" and sign_in.client_id_edit.text() == "c"
    assert sign_in.sign_in_status.text() == "Signed in"
    assert sign_in.signed_in and not sign_in.signed_in_now
    assert sign_in.signed_in_for(account)
    assert not sign_in.tenant_edit.isVisibleTo(page)  # Microsoft's alone
    with qtbot.waitSignal(sign_in.requested):
        sign_in.sign_in_button.click()
    sign_in.provider_combo.setCurrentIndex(sign_in.provider_combo.findData("microsoft"))
    sign_in.provider_combo.setCurrentIndex(sign_in.provider_combo.findData("google"))
    assert not sign_in.signed_in and not sign_in.signed_in_for(account)
    assert sign_in.sign_in_status.text() == "Not signed in yet"
