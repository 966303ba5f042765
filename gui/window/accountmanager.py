"""Adding, editing and removing accounts, and the demo mailbox.

Each change is saved to the accounts file and the keychain off the GUI thread (in
order, on one serial executor), and a failure to save is reported; an engine whose
settings changed is stopped in the background and a new one started in its place.
Works on the runner registry and a Host, not on the window.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QMessageBox

from core.accounts import Account, AccountBook
from core.auth.oauth import refresh_token_key
from core.text import sanitize
from gui import fmt
from gui.demo import DEMO_PASSWORD, DemoService
from gui.dialogs.accountdialog import AccountDialog
from gui.host import Host
from gui.keyring_access import KeychainAccess
from gui.oauth import SignIn
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner, EngineFactory
from gui.tasks import BackgroundTask, serial


class MakeRunner(Protocol):
    def __call__(self, account: Account, *, demo: bool = False,
                 fixed_password: str | None = None,
                 engine_factory: EngineFactory | None = None,
                 state_dir: Path | None = None) -> AccountRunner: ...


class AccountManager(QObject):
    """The account commands; the registry keeps the list of runners."""

    demoAvailable = Signal(bool)  # False while the demo runs or starts
    signingIn = Signal(bool)  # a "Sign in again" waits for the browser

    def __init__(self, registry: RunnerRegistry, host: Host, book: AccountBook,
                 keychain: KeychainAccess, make_runner: MakeRunner,
                 demo_factory: Callable[[], DemoService],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._registry = registry
        self._host = host
        self._book = book
        self._keychain = keychain
        self._make_runner = make_runner
        self.demo_factory = demo_factory
        self.demo: DemoService | None = None

    def _save_failed(self, exc: BaseException) -> None:
        self._host.report_error("Accounts not saved",
                                f"The accounts file could not be written: "
                                f"{sanitize(str(exc))}. The change holds until popfetch "
                                "quits.")

    def _save(self, change: Callable[[], object]) -> None:
        BackgroundTask(change, on_error=self._save_failed, parent=self,
                       executor=serial).start()

    def load_accounts(self, current_key: str = "", connect: bool = True) -> None:
        """Read the accounts file and list each account; connect them unless told not to
        (the stored mail is listed either way)."""
        try:
            accounts = self._book.load()
        except (OSError, ValueError) as exc:
            self._host.report_error("Accounts not read",
                                    f"Cannot read the accounts file: {sanitize(str(exc))}")
            accounts = []
        for account in accounts:
            runner = self._make_runner(account)
            self._registry.add(runner)
            if account.key == current_key:
                self._registry.set_current(runner)
        for runner in self._registry:
            if connect:
                runner.start()
            else:
                runner.list_stored()

    # ------------------------------------------------------------------ add

    @Slot()
    def add_account(self) -> None:
        dialog = AccountDialog(keychain_available=self._keychain.available,
                               keychain_problem=self._keychain.problem,
                               parent=self._host.widget())
        dialog.accepted.connect(lambda: self._account_added(dialog))
        self._host.show_dialog(dialog)

    def _account_added(self, dialog: AccountDialog) -> None:
        account = dialog.account
        if account is None:
            return
        if self._registry.by_key(account.key) is not None:
            self._host.report_error("Account exists",
                                    f"The account {account.key} exists already.")
            return
        book = self._book
        self._save(lambda: book.add(account))
        if dialog.password and dialog.save_password:
            self._keychain.set_password(account.key, dialog.password)
        if dialog.target_credentials is not None:
            self._keychain.set_password(*dialog.target_credentials)
        runner = self._make_runner(account)
        if dialog.password:
            runner.set_password(dialog.password)
        if dialog.target_credentials is not None:
            runner.set_target_password(dialog.target_credentials[1])
        self._registry.add(runner)
        self._registry.set_current(runner)
        runner.start()

    # ------------------------------------------------------------------ edit

    @Slot()
    def edit_account(self) -> None:
        runner = self._registry.current
        if runner is None or runner.demo:
            return
        dialog = AccountDialog(runner.account, keychain_available=self._keychain.available,
                               keychain_problem=self._keychain.problem,
                               parent=self._host.widget())
        dialog.accepted.connect(lambda: self._account_edited(runner, dialog))
        self._host.show_dialog(dialog)

    def _account_edited(self, old: AccountRunner, dialog: AccountDialog) -> None:
        account = dialog.account
        if account is None:
            return
        old_key = old.account.key
        book = self._book
        self._save(lambda: book.update(account, old_key=old_key))
        password = dialog.password
        if password and dialog.save_password:
            self._keychain.set_password(account.key, password)
        if dialog.target_credentials is not None:
            self._keychain.set_password(*dialog.target_credentials)
        if account.key != old_key:
            if password:
                self._keychain.delete_password(old_key)
            else:
                self._keychain.move_password(old_key, account.key)
            old_token, new_token = refresh_token_key(old_key), refresh_token_key(account.key)
            if dialog.oauth.signed_in_now:  # the new sign-in is filed under the new key already
                self._keychain.delete_password(old_token)
            elif account.oauth is not None:
                self._keychain.move_password(old_token, new_token)
        target = dialog.target_credentials[1] if dialog.target_credentials else None
        moved = target is None and self._move_target_password(old.account, account)
        self._replace_runner(old, account, password, target, keychain_first=moved)

    def _move_target_password(self, old: Account, new: Account) -> bool:
        """The IMAP target's user, host or port changed and no password was typed: the saved
        one follows to the new key, as an account's own does (and stays under the old key
        while another account delivers there). True when a move was asked for."""
        old_key, new_key = old.target_key(), new.target_key()
        if old_key is None or new_key is None or old_key == new_key:
            return False
        shared = any(r.account.target_key() == old_key for r in self._registry
                     if r.account.key != old.key)
        self._keychain.move_password(old_key, new_key, keep_old=shared)
        return True

    def _replace_runner(self, old: AccountRunner, account: Account, password: str | None,
                        target_password: str | None = None, *,
                        keychain_first: bool = False) -> None:
        """Settings changed: stop the old engine (off the GUI thread), then start a new one."""
        index = self._registry.index(old)
        old.bridge.close()
        self._registry.remove(old)
        runner = self._make_runner(account)
        if not password and account.key == old.account.key:
            password = old.cached_password()  # unchanged: no need to ask or read it again
        if password:
            runner.set_password(password)
        if target_password:
            runner.set_target_password(target_password)
        self._registry.add(runner, index)
        self._registry.set_current(runner)
        if keychain_first:  # the engine reads the keychain: let the queued writes land first
            self._stop(old, then=lambda: self._after_queued_writes(runner.start))
        else:
            self._stop(old, then=runner.start)

    def _after_queued_writes(self, then: Callable[[], None]) -> None:
        """``then``, once the file and keychain writes asked for so far have run (they run
        in order on one thread)."""
        task = BackgroundTask(lambda: None, on_error=self._save_failed, parent=self,
                              executor=serial, name="after queued writes")
        task.finished.connect(then)
        task.start()

    def _stop(self, runner: AccountRunner, then: Callable[[], None] | None = None) -> None:
        def failed(exc: BaseException) -> None:
            self._host.report_error("Account not stopped",
                                    f"Stopping “{runner.name}” failed: {sanitize(str(exc))}")

        stopper = BackgroundTask(lambda: runner.shutdown(5.0), on_error=failed, parent=self,
                                 name="stop engine")
        if then is not None:
            stopper.finished.connect(then)
        stopper.finished.connect(runner.deleteLater)
        stopper.start()

    # ------------------------------------------------------------------ OAuth

    @Slot()
    def sign_in_again(self) -> None:
        """The current account's grant was refused: the browser sign-in, then reconnect."""
        runner = self._registry.current
        if runner is None or not runner.uses_oauth:
            return
        sign_in = SignIn(runner.account, self)
        self.signingIn.emit(True)

        def failed(reason: str) -> None:
            self.signingIn.emit(False)
            sign_in.deleteLater()
            self._host.report_error("Not signed in", f"{runner.name}: {reason}")

        def succeeded() -> None:
            self.signingIn.emit(False)
            sign_in.deleteLater()
            if runner in self._registry.runners():
                runner.retry_now()

        sign_in.succeeded.connect(succeeded)
        sign_in.failed.connect(failed)
        sign_in.start()

    # ------------------------------------------------------------------ remove

    @Slot()
    def remove_account(self) -> None:
        runner = self._registry.current
        if runner is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove account",
                          f"Remove the account “{runner.name}”?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self._host.widget())
        box.setObjectName("removeAccount")
        box.setInformativeText("Mail already downloaded stays in its Maildir; nothing is "
                               "deleted on the server. The saved password is removed from "
                               "the keychain.")
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")
        box.accepted.connect(lambda: self._remove(runner))
        self._host.show_dialog(box)

    def _remove(self, runner: AccountRunner) -> None:
        if runner not in self._registry.runners():
            return
        runner.bridge.close()
        self._registry.remove(runner)
        if not runner.demo:
            key = runner.account.key
            book = self._book
            self._save(lambda: book.remove(key))

            def not_deleted(exc: BaseException) -> None:
                self._host.report_error("Password not removed",
                                        f"The saved password for {key} could not be removed: "
                                        f"{sanitize(str(exc))}")

            self._keychain.delete_password(key, on_error=not_deleted)
            if runner.account.oauth is not None:
                self._keychain.delete_password(refresh_token_key(key), on_error=not_deleted)
        else:
            self._stop_demo_later()
        self._stop(runner)

    # ------------------------------------------------------------------ demo

    @Slot()
    def start_demo(self) -> None:
        existing = self._registry.demo()
        if existing is not None:
            self._registry.set_current(existing)
            return
        if self.demo is not None:
            return  # starting
        self.demo = self.demo_factory()
        demo = self.demo
        self._host.show_status("Preparing the demo mailbox…")
        self.demoAvailable.emit(False)
        task = BackgroundTask(demo.start, on_error=self._demo_failed, parent=self,
                              name="demo server")
        task.done.connect(self._demo_started)
        task.start()

    @Slot(object)
    def _demo_started(self, account: Account) -> None:
        assert self.demo is not None
        self._host.show_status(
            f"Demo server on {account.host}:{account.port}: throttled to "
            f"{fmt.rate(self.demo.rate or 0)}, with an occasional dropped connection", 8000)
        runner = self._make_runner(account, demo=True, fixed_password=DEMO_PASSWORD,
                                   engine_factory=self.demo.engine_factory,
                                   state_dir=self.demo.state_dir)
        self._registry.add(runner)
        self._registry.set_current(runner)
        runner.start()

    def _demo_failed(self, exc: BaseException) -> None:
        self.demo = None
        self.demoAvailable.emit(True)
        self._host.report_error("Demo not started",
                                f"The demo server could not start: {sanitize(str(exc))}")

    def _stop_demo_later(self) -> None:
        demo, self.demo = self.demo, None
        self.demoAvailable.emit(True)
        if demo is not None:
            def failed(exc: BaseException) -> None:
                self._host.report_error("Demo not stopped", sanitize(str(exc)))

            BackgroundTask(demo.stop, on_error=failed, parent=self, name="stop demo").start()

    def stop_demo(self) -> None:
        """At shutdown: stop the demo server now."""
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
