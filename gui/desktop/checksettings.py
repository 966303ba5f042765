"""An account's unattended settings, as a group of fields for the account dialog: how often
to check, whether to download new mail by itself, what to delete on the server (the
leave-on-server rule), and the size over which a message is only listed."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QSpinBox,
    QWidget,
)

from core.accounts import DEFAULT_CHECK_EVERY, Account
from core.engine.retention import Rule

__all__ = ["RULE_CHOICES", "CheckSettings"]

RULE_CHOICES = (
    (Rule.KEEP, "Keep them on the server"),
    (Rule.AFTER_DAYS, "Delete them from the server after"),
    (Rule.WHEN_STORED, "Delete them once downloaded (when you commit)"),
    (Rule.WHEN_LOCAL_GONE, "Delete them when I delete the local copy"),
)
MIB = 1024 * 1024


class CheckSettings(QGroupBox):
    """``load(account)`` fills the fields; ``apply(account)`` returns it with them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Checking and storage", parent)
        self.setObjectName("checkSettings")
        form = QFormLayout(self)

        self.check_box = QCheckBox("Check for new mail every")
        self.interval_spin = QSpinBox()
        self.interval_spin.setRange(1, 24 * 60)
        self.interval_spin.setSuffix(" min")
        self.interval_spin.setToolTip("Never sooner than the server allows (LOGIN-DELAY); "
                                      "Gmail asks for 10 minutes or more")
        self.check_box.toggled.connect(self.interval_spin.setEnabled)
        form.addRow(_row(self.check_box, self.interval_spin))

        self.auto_check = QCheckBox("Download new messages by themselves")
        form.addRow(self.auto_check)

        self.limit_check = QCheckBox("Only list messages larger than")
        self.limit_spin = QSpinBox()
        self.limit_spin.setRange(1, 100_000)
        self.limit_spin.setSuffix(" MB")
        self.limit_spin.setToolTip("Their headers show in the list; download them when you "
                                   "want them (double-click, Download)")
        self.limit_check.toggled.connect(self.limit_spin.setEnabled)
        form.addRow(_row(self.limit_check, self.limit_spin))

        self.rule_combo = QComboBox()
        for rule, text in RULE_CHOICES:
            self.rule_combo.addItem(text, rule.value)
        self.days_spin = QSpinBox()
        self.days_spin.setRange(0, 3650)
        self.days_spin.setSuffix(" days")
        self.rule_combo.currentIndexChanged.connect(self._rule_changed)
        form.addRow("Downloaded messages:", _row(self.rule_combo, self.days_spin))

        self.load(None)

    def load(self, account: Account | None) -> None:
        every = account.check_every if account else DEFAULT_CHECK_EVERY
        self.check_box.setChecked(every is not None)
        self.interval_spin.setValue(max(1, round((every or DEFAULT_CHECK_EVERY) / 60)))
        self.interval_spin.setEnabled(every is not None)
        self.auto_check.setChecked(bool(account and account.auto_download))
        limit = account.max_size if account else None
        self.limit_check.setChecked(limit is not None)
        self.limit_spin.setValue(max(1, round((limit or 10 * MIB) / MIB)))
        self.limit_spin.setEnabled(limit is not None)
        rule = account.leave_on_server if account else Rule.KEEP.value
        self.rule_combo.setCurrentIndex(self.rule_combo.findData(rule))
        self.days_spin.setValue(account.delete_after_days if account else 14)
        self._rule_changed()

    def apply(self, account: Account) -> Account:
        rule = Rule(self.rule_combo.currentData())
        return replace(
            account,
            check_every=self.interval_spin.value() * 60.0 if self.check_box.isChecked() else None,
            auto_download=self.auto_check.isChecked(),
            max_size=self.limit_spin.value() * MIB if self.limit_check.isChecked() else None,
            leave_on_server=rule.value,
            delete_after_fetch=rule is Rule.WHEN_STORED,
            delete_after_days=self.days_spin.value(),
        )

    def _rule_changed(self) -> None:
        self.days_spin.setVisible(self.rule_combo.currentData() == Rule.AFTER_DAYS.value)


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    layout.addStretch(1)
    return row
