"""The side list of accounts: one item per runner, in the registry's order, showing its
name, state icon and status line."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from gui import icons
from gui.runner import AccountRunner


class AccountList(QListWidget):
    """Row i shows the registry's runners()[i]; the window keeps the two in step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("accountList")
        self.setToolTip("Your accounts and their connection state")
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def insert_quietly(self, index: int) -> None:
        self.blockSignals(True)
        self.insertItem(index, QListWidgetItem())
        self.blockSignals(False)

    def remove_quietly(self, index: int) -> None:
        """Without currentRowChanged: the registry picks the next account itself."""
        self.blockSignals(True)
        self.takeItem(index)
        self.blockSignals(False)

    def select_quietly(self, index: int) -> None:
        self.blockSignals(True)
        self.setCurrentRow(index)
        self.blockSignals(False)

    def show_all_item(self, shown: bool, accounts: int) -> None:
        """The "All accounts" row, after the ``accounts`` rows of the accounts."""
        has = self.count() > accounts
        self.blockSignals(True)
        if shown and not has:
            item = QListWidgetItem(icons.icon("account"), "All accounts")
            item.setToolTip("Every account's messages in one list (to read; commands act "
                            "on one account)")
            self.addItem(item)
        elif has and not shown:
            self.takeItem(accounts)
        self.blockSignals(False)

    def refresh(self, runners: Sequence[AccountRunner]) -> None:
        for i, runner in enumerate(runners):
            item = self.item(i)
            if item is None:
                continue
            item.setText(f"{runner.name}\n{runner.status_text()}")
            item.setIcon(icons.icon(runner.state_icon_name()))
            item.setToolTip(f"{runner.account.key}\n{runner.status_text()}")
