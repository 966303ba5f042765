"""The account dialog's "Checking and storage" fields: interval, auto-download, size limit
and the leave-on-server rule, loaded from and written to the account."""

from __future__ import annotations

from core.accounts import Account
from core.engine.retention import Retention, Rule, retention_of
from gui.desktop.checksettings import MIB, CheckSettings
from gui.dialogs.accountdialog import AccountDialog


def account(**changes: object) -> Account:
    return Account(host="pop.example.org", port=995, security="tls", user="ann",
                   maildir="/home/ann/Mail/work", name="Work", **changes)  # type: ignore[arg-type]


def test_a_new_account_checks_every_ten_minutes_and_keeps_mail(qtbot):
    fields = CheckSettings()
    qtbot.addWidget(fields)
    built = fields.apply(account())
    assert built.check_every == 600 and not built.auto_download and built.max_size is None
    assert retention_of(built) == Retention()


def test_every_setting_round_trips(qtbot):
    fields = CheckSettings()
    qtbot.addWidget(fields)
    chosen = account(check_every=1800.0, auto_download=True, max_size=25 * MIB,
                     leave_on_server="after-days", delete_after_days=30)
    fields.load(chosen)
    assert fields.apply(account()) == chosen
    assert fields.days_spin.isVisibleTo(fields)
    fields.rule_combo.setCurrentIndex(fields.rule_combo.findData(Rule.WHEN_STORED.value))
    assert not fields.days_spin.isVisibleTo(fields)
    built = fields.apply(account())
    assert built.delete_after_fetch and retention_of(built) == Retention(Rule.WHEN_STORED)


def test_unticked_boxes_mean_only_when_asked_and_no_limit(qtbot):
    fields = CheckSettings()
    qtbot.addWidget(fields)
    fields.load(account(max_size=5 * MIB))
    assert fields.limit_spin.isEnabled()
    fields.check_box.setChecked(False)
    fields.limit_check.setChecked(False)
    assert not fields.interval_spin.isEnabled() and not fields.limit_spin.isEnabled()
    built = fields.apply(account())
    assert built.check_every is None and built.max_size is None


def test_the_account_dialog_edits_them_and_keeps_a_password_command(qtbot):
    original = account(password_command="pass show mail/work", leave_on_server="when-local-gone",
                       check_every=300.0)
    dialog = AccountDialog(original)
    qtbot.addWidget(dialog)
    assert dialog.check_settings.interval_spin.value() == 5
    dialog.check_settings.auto_check.setChecked(True)
    built = dialog.build_account()
    assert built == account(password_command="pass show mail/work",
                            leave_on_server="when-local-gone", check_every=300.0,
                            auto_download=True)
