"""The window's own behaviour: welcome page, demo mode, viewer, settings, password prompts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDialog, QLabel

from core.engine.events import ConnectionState, MessageState
from gui.demo import DemoService
from gui.dialogs.accountdialog import AccountDialog
from gui.dialogs.viewer import MessageViewer, load_message
from gui.keyring_access import KeychainAccess
from gui.models.columns import Column, RawRole
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import TIMEOUT, connect, demo_account, select, state

ROOT = Path(__file__).resolve().parents[3]


def test_without_accounts_the_window_offers_add_and_demo(qtbot, window):
    window.load_accounts()
    assert window.runners == []
    assert window.stack.currentWidget() is window.welcome
    assert window.welcome.add_button.isVisible() and window.welcome.demo_button.isVisible()
    assert window.welcome.demo_button.text() == "Try the demo mailbox"
    assert not window.acts.commit.isEnabled() and not window.acts.download_all.isEnabled()


def test_demo_mode_starts_a_local_server_and_lists_the_sample_mail(qtbot, window, tmp_path):
    services: list[DemoService] = []

    def factory() -> DemoService:
        services.append(DemoService(tmp_path / "demo", count=6, large_sizes=(600_000,),
                                    rate=4_000_000, drop=0.0))
        return services[-1]

    window.demo_factory = factory
    window.welcome.demo_button.click()
    qtbot.waitUntil(lambda: bool(window.runners) and window.runners[0].model.rowCount() == 7,
                    timeout=TIMEOUT)
    runner = window.runners[0]
    assert runner.demo and window.current is runner
    assert "Demo" in window.account_list.item(0).text()
    assert (tmp_path / "demo" / "mailbox").is_dir()  # made at first start
    window.acts.download_all.trigger()
    qtbot.waitUntil(lambda: runner.model.totals().stored == 7, timeout=TIMEOUT)
    assert len(list((tmp_path / "demo" / "Maildir" / "new").iterdir())) == 7
    # the status bar shows at most 4 updates a second
    qtbot.waitUntil(lambda: "7/7 stored" in window.status.overall_label.text())
    window.closer.really_close = True
    window.close()
    assert services[0].server is None  # stopped with the window


def test_double_click_on_a_stored_message_opens_the_viewer(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    small = min(runner.model.uidls(), key=lambda u: runner.model.data(
        runner.model.index(runner.model.row_of(u) or 0, Column.SIZE), RawRole))
    select(window, [small])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: state(runner, small) is MessageState.STORED, timeout=TIMEOUT)
    window.acts.open.trigger()
    viewer = next(d for d in window.open_dialogs() if isinstance(d, MessageViewer))
    qtbot.waitUntil(lambda: viewer.loaded is not None, timeout=TIMEOUT)
    names = [name for name, _ in viewer.loaded.headers]
    assert "From" in names and "Subject" in names
    assert viewer.body.toPlainText() and viewer.body.toPlainText() != "Loading…"
    subject = runner.model.data(runner.model.index(runner.model.row_of(small) or 0,
                                                   Column.SUBJECT))
    assert viewer.windowTitle() == subject
    viewer.close()


def test_viewer_reads_headers_and_text_part(tmp_path):
    path = tmp_path / "m"
    path.write_bytes(
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\nTo: you@example.org\n"
        b"Subject: Hello\nDate: Mon, 2 Nov 2026 08:00:00 +0000\nMIME-Version: 1.0\n"
        b"Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain; "
        b"charset=utf-8\n\nBody text \xc3\xa9\n--XX\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment; filename=a.pdf\n\nJVBERi0=\n--XX--\n")
    msg = load_message(str(path))
    assert dict(msg.headers)["From"] == "Jürgen <j@example.org>"
    assert msg.text.strip() == "Body text é"
    assert msg.attachments == ("a.pdf",)


def test_geometry_and_column_widths_are_remembered(qtbot, tmp_path, server):
    ini = str(tmp_path / "gui.ini")
    srv = server.start()

    def open_window() -> MainWindow:
        w = MainWindow(QSettings(ini, QSettings.Format.IniFormat), keychain=KeychainAccess())
        qtbot.addWidget(w)
        w.show()
        return w

    w = open_window()
    runner = connect(qtbot, w, demo_account(srv, tmp_path))
    w.resize(760, 540)  # inside the offscreen screen (800x600): restoreGeometry clamps
    w.table.horizontalHeader().resizeSection(Column.FROM, 321)
    w.closer.really_close = True
    w.close()
    runner.shutdown()
    w2 = open_window()
    connect(qtbot, w2, demo_account(srv, tmp_path, maildir=str(tmp_path / "other")))
    assert w2.table.horizontalHeader().sectionSize(Column.FROM) == 321
    assert (w2.width(), w2.height()) == (760, 540)
    w2.closer.really_close = True
    w2.close()


def test_filter_box_narrows_the_list(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    subject = runner.model.data(runner.model.index(0, Column.SUBJECT))
    window.acts.filter.trigger()
    qtbot.keyClicks(window.filter_edit, subject.upper())
    total = runner.model.rowCount()
    assert 0 < window.proxy.rowCount() < total
    assert all(subject.casefold() in window.proxy.data(window.proxy.index(r, Column.SUBJECT))
               .casefold() for r in range(window.proxy.rowCount()))
    window.filter_edit.clear()
    assert window.proxy.rowCount() == total


def test_refused_password_is_asked_again_and_then_saved(qtbot, window, server, tmp_path,
                                                       keyring_backend):
    srv = server.start()
    account = demo_account(srv, tmp_path)
    keyring_backend.passwords[("popfetch", account.key)] = "wrong"
    runner = window.add_runner(account)  # password from the keychain
    runner.start()
    qtbot.waitUntil(lambda: any(d.objectName() == "passwordDialog"
                                for d in window.open_dialogs()), timeout=TIMEOUT)
    dialog: Any = next(d for d in window.open_dialogs() if d.objectName() == "passwordDialog")
    assert dialog.remember.isChecked()
    labels = " ".join(w.text() for w in dialog.findChildren(QLabel))
    assert "refused" in labels
    dialog.edit.setText("demo")
    dialog.accept()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED,
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: keyring_backend.passwords[("popfetch", account.key)] == "demo",
                    timeout=TIMEOUT)


def test_cancelled_password_stops_without_asking_in_a_loop(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = window.add_runner(demo_account(srv, tmp_path))  # nothing in the keychain
    runner.start()
    qtbot.waitUntil(lambda: any(d.objectName() == "passwordDialog"
                                for d in window.open_dialogs()), timeout=TIMEOUT)
    dialog = next(d for d in window.open_dialogs() if d.objectName() == "passwordDialog")
    dialog.reject()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.FAILED, timeout=TIMEOUT)
    assert not any(d.objectName() == "passwordDialog" for d in window.open_dialogs())
    assert window.status.retry_button.isVisible() and window.error_banner.isVisible()
    assert runner.status_text() == "Needs the password"


def test_account_dialog_port_follows_security_until_edited(qtbot):
    dialog = AccountDialog()
    qtbot.addWidget(dialog)
    assert dialog.port_spin.value() == 995
    dialog.security_combo.setCurrentIndex(1)  # STARTTLS
    assert dialog.port_spin.value() == 110
    assert not dialog.warning.isVisibleTo(dialog)
    dialog.security_combo.setCurrentIndex(2)  # none
    assert dialog.warning.isVisibleTo(dialog)
    dialog.port_spin.setValue(1110)
    dialog.security_combo.setCurrentIndex(0)
    assert dialog.port_spin.value() == 1110  # the user's choice stays
    dialog.host_edit.setText("Pop.Example.org")
    dialog.user_edit.setText("me")
    dialog._suggest_maildir()
    assert dialog.maildir_edit.text().endswith("Mail/me@pop.example.org")
    dialog.accept()
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.account is not None and dialog.account.host == "pop.example.org"


def test_account_dialog_without_keychain_says_so(qtbot):
    dialog = AccountDialog(keychain_available=False, keychain_problem="No keychain here.")
    qtbot.addWidget(dialog)
    assert not dialog.keychain_check.isEnabled()
    assert dialog.keychain_note.text() == "No keychain here."


def test_version_from_the_command_line():
    out = subprocess.run([sys.executable, "-m", "gui", "--version"], capture_output=True,
                         text=True, timeout=60, cwd=str(ROOT),
                         env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"})
    from core import __version__

    assert out.stdout.strip() == f"popfetch {__version__}", out.stderr


def test_a_keychain_that_refuses_to_save_is_reported(qtbot, window):
    from tests.support.memkeyring import BrokenKeyring, installed

    with installed(BrokenKeyring(RuntimeError("Prompt dismissed"))):
        window.keychain.set_password("me@example.org:995", "pw")
        qtbot.waitUntil(lambda: any(d.objectName() == "keychainProblem"
                                    for d in window.open_dialogs()), timeout=TIMEOUT)
    box: Any = next(d for d in window.open_dialogs() if d.objectName() == "keychainProblem")
    assert "could not be saved" in box.text()
    assert "asks for it each time" in box.informativeText()
    assert window.keychain.available is False
