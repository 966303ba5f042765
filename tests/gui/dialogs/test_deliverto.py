"""gui.dialogs.deliverto: choosing where an account delivers, in the real account dialog,
and "Test connection" for an IMAP target against a real Dovecot (dovecot-imapd)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from core.accounts import Account
from core.net import Security
from core.store.targets import ImapSpec
from gui.dialogs.accountdialog import AccountDialog
from gui.dialogs.deliverto import Kind
from tests.gui.helpers import TIMEOUT
from tests.interop.targets.conftest import start_dovecot
from tests.support.dovecot import Dovecot, User
from tests.support.memkeyring import MemoryKeyring


def filled(qtbot: Any, **account: Any) -> AccountDialog:
    dialog = AccountDialog(Account(**account)) if account else AccountDialog()
    qtbot.addWidget(dialog)
    if not account:
        dialog.host_edit.setText("pop.example.org")
        dialog.user_edit.setText("me")
        dialog.maildir_edit.setText("/home/me/Mail/pop")
    return dialog


def choose_imap(dialog: AccountDialog, host: str, port: int, user: str, *, tls: bool,
                password: str = "", folder: str = "INBOX") -> None:
    deliver = dialog.deliver_to
    deliver.set_kind(Kind.IMAP)
    deliver.imap_host.setText(host)
    deliver.imap_security.setCurrentIndex(0 if tls else 1)
    deliver.imap_port.setValue(port)
    deliver.imap_user.setText(user)
    deliver.imap_password.setText(password)
    deliver.imap_folder.setText(folder)


def test_a_new_account_delivers_to_its_maildir(qtbot: Any) -> None:
    dialog = filled(qtbot)
    assert dialog.deliver_to.kind is Kind.MAILDIR
    assert dialog.deliver_to.pages.currentWidget().isAncestorOf(dialog.maildir_edit)
    dialog.accept()
    assert dialog.account is not None and dialog.account.deliver is None
    assert dialog.account.maildir == "/home/me/Mail/pop" and dialog.target_credentials is None


def test_choosing_an_imap_target_stores_its_url_and_its_password_for_the_keychain(
        qtbot: Any) -> None:
    dialog = filled(qtbot)
    choose_imap(dialog, "IMAP.Example.org", 993, "me@example.org", tls=True,
                password="imap-pw", folder="Archive/From POP")
    assert dialog.deliver_to.pages.currentWidget().isAncestorOf(dialog.deliver_to.imap_host)
    dialog.accept()
    account = dialog.account
    assert account is not None
    assert account.deliver == "imaps://me@example.org@imap.example.org/Archive/From%20POP"
    assert account.target() == ImapSpec("me@example.org", "imap.example.org", 993,
                                        "Archive/From POP", True)
    # the keychain entry the CLI's --deliver reads: USER@HOST:PORT of the IMAP server
    assert dialog.target_credentials == ("me@example.org@imap.example.org:993", "imap-pw")
    assert "imap-pw" not in repr(account.to_dict())


def test_an_imap_target_is_shown_again_when_the_account_is_edited(qtbot: Any) -> None:
    dialog = filled(qtbot, host="pop.example.org", port=995, security=Security.TLS, user="me",
                    maildir="/m", deliver="imap://me@imap.example.org:1143/INBOX")
    deliver = dialog.deliver_to
    assert deliver.kind is Kind.IMAP
    assert (deliver.imap_host.text(), deliver.imap_port.value(), deliver.imap_user.text(),
            deliver.imap_folder.text()) == ("imap.example.org", 1143, "me", "INBOX")
    assert deliver.imap_security.currentText() == "STARTTLS"
    assert deliver.imap_password.placeholderText() == "unchanged"
    dialog.accept()
    assert dialog.account is not None
    assert dialog.account.deliver == "imap://me@imap.example.org:1143/INBOX"
    assert dialog.target_credentials is None  # no password typed: the keychain keeps its own


@pytest.mark.parametrize(("kind", "field", "text", "url"), [
    (Kind.MBOX, "mbox_edit", "/home/me/mail.mbox", "mbox:/home/me/mail.mbox"),
    (Kind.MDA, "mda_edit", "procmail -d me", "mda:procmail -d me"),
    (Kind.LMTP, "lmtp_edit", "127.0.0.1:24", "lmtp:127.0.0.1:24"),
    (Kind.LMTP, "lmtp_edit", "/run/dovecot/lmtp", "lmtp:/run/dovecot/lmtp"),
])
def test_mbox_mda_and_lmtp_targets(qtbot: Any, kind: Kind, field: str, text: str,
                                   url: str) -> None:
    dialog = filled(qtbot)
    dialog.deliver_to.set_kind(kind)
    getattr(dialog.deliver_to, field).setText(text)
    dialog.accept()
    assert dialog.account is not None and dialog.account.deliver == url
    again = filled(qtbot, **{**dialog.account.to_dict(), "security": Security.TLS})
    assert again.deliver_to.kind is kind and getattr(again.deliver_to, field).text() == text


@pytest.mark.parametrize(("kind", "words"), [
    (Kind.IMAP, "IMAP server, user and folder"),
    (Kind.MBOX, "mbox file is missing"),
    (Kind.MDA, "command is missing"),
    (Kind.LMTP, "not HOST:PORT"),
])
def test_a_target_with_a_missing_field_is_not_saved(qtbot: Any, kind: Kind, words: str) -> None:
    dialog = filled(qtbot)
    dialog.deliver_to.set_kind(kind)
    dialog.accept()
    assert dialog.account is None and words in dialog.error_label.text()


# --- Test connection against a real Dovecot ---------------------------------------------


@pytest.fixture(scope="module")
def dovecot_imap() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_user(dovecot_imap: Dovecot) -> User:
    return dovecot_imap.add_user(f"dialog{secrets.token_hex(4)}", secrets.token_urlsafe(12))


def dialog_for_dovecot(qtbot: Any, dovecot: Dovecot, *, cafile: bool) -> AccountDialog:
    return filled(qtbot, host="pop.example.org", port=995, security=Security.TLS, user="me",
                  maildir="/m", cafile=str(dovecot.ca_pem) if cafile else None)


@pytest.mark.interop
@pytest.mark.parametrize("tls", [True, False], ids=["tls", "starttls"])
def test_test_connection_logs_in_and_finds_the_folder(
        qtbot: Any, dovecot_imap: Dovecot, imap_user: User, tls: bool) -> None:
    dialog = dialog_for_dovecot(qtbot, dovecot_imap, cafile=True)
    port = dovecot_imap.imaps_port if tls else dovecot_imap.imap_port
    choose_imap(dialog, "127.0.0.1", port, imap_user.name, tls=tls,
                password=imap_user.password)
    deliver = dialog.deliver_to
    deliver.imap_test.click()
    assert not deliver.imap_test.isEnabled()  # the GUI thread did not wait for the server
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    text = deliver.imap_result.text()
    assert text.startswith(f"Logged in to 127.0.0.1 as {imap_user.name}"), text
    assert "'INBOX' is there" in text

    deliver.imap_folder.setText("No Such Folder")
    deliver.imap_test.click()
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    assert deliver.imap_result.text().startswith("Failed: "), deliver.imap_result.text()
    assert "No Such Folder" in deliver.imap_result.text()


@pytest.mark.interop
def test_test_connection_reads_a_saved_password_and_says_a_wrong_one(
        qtbot: Any, dovecot_imap: Dovecot, imap_user: User,
        keyring_backend: MemoryKeyring) -> None:
    dialog = dialog_for_dovecot(qtbot, dovecot_imap, cafile=True)
    port = dovecot_imap.imaps_port
    keyring_backend.set_password("popfetch", f"{imap_user.name}@127.0.0.1:{port}",
                                 imap_user.password)
    choose_imap(dialog, "127.0.0.1", port, imap_user.name, tls=True)
    deliver = dialog.deliver_to
    deliver.imap_test.click()
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    assert deliver.imap_result.text().startswith("Logged in"), deliver.imap_result.text()

    deliver.imap_password.setText("not-the-password")
    deliver.imap_test.click()
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    assert "login as" in deliver.imap_result.text() and "refused" in deliver.imap_result.text()


@pytest.mark.interop
def test_an_untrusted_imap_certificate_is_the_targets_not_the_pop3_servers(
        qtbot: Any, dovecot_imap: Dovecot, imap_user: User) -> None:
    dialog = dialog_for_dovecot(qtbot, dovecot_imap, cafile=False)  # the system CAs only
    choose_imap(dialog, "127.0.0.1", dovecot_imap.imaps_port, imap_user.name, tls=True,
                password=imap_user.password)
    deliver = dialog.deliver_to
    deliver.imap_test.click()
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    text = deliver.imap_result.text()
    assert text.startswith("Failed: imaps://") and "certificate is not trusted" in text, text
    # nothing offers to pin it for the POP3 account
    test = dialog.connection_test
    assert not test.cert_button.isVisibleTo(dialog) and test.output.toPlainText() == ""
