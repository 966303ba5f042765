"""The app (the real main window and runner) against Dovecot: a check sees mail delivered
while the app is open, an idle app lets go of the maildrop so that ``popfetch fetch`` on the
same account gets in, and marks outlive the idle end until a commit deletes exactly them.

Dovecot runs with ``pop3_lock_session = yes``: while a session holds the maildrop, a second
one waits for the lock and then gets ``-ERR [IN-USE]``, so the fetch succeeding is the proof
that the app let go. Every wait is on a positive signal (the model, Dovecot's log, a child's
exit), bounded."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QItemSelectionModel, QSettings
from PySide6.QtWidgets import QMessageBox

import gui  # noqa: F401 - see gui/_refcount.py
from core.accounts import Account, AccountBook
from core.net import Security
from gui.models.columns import Column, UidlRole
from gui.window.mainwindow import MainWindow
from tests.support.dovecot import Dovecot, User, make_messages

pytestmark = [pytest.mark.interop,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30_000  # ms, for qtbot.waitUntil


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "STATE", "DATA", "CACHE"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))


@pytest.fixture
def window(qtbot: Any, tmp_path: Path) -> Any:
    """The main window; its engines end an idle session after one second."""
    w = MainWindow(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
                   book=AccountBook(tmp_path / "accounts.json"),
                   engine_kwargs={"idle_end": 1.0})
    qtbot.addWidget(w)
    w.show()
    yield w
    w.shutdown(10)


def logged_out(dovecot: Dovecot, user: User) -> int:
    return sum("Disconnected: Logged out" in line
               for line in dovecot.log_lines(f"pop3({user.name})"))


def select(window: MainWindow, uidls: list[str]) -> None:
    sel = window.table.selectionModel()
    sel.clearSelection()
    for row in range(window.proxy.rowCount()):
        ix = window.proxy.index(row, 0)
        if window.proxy.data(ix, UidlRole) in uidls:
            sel.select(ix, QItemSelectionModel.SelectionFlag.Select
                       | QItemSelectionModel.SelectionFlag.Rows)
    window._update_actions()


def fetch_keep(dovecot: Dovecot, user: User, work: Path) -> subprocess.CompletedProcess[str]:
    """``popfetch fetch --keep`` on the same account, in a child with its own store."""
    env = dict(os.environ, POPFETCH_PASSWORD=user.password)
    return subprocess.run(
        [sys.executable, "-m", "core.cli", "fetch", "--host", dovecot.host,
         "--port", str(dovecot.pop3s_port), "--security", "tls", "--cafile", str(dovecot.ca_pem),
         "--user", user.name, "--maildir", str(work / "Maildir"),
         "--state-dir", str(work / "state"), "--timeout", "30", "--keep"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, check=False)


def test_check_sees_new_mail_idle_releases_the_maildrop_and_marks_survive_to_commit(
        qtbot: Any, window: MainWindow, dovecot: Dovecot, mailbox: User, tmp_path: Path) -> None:
    messages = make_messages(5, tag=mailbox.name)
    dovecot.fill(mailbox.name, messages[:3])
    runner = window.add_runner(
        Account(host=dovecot.host, port=dovecot.pop3s_port, security=Security.TLS,
                cafile=str(dovecot.ca_pem), user=mailbox.name, name=mailbox.name,
                maildir=str(tmp_path / "app-Maildir")),
        fixed_password=mailbox.password)
    window.select_runner(runner)
    runner.start()
    qtbot.waitUntil(lambda: runner.model.rowCount() == 3, timeout=WAIT)

    # Delivered while the app is open: the next check (F5) sees it.
    dovecot.fill(mailbox.name, messages[3:])
    window.acts.check.trigger()
    qtbot.waitUntil(lambda: runner.model.rowCount() == 5, timeout=WAIT)

    # Marks made now, then the session ends for being idle (QUIT, nothing deleted).
    uidls = runner.model.uidls()
    marked = [uidls[0], uidls[3]]
    before = logged_out(dovecot, mailbox)
    select(window, marked)
    window.acts.mark.trigger()
    qtbot.waitUntil(lambda: sorted(runner.model.marked_uidls()) == sorted(marked), timeout=WAIT)
    qtbot.waitUntil(lambda: logged_out(dovecot, mailbox) > before, timeout=WAIT)
    assert len(dovecot.files(mailbox.name)) == 5

    # The maildrop is free: a second client on the same account gets in and fetches all.
    result = fetch_keep(dovecot, mailbox, tmp_path / "cli")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "IN-USE" not in result.stdout + result.stderr
    assert len(list((tmp_path / "cli" / "Maildir" / "new").iterdir())) == 5

    # Still marked after the idle end; a commit deletes exactly them at Dovecot.
    assert sorted(runner.model.marked_uidls()) == sorted(marked)
    select(window, [])
    window.acts.commit.trigger()
    qtbot.waitUntil(lambda: any(d.objectName() == "commitConfirm"
                                for d in window.open_dialogs()), timeout=WAIT)
    box = next(d for d in window.open_dialogs() if d.objectName() == "commitConfirm")
    assert isinstance(box, QMessageBox)
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: "deleted 2 messages" in window.last_report, timeout=WAIT)
    subjects = {u: str(runner.model.data(runner.model.index(runner.model.row_of(u) or 0,
                                                           Column.SUBJECT))) for u in uidls}
    kept = sorted(m.split(b"Subject: ", 1)[1].split(b"\n", 1)[0].decode()
                  for m in dovecot.contents(mailbox.name))
    assert kept == sorted(subjects[u] for u in uidls if u not in marked)
    assert not runner.model.marked_uidls()
