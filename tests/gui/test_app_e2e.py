"""The real main window driving the real engine against the real demo server (loopback).

Every wait is qtbot.waitUntil on state the GUI thread owns (the model, labels, dialogs), so
no test waits on a signal emitted from the engine's worker thread.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from core.accounts import AccountBook
from core.engine.events import ConnectionState, MessageState, TranscriptLine
from core.net import Security
from gui.dialogs.accountdialog import AccountDialog
from gui.dialogs.certdialog import CertificateDialog
from gui.models.columns import Column, RawRole
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import (
    LARGE,
    TIMEOUT,
    answer,
    connect,
    demo_account,
    large_uidl,
    select,
    server_files,
    source_file,
    state,
)
from tests.support.certs import make_ca_and_server_cert
from tests.support.memkeyring import installed

# --------------------------------------------------------------------------- tests


def test_list_loads_with_headers_before_any_body(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    model = runner.model
    assert model.rowCount() == 9
    assert window.proxy.rowCount() == 9
    senders = {model.data(model.index(r, Column.FROM)) for r in range(9)}
    subjects = {model.data(model.index(r, Column.SUBJECT)) for r in range(9)}
    assert "" not in senders and len(subjects) > 3
    assert all(state(runner, u) is MessageState.REMOTE for u in model.uidls())
    assert not any(cmd.startswith("RETR") for cmd in srv.commands)
    assert sum(cmd.startswith("TOP") for cmd in srv.commands) == 9
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    assert window.stack.currentWidget() is window.messages_page
    assert "Can resume" in window.status.resume_label.text()
    assert "Not encrypted" in window.status.secure_label.text()


def test_download_progress_rises_to_100_and_the_file_is_in_the_maildir(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start(rate=2_000_000)
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    uidl = large_uidl(runner)
    seen: list[float] = []
    row = runner.model.row_of(uidl)

    def on_change(top: Any, bottom: Any, roles: Any = ()) -> None:
        if top.row() <= row <= bottom.row():
            seen.append(runner.model.data(runner.model.index(row, Column.PROGRESS), RawRole))

    runner.model.dataChanged.connect(on_change)
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STORED, timeout=TIMEOUT)
    ups = [v for v in seen if 0 < v < 1]
    assert len(ups) >= 3, seen  # intermediate progress was shown
    assert ups == sorted(ups)
    assert seen[-1] == 1.0
    text = runner.model.data(runner.model.index(row, Column.PROGRESS))
    assert text == "stored"
    stored = Path(runner.model.path_of(uidl))
    assert stored.parent == tmp_path / "Maildir" / "new"
    assert stored.read_bytes() == source_file(mailbox, uidl).read_bytes()


def test_pause_midway_and_resume_completes_intact(qtbot, window, server, tmp_path, mailbox):
    srv = server.start(rate=1_000_000)
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    uidl = large_uidl(runner)
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: (runner.model.received_of(uidl) or 0) > LARGE * 0.25,
                    timeout=TIMEOUT)
    window.acts.toggle.trigger()  # Space: pause the selection
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.PAUSED, timeout=TIMEOUT)
    at = runner.model.received_of(uidl) or 0
    assert 0 < at < LARGE
    text = runner.model.data(runner.model.index(runner.model.row_of(uidl) or 0, Column.PROGRESS))
    assert text.startswith("paused at ")
    window._update_actions()
    assert window.acts.toggle.text() == "&Resume"
    window.acts.toggle.trigger()  # Space again: resume
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STORED, timeout=TIMEOUT)
    stored = Path(runner.model.path_of(uidl))
    assert stored.read_bytes() == source_file(mailbox, uidl).read_bytes()
    retrs = [c for c in srv.commands if c.startswith("RETR ")]
    # resumed from the bytes kept, none of them past where the pause left it
    assert any(len(c.split()) == 3 and 0 < int(c.split()[2]) <= at for c in retrs), retrs


def test_dropped_connection_shows_reconnecting_and_finishes_by_itself(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start(rate=2_000_000)
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    uidl = large_uidl(runner)
    srv.cut_at([1_000_000])
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: window.status.conn_label.text().startswith("Connection lost")
                    and "— retrying in" in window.status.conn_label.text(), timeout=TIMEOUT)
    assert "(attempt " in window.status.conn_label.text()
    assert window.status.retry_button.isVisible()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STALLED, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STORED, timeout=TIMEOUT)
    assert not window.status.retry_button.isVisible()
    stored = Path(runner.model.path_of(uidl))
    assert stored.read_bytes() == source_file(mailbox, uidl).read_bytes()


def test_marks_change_nothing_until_commit_which_removes_exactly_them(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    before = server_files(mailbox)
    uidls = runner.model.uidls()
    select(window, uidls[:3])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: len(runner.model.marked_uidls()) == 3, timeout=TIMEOUT)
    assert window.marks_banner.isVisible()
    assert "3 messages" in window.marks_banner.label.text()
    assert "only when you commit" in window.marks_banner.label.text()
    select(window, [uidls[1]])
    window.acts.unmark.trigger()
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [uidls[0], uidls[2]],
                    timeout=TIMEOUT)
    assert "2 messages" in window.marks_banner.label.text()
    qtbot.waitUntil(lambda: "RSET" in srv.commands, timeout=TIMEOUT)  # the unmark went out
    assert server_files(mailbox) == before and srv.deleted == []

    window.acts.commit.trigger()
    box = answer(qtbot, window, "commitConfirm", QMessageBox.StandardButton.Ok)
    assert "Delete 2 messages" in box.text()
    qtbot.waitUntil(lambda: bool(window.last_report), timeout=TIMEOUT)
    assert "deleted 2 messages" in window.last_report
    assert sorted(srv.deleted) == sorted([uidls[0], uidls[2]])
    assert server_files(mailbox) == before - {uidls[0], uidls[2]}
    qtbot.waitUntil(lambda: not window.marks_banner.isVisible())
    report = [d for d in window.open_dialogs() if d.objectName() == "commitReport"]
    assert report and "deleted 2 messages" in report[0].text()


def test_closing_with_marks_asks_and_cancel_keeps_the_window(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    uidl = runner.model.uidls()[0]
    select(window, [uidl])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [uidl], timeout=TIMEOUT)
    assert not window.close()
    box = answer(qtbot, window, "closeQuestion", QMessageBox.StandardButton.Cancel)
    assert window.isVisible()
    assert "1 message" in box.text() and "marked for deletion" in box.text()
    assert "only when you commit" in box.informativeText()
    assert not window.close()
    answer(qtbot, window, "closeQuestion", QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)  # quit, no commit
    assert srv.deleted == []
    assert uidl in server_files(mailbox)


def test_account_dialog_puts_the_password_in_the_keychain_only(
        qtbot, window, server, tmp_path, keyring_backend):
    secret = "s3cret-Pw!x"
    srv = server.start(users={"alice": secret})
    window.add_account()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, AccountDialog))
    host, port = srv.address
    dialog.name_edit.setText("Test server")
    dialog.host_edit.setText(host)
    dialog.security_combo.setCurrentIndex(2)  # none
    assert dialog.warning.isVisible()
    assert dialog.port_spin.value() == 110  # followed the security choice
    dialog.port_spin.setValue(port)
    dialog.plaintext_check.setChecked(True)
    dialog.user_edit.setText("alice")
    dialog.password_edit.setText(secret)
    dialog.maildir_edit.setText(str(tmp_path / "alice-mail"))
    dialog.start_test()
    output = dialog.connection_test.output
    qtbot.waitUntil(lambda: "Signed in" in output.toPlainText(), timeout=TIMEOUT)
    assert "EXT-RETR" in output.toPlainText()
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()

    key = f"alice@{host}:{port}"
    qtbot.waitUntil(lambda: keyring_backend.passwords.get(("popfetch", key)) == secret,
                    timeout=TIMEOUT)
    runner = window.current
    assert runner is not None and runner.account.key == key
    qtbot.waitUntil(lambda: runner.model.rowCount() == 9, timeout=TIMEOUT)
    window.save_settings()
    from gui.tasks import serial

    serial.submit(lambda: None).result(timeout=10)  # the accounts file is written
    assert AccountBook(tmp_path / "xdg" / "accounts.json").get(key) is not None
    files = [p for p in (tmp_path / "xdg").rglob("*") if p.is_file()]
    assert any(p.name == "accounts.json" for p in files)
    assert any(p.name == "gui.ini" for p in files)
    for p in files:
        assert secret.encode() not in p.read_bytes(), p


def test_no_keychain_asks_for_the_password(qtbot, window, server, tmp_path):
    from tests.support.memkeyring import BrokenKeyring

    srv = server.start()
    with installed(BrokenKeyring(RuntimeError("no D-Bus session bus"))):
        runner = window.add_runner(demo_account(srv, tmp_path))  # keychain, no fixed password
        runner.start()
        qtbot.waitUntil(lambda: any(d.objectName() == "passwordDialog"
                                    for d in window.open_dialogs()), timeout=TIMEOUT)
        dialog: Any = next(d for d in window.open_dialogs()
                           if d.objectName() == "passwordDialog")
        assert not dialog.remember.isVisible()  # nothing to remember it in
        dialog.edit.setText("demo")
        dialog.accept()
        qtbot.waitUntil(lambda: runner.model.rowCount() == 9, timeout=TIMEOUT)
        assert window.keychain.available is False


def test_untrusted_certificate_shows_the_trust_dialog_and_pinning_connects(
        qtbot, window, server, tmp_path):
    certs = make_ca_and_server_cert(tmp_path / "certs")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    srv = server.start(tls=ctx, implicit_tls=True)
    account = demo_account(srv, tmp_path, security=Security.TLS, allow_plaintext=False)
    runner = window.add_runner(account, fixed_password="demo")
    window.select_runner(runner)
    runner.start()
    qtbot.waitUntil(lambda: any(isinstance(d, CertificateDialog)
                                for d in window.open_dialogs()), timeout=TIMEOUT)
    dialog = next(d for d in window.open_dialogs() if isinstance(d, CertificateDialog))
    assert dialog.info.sha256 == certs.sha256
    fingerprint = dialog.findChild(QLabel, "fingerprint")
    assert fingerprint is not None
    assert fingerprint.text().replace("\n", ":") == certs.sha256
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.FAILED, timeout=TIMEOUT)
    dialog.trust_button.click()
    assert runner.account.pinned_sha256 == certs.sha256
    qtbot.waitUntil(lambda: runner.model.rowCount() == 9, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    assert "Secure" in window.status.secure_label.text()


def test_keyboard_shortcuts_are_set(tmp_path):
    window_actions = {
        "check": "F5", "toggle": "Space", "mark": "Del", "unmark": "Shift+Del",
        "commit": "Ctrl+Return",
    }
    # a real file: closing saves the settings, and QSettings saves by renaming a temp file
    # over its path (over /dev/null, as root, it replaced the device with a plain file)
    w = MainWindow(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    try:
        for name, key in window_actions.items():
            assert getattr(w.acts, name).shortcut().toString() == key, name
            assert getattr(w.acts, name).toolTip()
        assert w.stack.currentWidget() is w.welcome
        assert w.welcome.demo_button.isVisible() or not w.isVisible()
    finally:
        w.closer.really_close = True
        w.close()
        w.deleteLater()



def test_paused_download_resumes_after_the_app_is_reopened(qtbot, window, server, tmp_path,
                                                           mailbox):
    srv = server.start(rate=1_000_000)
    account = demo_account(srv, tmp_path)
    runner = connect(qtbot, window, account)
    uidl = large_uidl(runner)
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: (runner.model.received_of(uidl) or 0) > LARGE * 0.2,
                    timeout=TIMEOUT)
    window.acts.toggle.trigger()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.PAUSED, timeout=TIMEOUT)
    at = runner.model.received_of(uidl) or 0
    assert window.close()  # a paused message is not "in progress": no question
    # a new window, as after a restart: the same account and state directory
    again = MainWindow(QSettings(str(tmp_path / "gui2.ini"), QSettings.Format.IniFormat),
                       book=AccountBook(tmp_path / "accounts2.json"))
    qtbot.addWidget(again)
    again.show()
    try:
        runner2 = connect(qtbot, again, account)
        qtbot.waitUntil(lambda: state(runner2, uidl) is MessageState.PAUSED, timeout=TIMEOUT)
        assert runner2.model.received_of(uidl) == at
        row = runner2.model.row_of(uidl) or 0
        assert runner2.model.data(runner2.model.index(row, Column.PROGRESS)).startswith(
            "paused at ")
        before = len(srv.commands)
        again.acts.resume_all.trigger()
        qtbot.waitUntil(lambda: state(runner2, uidl) is MessageState.STORED, timeout=TIMEOUT)
        assert Path(runner2.model.path_of(uidl)).read_bytes() == \
            source_file(mailbox, uidl).read_bytes()
        retrs = [c for c in srv.commands[before:] if c.startswith("RETR ")]
        assert retrs and all(len(c.split()) == 3 and int(c.split()[2]) > 0 for c in retrs)
    finally:
        again.closer.really_close = True
        again.close()


def test_commit_and_quit_deletes_the_marked_then_closes(qtbot, window, server, tmp_path,
                                                        mailbox):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    uidl = runner.model.uidls()[-1]
    select(window, [uidl])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [uidl], timeout=TIMEOUT)
    assert not window.close()  # not yet: asks, then waits for the server's answer
    answer(qtbot, window, "closeQuestion", QMessageBox.StandardButton.Save)  # commit, quit
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=TIMEOUT)
    assert srv.deleted == [uidl]
    assert uidl not in server_files(mailbox)


def test_shortcut_keys_reach_the_actions(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    window.activateWindow()
    qtbot.waitActive(window)
    uidl = runner.model.uidls()[0]
    select(window, [uidl])
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [uidl], timeout=TIMEOUT)
    qtbot.keyClick(window.table, Qt.Key.Key_Delete, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [], timeout=TIMEOUT)
    qtbot.keyClick(window.table, Qt.Key.Key_Space)  # resume = download this one
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STORED, timeout=TIMEOUT)


def test_protocol_log_shows_the_session_without_the_password(qtbot, window, server, tmp_path):
    secret = "Very-Secret-42"
    srv = server.start(users={"bob": secret})
    window.log.show()
    connect(qtbot, window, demo_account(srv, tmp_path, user="bob"), password=secret)
    qtbot.waitUntil(lambda: any("C: CAPA" in line for line in window.log.lines()))
    text = "\n".join(window.log.lines())
    assert "S: +OK" in text and "UIDL" in text
    assert secret not in text
    qtbot.waitUntil(lambda: "\n".join(window.log.shown_lines()) == text)  # what the dock shows
    window.log.hide()
    window.log.add("x", [TranscriptLine(True, "STAT")])  # kept while hidden ...
    window.log.show()
    assert window.log.shown_lines()[-1].endswith("x C: STAT")  # ... and shown when opened


def test_editing_an_account_renames_it_and_reconnects(qtbot, window, server, tmp_path):
    srv = server.start()
    account = demo_account(srv, tmp_path)
    window.book.add(account)
    runner = connect(qtbot, window, account)
    window.acts.edit.trigger()
    dialog = next(d for d in window.open_dialogs() if isinstance(d, AccountDialog))
    assert dialog.host_edit.text() == account.host
    dialog.name_edit.setText("Renamed")
    dialog.accept()
    qtbot.waitUntil(lambda: window.current is not None and window.current is not runner
                    and window.current.model.rowCount() == 9, timeout=TIMEOUT)
    assert window.account_list.count() == 1
    assert window.account_list.item(0).text().startswith("Renamed\n")
    from gui.tasks import serial

    serial.submit(lambda: None).result(timeout=10)
    assert window.book.get(account.key).name == "Renamed"


def test_disconnect_without_committing_keeps_marks_and_deletes_nothing(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    uidl = runner.model.uidls()[1]
    select(window, [uidl])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: runner.model.marked_uidls() == [uidl], timeout=TIMEOUT)
    qtbot.waitUntil(lambda: any(c.startswith("DELE") for c in srv.commands), timeout=TIMEOUT)
    window.acts.disconnect_session.trigger()
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.DISCONNECTED,
                    timeout=TIMEOUT)
    assert "nothing was deleted" in window.statusBar().currentMessage()
    assert srv.deleted == [] and uidl in server_files(mailbox)
    assert runner.model.marked_uidls() == [uidl]  # the user's intent is kept
    assert window.marks_banner.isVisible()
    # F5 reconnects; the journalled mark goes out again, and Commit deletes it
    dele_before = sum(c.startswith("DELE") for c in srv.commands)
    window.acts.check.trigger()
    qtbot.waitUntil(lambda: sum(c.startswith("DELE") for c in srv.commands) > dele_before,
                    timeout=TIMEOUT)
    window.acts.commit.trigger()
    answer(qtbot, window, "commitConfirm", QMessageBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: srv.deleted == [uidl], timeout=TIMEOUT)


def test_cancel_stops_a_download_and_forgets_its_bytes(qtbot, window, server, tmp_path):
    srv = server.start(rate=1_000_000)
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    uidl = large_uidl(runner)
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: (runner.model.received_of(uidl) or 0) > 200_000, timeout=TIMEOUT)
    # Enabled with the status bar's refresh (4 a second), as the user sees it before a click.
    qtbot.waitUntil(window.acts.cancel.isEnabled, timeout=TIMEOUT)
    window.acts.cancel.trigger()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.REMOTE, timeout=TIMEOUT)
    assert runner.model.received_of(uidl) == 0
    assert not list((tmp_path / "Maildir" / "new").iterdir())


def test_check_while_connected_keeps_marks_for_commit(qtbot, window, server, tmp_path):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    uidl = runner.model.uidls()[1]
    select(window, [uidl])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: any(c.startswith("DELE") for c in srv.commands), timeout=TIMEOUT)
    with qtbot.waitSignal(runner.bridge.listLoaded, timeout=TIMEOUT):
        window.acts.check.trigger()  # F5 while connected: reload the list
    assert state(runner, uidl) is not MessageState.GONE
    window.acts.commit.trigger()
    answer(qtbot, window, "commitConfirm", QMessageBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: bool(window.last_report), timeout=TIMEOUT)
    assert srv.deleted == [uidl]


def test_a_server_without_ext_retr_is_shown_as_unable_to_resume(qtbot, window, server,
                                                                 tmp_path, mailbox):
    srv = server.start(ext_retr=False, rate=1_000_000)
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    qtbot.waitUntil(lambda: window.status.resume_label.text() == "Cannot resume mid-message")
    assert "holds the connection" in window.status.resume_label.toolTip()
    uidl = large_uidl(runner)
    select(window, [uidl])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: (runner.model.received_of(uidl) or 0) > 300_000, timeout=TIMEOUT)
    window.acts.toggle.trigger()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.PAUSED, timeout=TIMEOUT)
    ix = runner.model.index(runner.model.row_of(uidl) or 0, Column.PROGRESS)
    assert "holding the connection" in runner.model.data(ix, Qt.ItemDataRole.ToolTipRole)
    window.acts.toggle.trigger()
    qtbot.waitUntil(lambda: state(runner, uidl) is MessageState.STORED, timeout=TIMEOUT)
    assert Path(runner.model.path_of(uidl)).read_bytes() == \
        source_file(mailbox, uidl).read_bytes()
    assert not any(len(c.split()) == 3 for c in srv.commands if c.startswith("RETR "))


def test_after_a_commit_stored_mail_stays_listed_and_the_counts_add_up(
        qtbot, window, server, tmp_path, mailbox):
    srv = server.start()
    runner = connect(qtbot, window, demo_account(srv, tmp_path))
    model = runner.model
    qtbot.waitUntil(lambda: runner.connection.state is ConnectionState.CONNECTED)
    kept, lost = model.uidls()[0], model.uidls()[1]
    select(window, [kept])
    window.acts.download.trigger()
    qtbot.waitUntil(lambda: state(runner, kept) is MessageState.STORED, timeout=TIMEOUT)
    select(window, [kept, lost])
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: len(model.marked_uidls()) == 2, timeout=TIMEOUT)
    window.acts.commit.trigger()
    answer(qtbot, window, "commitConfirm", QMessageBox.StandardButton.Ok)
    qtbot.waitUntil(lambda: bool(window.last_report), timeout=TIMEOUT)
    assert sorted(srv.deleted) == sorted([kept, lost])
    with qtbot.waitSignal(runner.bridge.listLoaded, timeout=TIMEOUT):
        window.acts.check.trigger()  # F5: the server lists 7 now
    assert kept in model.uidls() and lost not in model.uidls()
    assert state(runner, kept) is MessageState.STORED and model.path_of(kept)
    row = model.row_of(kept) or 0
    assert model.data(model.index(row, Column.SERVER)) == "not on the server"
    t = model.totals()
    assert (t.stored, t.count) == (1, 8)  # 7 on the server + the stored copy
    qtbot.waitUntil(lambda: window.status.overall_label.text().startswith("1/8 stored"))
