"""gui.window.accountlist: one item per runner, with its name and state."""

from __future__ import annotations

from typing import Any

from gui.window.accountlist import AccountList
from tests.gui.helpers import runner_with


def test_items_follow_the_runners(qtbot: Any) -> None:
    runners = [runner_with(qtbot, []) for _ in range(2)]
    accounts = AccountList()
    qtbot.addWidget(accounts)
    accounts.insert_quietly(0)
    accounts.insert_quietly(1)
    accounts.refresh(runners)
    item = accounts.item(0)
    assert item is not None and item.text().startswith(runners[0].name + "\n")
    accounts.remove_quietly(0)
    assert accounts.count() == 1
