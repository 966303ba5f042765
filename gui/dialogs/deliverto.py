"""The account dialog's "Deliver to": a Maildir, an mbox file, an IMAP mailbox, a command
(MDA) or an LMTP server, stored as the account's ``deliver`` URL (core.store.targets).

The IMAP target's password goes to the keychain under USER@HOST:PORT of the IMAP server,
the entry ``popfetch fetch --deliver imap…`` reads too. "Test connection" logs in and looks
at the mailbox on a background thread.
"""

from __future__ import annotations

import urllib.parse
from enum import Enum

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.accounts import Account
from core.auth import passwords
from core.errors import PopError
from core.net import TlsPolicy
from core.store.targets import ImapSpec, LmtpSpec, MaildirSpec, MboxSpec, MdaSpec, parse_deliver
from core.text import sanitize
from gui.tasks import BackgroundTask

__all__ = ["DeliverTo", "Kind", "check_imap"]


class Kind(Enum):
    MAILDIR = "Maildir"
    MBOX = "mbox file"
    IMAP = "IMAP mailbox"
    MDA = "Command (MDA)"
    LMTP = "LMTP server"


IMAP_SECURITY = (("SSL/TLS", True, 993), ("STARTTLS", False, 143))


def check_imap(spec: ImapSpec, password: str, cafile: str | None, timeout: float = 15.0) -> str:
    """Log in to the IMAP target and look at its mailbox. Blocking: a worker's job."""
    from core.store.imap import ImapTarget

    target = ImapTarget(spec, password=lambda: password, tls=TlsPolicy(cafile=cafile),
                        timeout=timeout)
    return target.check()


def _line_edit(name: str, placeholder: str, tip: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setToolTip(tip)
    return edit


def _page(edit: QLineEdit) -> QWidget:
    page = QWidget()
    row = QHBoxLayout(page)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit)
    return page


class DeliverTo(QWidget):
    """The kind chooser and a page of fields per kind. The Maildir page holds the dialog's
    own Maildir row (``maildir_row``), which stays the account's ``maildir`` field."""

    def __init__(self, maildir_row: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("deliverTo")
        self._editing = False
        self._cafile: str | None = None
        self._test: BackgroundTask | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("deliverKind")
        for kind in Kind:
            self.kind_combo.addItem(kind.value, kind)
        self.kind_combo.setToolTip("Where fetched mail goes. A message is deleted on the "
                                   "server only once the target has it.")
        layout.addWidget(self.kind_combo)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages)
        self.pages.addWidget(maildir_row)
        self.pages.addWidget(self._mbox_page())
        self.pages.addWidget(self._imap_page())
        self.mda_edit = _line_edit("mdaEdit", "procmail -d me", "The message goes to its "
                                   "standard input; exit 0 delivered, 75 try again later")
        self.pages.addWidget(_page(self.mda_edit))
        self.lmtp_edit = _line_edit("lmtpEdit", "127.0.0.1:24 or /run/dovecot/lmtp",
                                    "host:port, or the path of a Unix socket")
        self.pages.addWidget(_page(self.lmtp_edit))
        self.kind_combo.currentIndexChanged.connect(self.pages.setCurrentIndex)

    # --- pages --------------------------------------------------------------------------

    def _mbox_page(self) -> QWidget:
        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(0, 0, 0, 0)
        self.mbox_edit = QLineEdit()
        self.mbox_edit.setObjectName("mboxEdit")
        self.mbox_edit.setToolTip("Messages are appended to this file (mboxrd, locked)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_mbox)
        row.addWidget(self.mbox_edit, 1)
        row.addWidget(browse)
        return page

    def _imap_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.setContentsMargins(0, 0, 0, 0)
        self.imap_host = QLineEdit()
        self.imap_host.setObjectName("imapHost")
        self.imap_host.setPlaceholderText("imap.example.org")
        form.addRow("IMAP server:", self.imap_host)
        row = QHBoxLayout()
        self.imap_security = QComboBox()
        self.imap_security.setObjectName("imapSecurity")
        for label, implicit, port in IMAP_SECURITY:
            self.imap_security.addItem(label, (implicit, port))
        self.imap_security.setToolTip("IMAP is always encrypted: TLS from the start (993) "
                                      "or STARTTLS (143)")
        self.imap_port = QSpinBox()
        self.imap_port.setObjectName("imapPort")
        self.imap_port.setRange(1, 65535)
        self.imap_port.setValue(993)
        row.addWidget(self.imap_security, 1)
        row.addWidget(QLabel("Port:"))
        row.addWidget(self.imap_port)
        form.addRow("Security:", row)
        self.imap_user = QLineEdit()
        self.imap_user.setObjectName("imapUser")
        form.addRow("IMAP user:", self.imap_user)
        self.imap_password = QLineEdit()
        self.imap_password.setObjectName("imapPassword")
        self.imap_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.imap_password.setToolTip("Saved in the system keychain under USER@HOST:PORT "
                                      "of the IMAP server, never in a file")
        form.addRow("IMAP password:", self.imap_password)
        self.imap_folder = QLineEdit("INBOX")
        self.imap_folder.setObjectName("imapFolder")
        form.addRow("Folder:", self.imap_folder)
        trow = QHBoxLayout()
        self.imap_test = QPushButton("Test connection")
        self.imap_test.setObjectName("imapTest")
        self.imap_test.setToolTip("Log in to the IMAP server and look for the folder, in the "
                                  "background")
        self.imap_test.clicked.connect(self.start_test)
        self.imap_result = QLabel()
        self.imap_result.setObjectName("imapResult")
        self.imap_result.setWordWrap(True)
        trow.addWidget(self.imap_test)
        trow.addWidget(self.imap_result, 1)
        form.addRow("", trow)
        self.imap_security.currentIndexChanged.connect(self._imap_security_changed)
        return page

    @Slot()
    def _imap_security_changed(self) -> None:
        ports = {p for _, _, p in IMAP_SECURITY}
        if self.imap_port.value() in ports:
            self.imap_port.setValue(self.imap_security.currentData()[1])

    @Slot()
    def _browse_mbox(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "mbox file", self.mbox_edit.text(),
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.mbox_edit.setText(path)

    # --- values -------------------------------------------------------------------------

    @property
    def kind(self) -> Kind:
        kind = self.kind_combo.currentData()
        assert isinstance(kind, Kind)
        return kind

    def set_kind(self, kind: Kind) -> None:
        self.kind_combo.setCurrentIndex(list(Kind).index(kind))

    def load(self, account: Account) -> None:
        """Show the account's target; its IMAP password stays in the keychain ("unchanged")."""
        self._editing = True
        self._cafile = account.cafile
        spec = account.target()
        if isinstance(spec, MboxSpec):
            self.mbox_edit.setText(str(spec.path))
            self.set_kind(Kind.MBOX)
        elif isinstance(spec, MdaSpec):
            self.mda_edit.setText(spec.command)
            self.set_kind(Kind.MDA)
        elif isinstance(spec, LmtpSpec):
            self.lmtp_edit.setText(str(spec.socket) if spec.socket else f"{spec.host}:{spec.port}")
            self.set_kind(Kind.LMTP)
        elif isinstance(spec, ImapSpec):
            self.imap_host.setText(spec.host)
            self.imap_security.setCurrentIndex(0 if spec.implicit_tls else 1)
            self.imap_port.setValue(spec.port)
            self.imap_user.setText(spec.user)
            self.imap_folder.setText(spec.mailbox)
            self.imap_password.setPlaceholderText("unchanged")
            self.set_kind(Kind.IMAP)
        else:
            assert isinstance(spec, MaildirSpec)
            self.set_kind(Kind.MAILDIR)

    def url(self) -> str | None:
        """The ``deliver`` URL the fields describe (None: the Maildir); ValueError with
        words for the user when a field is missing or wrong."""
        kind = self.kind
        if kind is Kind.MAILDIR:
            return None
        if kind is Kind.MBOX:
            path = self.mbox_edit.text().strip()
            if not path:
                raise ValueError("Deliver to: the mbox file is missing")
            url = f"mbox:{path}"
        elif kind is Kind.MDA:
            url = f"mda:{self.mda_edit.text().strip()}"
        elif kind is Kind.LMTP:
            url = f"lmtp:{self.lmtp_edit.text().strip()}"
        else:
            url = self.imap_spec().url
        parse_deliver(url)  # the one check of every form
        return url

    def imap_spec(self) -> ImapSpec:
        host = self.imap_host.text().strip().lower()
        user = self.imap_user.text().strip()
        folder = self.imap_folder.text().strip()
        if not (host and user and folder):
            raise ValueError("Deliver to: the IMAP server, user and folder are needed")
        implicit, _ = self.imap_security.currentData()
        host_part = f"[{host}]" if ":" in host else host
        url = (f"{'imaps' if implicit else 'imap'}://{urllib.parse.quote(user, safe='@')}@"
               f"{host_part}:{self.imap_port.value()}/{urllib.parse.quote(folder, safe='/')}")
        spec = parse_deliver(url)
        assert isinstance(spec, ImapSpec)
        return spec

    def imap_credentials(self) -> tuple[str, str] | None:
        """(keychain key, password) to save for the IMAP target, when one was typed."""
        if self.kind is not Kind.IMAP or not self.imap_password.text():
            return None
        spec = self.imap_spec()
        return passwords.target_key(spec), self.imap_password.text()

    # --- test connection ----------------------------------------------------------------

    @Slot()
    def start_test(self) -> None:
        try:
            spec = self.imap_spec()
        except ValueError as exc:
            self.imap_result.setText(str(exc))
            return
        typed = self.imap_password.text()
        cafile = self._cafile
        key = passwords.target_key(spec)

        def run() -> str:  # on the worker: the keychain and the network may block
            password = typed or passwords.stored(key)
            if not password:
                return f"No password: type the IMAP password (none is saved for {key})."
            return check_imap(spec, password, cafile)

        self.imap_result.setText(f"Connecting to {spec.host}:{spec.port}…")
        self.imap_test.setEnabled(False)
        self._test = BackgroundTask(run, on_error=self._test_failed, parent=self,
                                    name="test IMAP target")
        self._test.done.connect(self._test_done)
        self._test.start()

    @Slot(object)
    def _test_done(self, text: str) -> None:
        self.imap_test.setEnabled(True)
        self.imap_result.setText(text)

    def _test_failed(self, exc: BaseException) -> None:
        self.imap_test.setEnabled(True)
        kind = "Failed" if isinstance(exc, PopError | OSError) else "Unexpected error"
        self.imap_result.setText(f"{kind}: {sanitize(str(exc))}")
