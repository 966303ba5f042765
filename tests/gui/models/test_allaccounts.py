""""All accounts": both accounts' messages in one list, the status bar summed, the
commands off (they act on one account), the filter working across accounts."""

from __future__ import annotations

from typing import Any

from gui.models.allaccounts import AllAccountsModel, sum_totals
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import TIMEOUT, Server, connect, demo_account


def test_all_accounts_lists_both_and_sums_their_totals(qtbot: Any, window: MainWindow,
                                                       server: Server, tmp_path: Any) -> None:
    # Two servers over one mailbox: each locks its maildrop for its own session.
    one = connect(qtbot, window, demo_account(server.start(), tmp_path, name="One",
                                              maildir=str(tmp_path / "m1")))
    two = connect(qtbot, window, demo_account(server.start(), tmp_path, name="Two",
                                              maildir=str(tmp_path / "m2")))
    accounts = window.account_list
    assert accounts.count() == 3 and accounts.item(2).text() == "All accounts"
    accounts.setCurrentRow(2)  # as a click does
    assert window.all_view and window.registry.current is None
    assert window.windowTitle() == "All accounts — popfetch"
    rows = one.model.rowCount() + two.model.rowCount()
    assert window.proxy.rowCount() == rows
    qtbot.waitUntil(lambda: window.status.overall_label.text().startswith(f"0/{rows} stored"),
                    timeout=TIMEOUT)
    assert not window.acts.download.isEnabled()  # commands act on one account
    model = window.all_model
    assert isinstance(model, AllAccountsModel)
    assert model.locate(rows - 1) == (two, two.model.uidl_at(two.model.rowCount() - 1))
    assert model.totals() == sum_totals([one.model.totals(), two.model.totals()])
    subject = one.model.subject_of(one.model.uidl_at(0))
    window.filter_edit.setText(subject)
    qtbot.waitUntil(lambda: 0 < window.proxy.rowCount() < rows, timeout=TIMEOUT)
    accounts.setCurrentRow(0)
    assert not window.all_view and window.registry.current is one


def test_one_account_has_no_all_accounts_row(qtbot: Any, window: MainWindow, server: Server,
                                             tmp_path: Any) -> None:
    connect(qtbot, window, demo_account(server.start(), tmp_path))
    assert window.account_list.count() == 1
