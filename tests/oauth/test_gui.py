"""The app's side of OAuth (pytest-qt, offscreen), against the real provider and Dovecot.

"Gmail" here is the Google preset pointed at the local oidc-provider (its endpoints, a
Dovecot port), so the dialog's preset, the browser hand-off and the keychain are the real
code paths; the "browser" is the scripted one, started where QDesktopServices would be.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

import gui.oauth
from core.accounts import Account, AccountBook, OAuthSettings
from core.auth.keychain import Keychain
from core.auth.oauth import SIGNED_IN_PAGE, get_json, refresh_token_key, sign_in
from core.auth.oauth_providers import PRESETS, Preset
from core.engine.coordinator import RetryPolicy
from core.engine.events import ConnectionState
from core.net import Security
from gui.dialogs.accountdialog import AccountDialog
from gui.keyring_access import KeychainAccess
from gui.window.mainwindow import MainWindow
from tests.oauth.conftest import MAILBOX
from tests.oauth.dovecot_oauth import OAuthDovecot
from tests.oauth.helpers import assert_no_secret_in
from tests.support.dovecot import make_messages
from tests.support.memkeyring import MemoryKeyring, installed
from tests.support.oidc.provider import Browser, OidcProvider

TIMEOUT = 30_000  # ms
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))


@pytest.fixture
def keyring_backend() -> Iterator[MemoryKeyring]:
    with installed(MemoryKeyring()) as backend:
        assert isinstance(backend, MemoryKeyring)
        yield backend


@pytest.fixture
def local_google(oidc: OidcProvider, oauth_dovecot: OAuthDovecot,
                 monkeypatch: pytest.MonkeyPatch) -> Preset:
    doc = get_json(f"{oidc.issuer}/.well-known/openid-configuration")
    preset = Preset(
        name="google", title="Google",
        authorization_endpoint=doc["authorization_endpoint"],
        token_endpoint=doc["token_endpoint"], device_authorization_endpoint="",
        revocation_endpoint=doc["revocation_endpoint"], scopes=("openid", "pop"),
        host="127.0.0.1", port=oauth_dovecot.pop3s_port, security=Security.TLS,
        extra_authorization_params=PRESETS["google"].extra_authorization_params,
    )
    monkeypatch.setitem(PRESETS, "google", preset)  # type: ignore[arg-type]
    return preset


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Where the app would call QDesktopServices: the scripted browser, on its own thread.
    Returns the pages it ended on."""
    pages: list[str] = []

    def open_in_browser(url: str) -> None:
        threading.Thread(target=lambda: pages.append(Browser(MAILBOX).authorize(url)),
                         daemon=True).start()

    monkeypatch.setattr(gui.oauth, "open_in_browser", open_in_browser)
    return pages


@pytest.mark.usefixtures("keyring_backend")
def test_gmail_preset_signs_in_through_the_browser_instead_of_a_password(
    qtbot: Any, local_google: Preset, browser: list[str], tmp_path: Path
):
    dialog = AccountDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.oauth.sign_in_button.isVisible() and dialog.password_edit.isVisible()
    dialog.oauth.provider_combo.setCurrentIndex(dialog.oauth.provider_combo.findText("Gmail"))
    assert dialog.host_edit.text() == "127.0.0.1"
    assert dialog.port_spin.value() == local_google.port
    assert dialog.security() is Security.TLS
    assert dialog.oauth.sign_in_button.text() == "Sign in with Google"
    assert dialog.oauth.sign_in_button.isVisible() and not dialog.password_edit.isVisible()
    assert dialog.auth_combo.currentText() == "xoauth2"

    dialog.user_edit.setText(MAILBOX)
    dialog.oauth.client_id_edit.setText(OidcProvider.CLIENT_ID)
    dialog.accept()  # not signed in yet: refused with a reason
    assert dialog.account is None and "Sign in first" in dialog.error_label.text()

    dialog.oauth.sign_in_button.click()
    qtbot.waitUntil(lambda: dialog.oauth.signed_in, timeout=TIMEOUT)
    assert browser == [browser[0]] and SIGNED_IN_PAGE in browser[0]
    assert dialog.oauth.sign_in_status.text() == f"Signed in as {MAILBOX}"
    dialog.user_edit.setText("someone-else@example.test")  # the token is not theirs
    dialog.accept()
    assert dialog.account is None and "Sign in first" in dialog.error_label.text()
    dialog.user_edit.setText(MAILBOX)
    dialog.accept()
    account = dialog.account
    assert account is not None and dialog.password is None
    assert account.oauth == OAuthSettings("google", client_id=OidcProvider.CLIENT_ID)
    assert Keychain().get(refresh_token_key(account.key))
    assert Keychain().get(account.key) is None  # no password was stored


@pytest.fixture
def window(qtbot: Any, tmp_path: Path, keyring_backend: MemoryKeyring) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat)
    w = MainWindow(
        settings, book=AccountBook(tmp_path / "accounts.json"), keychain=KeychainAccess(),
        engine_kwargs={"retry": RetryPolicy(initial=0.2, factor=1.0, maximum=0.2, jitter=0.0),
                       "read_timeout": 10.0, "connect_timeout": 5.0},
    )
    qtbot.addWidget(w)
    w.show()
    yield w
    w.closer.really_close = True
    w.close()


def test_a_revoked_grant_shows_sign_in_expired_and_sign_in_again_reconnects(
    qtbot: Any, window: MainWindow, oidc: OidcProvider, oauth_dovecot: OAuthDovecot,
    local_google: Preset, browser: list[str], tmp_path: Path, keyring_backend: MemoryKeyring,
):
    oauth_dovecot.clear("alice")
    oauth_dovecot.fill("alice", make_messages(2, tag="gui"))
    account = Account(host="127.0.0.1", port=local_google.port, security=Security.TLS,
                      user=MAILBOX, maildir=str(tmp_path / "Mail"),
                      cafile=str(oauth_dovecot.ca_pem), auth="xoauth2",
                      oauth=OAuthSettings("google", client_id=OidcProvider.CLIENT_ID))
    sign_in(account, lambda url: threading.Thread(
        target=lambda: Browser(MAILBOX).authorize(url), daemon=True).start(), timeout=60)
    runner = window.add_runner(account)
    window.select_runner(runner)
    runner.start()
    qtbot.waitUntil(lambda: runner.model.rowCount() == 2
                    and runner.connection.state is ConnectionState.CONNECTED, timeout=TIMEOUT)

    # The user revokes popfetch at the provider; the next login meets the refusal.
    revoked = Keychain().get(refresh_token_key(account.key)) or ""
    oidc.revoke(revoked)
    runner.end_session()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.DISCONNECTED,
                    timeout=TIMEOUT)
    runner.refresh()
    qtbot.waitUntil(lambda: runner.sign_in_expired, timeout=TIMEOUT)
    item = window.account_list.item(0)
    assert item is not None and "Sign-in expired" in item.text()
    banner = window.error_banner
    qtbot.waitUntil(lambda: banner.isVisible(), timeout=TIMEOUT)
    assert banner.sign_in.isVisible() and not banner.retry.isVisible()
    assert "Sign-in expired" in banner.label.text()
    assert "sign in again" in banner.label.text()
    assert not runner.needs_password  # no password prompt, no retry loop

    banner.sign_in.click()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED,
                    timeout=TIMEOUT)
    assert not runner.sign_in_expired and not banner.isVisible()
    assert any(SIGNED_IN_PAGE in page for page in browser)
    assert "Sign-in expired" not in (window.account_list.item(0) or item).text()
    window.save_settings()
    fresh = keyring_backend.passwords[("popfetch", refresh_token_key(account.key))]
    assert fresh != revoked
    assert_no_secret_in([tmp_path], [revoked, fresh])  # XDG dirs, gui.ini, the Maildir


def test_outlook_asks_for_a_tenant_and_other_servers_get_their_password_back(qtbot: Any):
    dialog = AccountDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.oauth.provider_combo.setCurrentIndex(
        dialog.oauth.provider_combo.findText("Outlook / Microsoft 365"))
    assert dialog.host_edit.text() == "outlook.office365.com"
    assert (dialog.port_spin.value(), dialog.security()) == (995, Security.TLS)
    assert dialog.oauth.sign_in_button.text() == "Sign in with Microsoft"
    assert dialog.oauth.tenant_edit.isVisible() and dialog.oauth.client_id_edit.isVisible()
    combo = dialog.oauth.provider_combo
    combo.setCurrentIndex(combo.findText("Other POP3 server"))
    assert dialog.password_edit.isVisible() and not dialog.oauth.sign_in_button.isVisible()
    assert not dialog.oauth.tenant_edit.isVisible()
    assert dialog.auth_combo.currentText() == "auto"


def test_editing_a_signed_in_account_keeps_its_provider(qtbot: Any):
    account = Account(host="pop.gmail.com", port=995, security=Security.TLS, user="me@gmail.com",
                      maildir="/tmp/m", auth="xoauth2", oauth=OAuthSettings("google"))
    dialog = AccountDialog(account)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.oauth.provider_combo.currentText() == "Gmail"
    assert dialog.oauth.sign_in_status.text() == "Signed in"
    dialog.accept()
    assert dialog.account == account and dialog.password is None


def test_removing_an_oauth_account_forgets_its_refresh_token(
    qtbot: Any, window: MainWindow, keyring_backend: MemoryKeyring, tmp_path: Path
):
    from PySide6.QtWidgets import QMessageBox

    from tests.gui.helpers import answer

    account = Account(host="pop.gmail.com", port=995, security=Security.TLS, user="me@gmail.com",
                      maildir=str(tmp_path / "Mail"), auth="xoauth2",
                      oauth=OAuthSettings("google"))
    window.book.add(account)
    Keychain().set(refresh_token_key(account.key), "a-refresh-token")
    window.add_runner(account)
    window.acts.remove.trigger()
    answer(qtbot, window, "removeAccount", QMessageBox.StandardButton.Yes)
    qtbot.waitUntil(lambda: not keyring_backend.passwords, timeout=TIMEOUT)
    assert window.book.load() == []
