"""Two accounts on one Dovecot in the app: they connect side by side (their sessions
overlap in Dovecot's log) and "All accounts" lists both mailboxes in one list."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

import gui  # noqa: F401 - see gui/_refcount.py
from core.accounts import Account, AccountBook
from core.net import Security
from gui.models.columns import Column
from gui.window.mainwindow import MainWindow
from tests.support.dovecot import Dovecot, make_messages

pytestmark = [pytest.mark.interop,
              pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")]


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))


def test_two_accounts_overlap_and_all_accounts_shows_both(qtbot: Any, dovecot: Dovecot,
                                                          tmp_path: Path) -> None:
    users = [dovecot.add_user(f"app{i}-{os.getpid()}", f"app-pw-{i}") for i in (1, 2)]
    for i, user in enumerate(users):
        dovecot.fill(user.name, make_messages(3 + i, tag=user.name))
    window = MainWindow(QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
                        book=AccountBook(tmp_path / "accounts.json"))
    qtbot.addWidget(window)
    try:
        runners = [window.add_runner(
            Account(host=dovecot.host, port=dovecot.pop3_port, security=Security.STARTTLS,
                    cafile=str(dovecot.ca_pem), user=user.name, name=user.name,
                    maildir=str(tmp_path / user.name)),
            fixed_password=user.password) for user in users]
        for runner in runners:
            runner.start()
        qtbot.waitUntil(lambda: [r.model.rowCount() for r in runners] == [3, 4], timeout=30_000)
        # Both logged in, neither logged out yet: the two sessions run side by side.
        for user in users:
            assert dovecot.wait_log(f"Login: user=<{user.name}>")
        assert not [line for user in users
                    for line in dovecot.log_lines(f"pop3({user.name})") if "Disconnected" in line]
        window.show_all_accounts()
        assert window.proxy.rowCount() == 7
        subjects = [str(window.proxy.index(r, Column.SUBJECT).data()) for r in range(7)]
        assert sorted(s.split()[-1] for s in subjects) == sorted(
            [users[0].name] * 3 + [users[1].name] * 4)
        located = {window.all_model.locate(r)[0] for r in range(7)}  # type: ignore[index]
        assert located == set(runners)
    finally:
        window.shutdown(10)
