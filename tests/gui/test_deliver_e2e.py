"""A fetch in the app that lands in a real Dovecot's INBOX over IMAP (issue 12).

One Dovecot serves both sides: POP3 (TLS) for the account's mailbox, IMAP (TLS) for the
target. Both passwords come from the keychain, as in use: the POP3 one under the account's
key, the IMAP one under USER@HOST:PORT of the IMAP server (what the dialog saves).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from core.accounts import Account
from core.engine.events import ConnectionState, MessageState
from core.net import Security
from core.store.catalog import read_catalog
from gui.dialogs.accountdialog import AccountDialog
from gui.dialogs.deliverto import Kind
from gui.models.columns import Column
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import TIMEOUT
from tests.interop.targets.conftest import start_dovecot
from tests.support.dovecot import Dovecot, make_messages, to_wire
from tests.support.memkeyring import MemoryKeyring

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def dovecot_both() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


def test_a_fetch_in_the_app_lands_in_dovecots_inbox_once_and_intact(
        qtbot: Any, window: MainWindow, dovecot_both: Dovecot, tmp_path: Path,
        keyring_backend: MemoryKeyring) -> None:
    dovecot = dovecot_both
    tag = secrets.token_hex(4)
    source = dovecot.add_user(f"source{tag}", secrets.token_urlsafe(12))
    target = dovecot.add_user(f"target{tag}", secrets.token_urlsafe(12))
    messages = make_messages(6, tag=tag)
    dovecot.fill(source.name, messages)
    url = f"imaps://{target.name}@127.0.0.1:{dovecot.imaps_port}/INBOX"
    account = Account(host="127.0.0.1", port=dovecot.pop3s_port, security=Security.TLS,
                      user=source.name, maildir=str(tmp_path / "unused-Maildir"),
                      cafile=str(dovecot.ca_pem), deliver=url)
    keyring_backend.set_password("popfetch", account.key, source.password)
    keyring_backend.set_password("popfetch", f"{target.name}@127.0.0.1:{dovecot.imaps_port}",
                                 target.password)

    runner = window.add_runner(account)
    window.select_runner(runner)
    runner.start()
    model = runner.model
    qtbot.waitUntil(lambda: model.rowCount() == 6, timeout=TIMEOUT)
    runner.download()
    qtbot.waitUntil(lambda: {model.state_of(u) for u in model.uidls()} == {MessageState.STORED},
                    timeout=TIMEOUT)
    assert runner.connection.state is ConnectionState.CONNECTED and runner.last_error is None

    # in Dovecot's INBOX, each once and intact (the IMAP server stores what POP3 sent)
    arrived = sorted(to_wire(m) for m in dovecot.contents(target.name))
    assert arrived == sorted(to_wire(m) for m in messages)
    assert not (tmp_path / "unused-Maildir").exists()

    # each row says where it went; nothing claims a local file
    for uidl in model.uidls():
        row = model.row_of(uidl)
        assert row is not None
        tip = model.data(model.index(row, Column.STATE), Qt.ItemDataRole.ToolTipRole)
        assert f"Delivered to {url} (UID " in tip, tip
        assert model.path_of(uidl) == "" and model.receipt_of(uidl).startswith(f"{url} UID ")

    # and the stored list, read without the engine, keeps the receipts
    entries = read_catalog(None, account.state_dir(create=False))
    assert sorted(e.uidl for e in entries) == sorted(model.uidls())
    assert all(e.receipt.startswith(f"{url} UID ") for e in entries)


def test_an_imap_target_chosen_in_the_dialog_gets_the_mail_and_its_password_the_keychain(
        qtbot: Any, window: MainWindow, dovecot_both: Dovecot, tmp_path: Path,
        keyring_backend: MemoryKeyring) -> None:
    dovecot = dovecot_both
    tag = secrets.token_hex(4)
    source = dovecot.add_user(f"src{tag}", secrets.token_urlsafe(12))
    target = dovecot.add_user(f"tgt{tag}", secrets.token_urlsafe(12))
    messages = make_messages(3, tag=tag)
    dovecot.fill(source.name, messages)

    window.add_account()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, AccountDialog))
    dialog.host_edit.setText("127.0.0.1")
    dialog.port_spin.setValue(dovecot.pop3s_port)  # SSL/TLS, the default
    dialog.user_edit.setText(source.name)
    dialog.password_edit.setText(source.password)
    dialog.maildir_edit.setText(str(tmp_path / "Maildir"))  # kept for a switch back
    dialog._cafile = str(dovecot.ca_pem)  # as a CA file the account already had
    dialog.deliver_to._cafile = dialog._cafile
    deliver = dialog.deliver_to
    deliver.set_kind(Kind.IMAP)
    deliver.imap_host.setText("127.0.0.1")
    deliver.imap_port.setValue(dovecot.imaps_port)
    deliver.imap_user.setText(target.name)
    deliver.imap_password.setText(target.password)
    deliver.imap_test.click()
    qtbot.waitUntil(deliver.imap_test.isEnabled, timeout=TIMEOUT)
    assert deliver.imap_result.text().startswith("Logged in"), deliver.imap_result.text()
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.error_label.text() == ""

    imap_key = f"{target.name}@127.0.0.1:{dovecot.imaps_port}"
    qtbot.waitUntil(lambda: keyring_backend.passwords.get(("popfetch", imap_key))
                    == target.password, timeout=TIMEOUT)
    runner = window.current
    assert runner is not None
    assert runner.account.deliver == f"imaps://{imap_key}/INBOX"
    qtbot.waitUntil(lambda: runner.model.rowCount() == 3, timeout=TIMEOUT)
    runner.download()
    qtbot.waitUntil(lambda: len(dovecot.files(target.name)) == 3, timeout=TIMEOUT)
    assert sorted(dovecot.contents(target.name)) == sorted(messages)


@pytest.mark.parametrize("shared", [False, True], ids=["alone", "shared-with-another"])
def test_a_changed_imap_target_port_takes_its_saved_password_along(
        qtbot: Any, window: MainWindow, dovecot_both: Dovecot, tmp_path: Path,
        keyring_backend: MemoryKeyring, shared: bool) -> None:
    """Edit account: the target moves from STARTTLS (143-style) to SSL/TLS on another port,
    the IMAP password not retyped. The saved one follows to the new USER@HOST:PORT (and
    stays under the old one while another account delivers there), and the mail arrives."""
    dovecot = dovecot_both
    tag = secrets.token_hex(4)
    source = dovecot.add_user(f"mv{tag}", secrets.token_urlsafe(12))
    target = dovecot.add_user(f"mvt{tag}", secrets.token_urlsafe(12))
    messages = make_messages(2, tag=tag)
    dovecot.fill(source.name, messages)
    old_key = f"{target.name}@127.0.0.1:{dovecot.imap_port}"
    new_key = f"{target.name}@127.0.0.1:{dovecot.imaps_port}"
    account = Account(host="127.0.0.1", port=dovecot.pop3s_port, security=Security.TLS,
                      user=source.name, maildir=str(tmp_path / "unused-Maildir"),
                      cafile=str(dovecot.ca_pem), deliver=f"imap://{old_key}/INBOX")
    keyring_backend.set_password("popfetch", account.key, source.password)
    keyring_backend.set_password("popfetch", old_key, target.password)
    if shared:  # another POP3 account delivering to the same IMAP mailbox
        other = Account(host="127.0.0.1", port=dovecot.pop3s_port, security=Security.TLS,
                        user=f"other{tag}", maildir=str(tmp_path / "other"),
                        cafile=str(dovecot.ca_pem), deliver=f"imap://{old_key}/INBOX")
        window.add_runner(other)
    runner = window.add_runner(account)
    window.select_runner(runner)

    window.acts.edit.trigger()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, AccountDialog))
    deliver = dialog.deliver_to
    assert deliver.kind is Kind.IMAP and deliver.imap_password.text() == ""
    deliver.imap_security.setCurrentIndex(0)  # SSL/TLS
    deliver.imap_port.setValue(dovecot.imaps_port)
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    assert dialog.error_label.text() == ""

    qtbot.waitUntil(lambda: keyring_backend.passwords.get(("popfetch", new_key))
                    == target.password, timeout=TIMEOUT)
    kept = keyring_backend.passwords.get(("popfetch", old_key))
    assert kept == (target.password if shared else None)
    edited = window.current
    assert edited is not None and edited.account.deliver == f"imaps://{new_key}/INBOX"
    qtbot.waitUntil(lambda: edited.model.rowCount() == 2, timeout=TIMEOUT)
    edited.download()
    qtbot.waitUntil(lambda: len(dovecot.files(target.name)) == 2, timeout=TIMEOUT)
    assert sorted(dovecot.contents(target.name)) == sorted(messages)
    assert edited.last_error is None
