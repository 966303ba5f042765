"""The dialogs an account's engine calls for: trust a certificate, enter a password, and
the keychain's answer when a password could not be saved.

All open without blocking (Host.show_dialog), so transfers keep running while a dialog
waits for the user.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox

from core.accounts import AccountBook
from core.engine.events import ErrorOccurred
from core.text import sanitize
from gui.dialogs.certdialog import CertificateDialog
from gui.dialogs.passworddialog import PasswordDialog, with_pin
from gui.host import Host
from gui.runner import AccountRunner, PasswordRequest
from gui.tasks import BackgroundTask, serial


class Prompts(QObject):
    def __init__(self, host: Host, book: AccountBook, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._host = host
        self._book = book

    def certificate(self, runner: AccountRunner, event: ErrorOccurred) -> None:
        """Offer to pin an untrusted certificate; if trusted, save the pin and reconnect."""
        info = event.certificate
        assert info is not None
        dialog = CertificateDialog(info, runner.name, self._host.widget())

        def trusted() -> None:
            account = with_pin(runner.account, info.sha256)
            if not runner.demo:
                book = self._book

                def failed(exc: BaseException) -> None:
                    self._host.report_error(
                        "Certificate not saved",
                        f"The trusted certificate could not be saved: {sanitize(str(exc))}. "
                        "It is trusted until popfetch quits.")

                BackgroundTask(lambda: book.update(account), on_error=failed, parent=self,
                               executor=serial).start()
            runner.update_account(account)
            runner.retry_now()

        dialog.accepted.connect(trusted)
        self._host.show_dialog(dialog)

    @Slot(object)
    def password(self, request: PasswordRequest) -> None:
        dialog = PasswordDialog(request.account, sanitize(request.reason),
                                request.keychain_available, self._host.widget())
        dialog.accepted.connect(lambda: request.reply(dialog.edit.text(),
                                                      dialog.remember.isChecked()))
        dialog.rejected.connect(lambda: request.reply(None))
        self._host.show_dialog(dialog)

    @Slot(object)
    def password_saved(self, result: tuple[str, bool, str]) -> None:
        key, ok, problem = result
        if ok:
            self._host.show_status(f"Password for {key} saved in the keychain.", 5000)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Password not saved",
                          f"The password for {key} could not be saved in the keychain.",
                          QMessageBox.StandardButton.Ok, self._host.widget())
        box.setObjectName("keychainProblem")
        box.setInformativeText(sanitize(problem) + " It is kept in memory until popfetch "
                               "quits; after that popfetch asks for it each time it connects.")
        self._host.show_dialog(box)
