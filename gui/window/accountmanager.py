"""Adding, editing and removing accounts, and the demo mailbox.

Each change is saved to the accounts file and the keychain off the GUI thread (in
order, on one serial executor); an engine whose settings changed is stopped in the
background and a new one started in its place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox

from core.accounts import Account
from gui import fmt
from gui.demo import DEMO_PASSWORD, DemoService
from gui.dialogs.accountdialog import AccountDialog
from gui.runner import AccountRunner
from gui.tasks import BackgroundTask, serial

if TYPE_CHECKING:
    from gui.window.mainwindow import MainWindow


class AccountManager(QObject):
    """The account commands of the window, which keeps the list of runners."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.demo: DemoService | None = None

    def load_accounts(self) -> None:
        """Read the accounts file and connect each account (the file is small)."""
        window = self._window
        try:
            accounts = window.book.load()
        except (OSError, ValueError) as exc:
            QMessageBox.warning(window, "popfetch", f"Cannot read the accounts file: {exc}")
            accounts = []
        wanted = window.settings.value("accounts/current", "")
        for account in accounts:
            runner = window.add_runner(account)
            if account.key == wanted:
                window.select_runner(runner)
        if window.runners and window.current is None:
            window.select_runner(window.runners[0])
        for runner in window.runners:
            runner.start()

    def runner_by_key(self, key: str) -> AccountRunner | None:
        return next((r for r in self._window.runners if r.account.key == key and not r.demo),
                    None)

    # ------------------------------------------------------------------ add

    @Slot()
    def add_account(self) -> None:
        keychain = self._window.keychain
        dialog = AccountDialog(keychain_available=keychain.available,
                               keychain_problem=keychain.problem, parent=self._window)
        dialog.accepted.connect(lambda: self._account_added(dialog))
        self._window.show_dialog(dialog)

    def _account_added(self, dialog: AccountDialog) -> None:
        window = self._window
        account = dialog.account
        if account is None:
            return
        if self.runner_by_key(account.key) is not None:
            QMessageBox.warning(window, "popfetch", f"The account {account.key} exists already.")
            return
        book = window.book
        BackgroundTask(lambda: book.add(account), window, executor=serial).start()
        if dialog.password and dialog.save_password:
            window.keychain.set_password(account.key, dialog.password)
        runner = window.add_runner(account)
        if dialog.password:
            runner.set_password(dialog.password)
        window.select_runner(runner)
        runner.start()

    # ------------------------------------------------------------------ edit

    @Slot()
    def edit_account(self) -> None:
        window = self._window
        runner = window.current
        if runner is None or runner.demo:
            return
        dialog = AccountDialog(runner.account, keychain_available=window.keychain.available,
                               keychain_problem=window.keychain.problem, parent=window)
        dialog.accepted.connect(lambda: self._account_edited(runner, dialog))
        window.show_dialog(dialog)

    def _account_edited(self, old: AccountRunner, dialog: AccountDialog) -> None:
        window = self._window
        account = dialog.account
        if account is None:
            return
        old_key = old.account.key
        book = window.book
        BackgroundTask(lambda: book.update(account, old_key=old_key), window,
                       executor=serial).start()
        password = dialog.password
        keychain = window.keychain
        if password and dialog.save_password:
            keychain.set_password(account.key, password)
        if account.key != old_key:
            if not password:  # move the stored password to the new key
                def move() -> None:
                    pw, _ = keychain.get_password_blocking(old_key)
                    if pw:
                        from core.auth.keychain import Keychain
                        Keychain().set(account.key, pw)
                BackgroundTask(move, window, executor=serial).start()
            keychain.delete_password(old_key)
        self._replace_runner(old, account, password)

    def _replace_runner(self, old: AccountRunner, account: Account, password: str | None) -> None:
        """Settings changed: stop the old engine (off the GUI thread), then start a new one."""
        window = self._window
        index = window.runners.index(old)
        window.detach_runner(old)
        runner = window.add_runner(account)
        window.move_runner(runner, index)  # keep the order in the side list
        if not password and account.key == old.account.key:
            password = old.cached_password()  # unchanged: no need to ask or read it again
        if password:
            runner.set_password(password)
        window.select_runner(runner)
        window.refresh_account_items()
        stopper = BackgroundTask(lambda: old.shutdown(5.0), window, name="stop engine")
        stopper.finished.connect(runner.start)
        stopper.finished.connect(old.deleteLater)
        stopper.start()

    # ------------------------------------------------------------------ remove

    @Slot()
    def remove_account(self) -> None:
        window = self._window
        runner = window.current
        if runner is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove account",
                          f"Remove the account “{runner.name}”?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          window)
        box.setInformativeText("Mail already downloaded stays in its Maildir; nothing is "
                               "deleted on the server. The saved password is removed.")
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        window.detach_runner(runner)
        if not runner.demo:
            key = runner.account.key
            book = window.book
            BackgroundTask(lambda: book.remove(key), window, executor=serial).start()
            window.keychain.delete_password(key)
        else:
            self._stop_demo_later()
        stopper = BackgroundTask(lambda: runner.shutdown(5.0), window, name="stop engine")
        stopper.finished.connect(runner.deleteLater)
        stopper.start()

    # ------------------------------------------------------------------ demo

    @Slot()
    def start_demo(self) -> None:
        window = self._window
        existing = next((r for r in window.runners if r.demo), None)
        if existing is not None:
            window.select_runner(existing)
            return
        if self.demo is not None:
            return  # starting
        self.demo = window.demo_factory()
        demo = self.demo
        window.statusBar().showMessage("Preparing the demo mailbox…")
        self._enable_demo(False)
        task = BackgroundTask(demo.start, window, name="demo server")
        task.done.connect(self._demo_started)
        task.failed.connect(self._demo_failed)
        task.start()

    def _enable_demo(self, enabled: bool) -> None:
        self._window.welcome_demo.setEnabled(enabled)
        self._window.act_demo.setEnabled(enabled)

    @Slot(object)
    def _demo_started(self, account: Account) -> None:
        assert self.demo is not None
        window = self._window
        window.statusBar().showMessage(
            f"Demo server on {account.host}:{account.port}: throttled to "
            f"{fmt.rate(self.demo.rate or 0)}, with an occasional dropped connection", 8000)
        runner = window.add_runner(account, demo=True, fixed_password=DEMO_PASSWORD,
                                   engine_factory=self.demo.engine_factory)
        window.select_runner(runner)
        runner.start()

    @Slot(object)
    def _demo_failed(self, exc: BaseException) -> None:
        self.demo = None
        self._enable_demo(True)
        QMessageBox.warning(self._window, "popfetch", f"The demo server could not start: {exc}")

    def _stop_demo_later(self) -> None:
        demo, self.demo = self.demo, None
        self._enable_demo(True)
        if demo is not None:
            BackgroundTask(demo.stop, self._window, name="stop demo").start()

    def stop_demo(self) -> None:
        """At shutdown: stop the demo server now."""
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
