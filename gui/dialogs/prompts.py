"""The dialogs an account's engine calls for: trust a certificate, enter a password, and
the keychain's answer when a password could not be saved.

All open without blocking (MainWindow.show_dialog), so transfers keep running while a
dialog waits for the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox

from core.engine.events import ErrorOccurred
from gui.dialogs.accountdialog import PasswordDialog, with_pin
from gui.dialogs.certdialog import CertificateDialog
from gui.runner import AccountRunner, PasswordRequest
from gui.tasks import BackgroundTask, serial

if TYPE_CHECKING:
    from gui.window.mainwindow import MainWindow


class Prompts(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window

    def certificate(self, runner: AccountRunner, event: ErrorOccurred) -> None:
        """Offer to pin an untrusted certificate; if trusted, save the pin and reconnect."""
        window = self._window
        info = event.certificate
        assert info is not None
        dialog = CertificateDialog(info, runner.name, window)

        def trusted() -> None:
            account = with_pin(runner.account, info.sha256)
            if not runner.demo:
                book = window.book
                BackgroundTask(lambda: book.update(account), window, executor=serial).start()
            runner.update_account(account)
            runner.retry_now()

        dialog.accepted.connect(trusted)
        window.show_dialog(dialog)

    @Slot(object)
    def password(self, request: PasswordRequest) -> None:
        dialog = PasswordDialog(request.account, request.reason, request.keychain_available,
                                self._window)
        dialog.accepted.connect(lambda: request.reply(dialog.edit.text(),
                                                      dialog.remember.isChecked()))
        dialog.rejected.connect(lambda: request.reply(None))
        self._window.show_dialog(dialog)

    @Slot(object)
    def password_saved(self, result: tuple[str, bool, str]) -> None:
        window = self._window
        key, ok, problem = result
        if ok:
            window.statusBar().showMessage(f"Password for {key} saved in the keychain.", 5000)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Password not saved",
                          f"The password for {key} could not be saved in the keychain.",
                          QMessageBox.StandardButton.Ok, window)
        box.setObjectName("keychainProblem")
        box.setInformativeText(problem + " It is kept in memory until popfetch quits; after "
                               "that popfetch asks for it each time it connects.")
        window.show_dialog(box)
