"""A simple message viewer: headers and the text part, read on a background thread."""

from __future__ import annotations

import email.parser
import email.policy
import os
import shutil
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.text import sanitize
from gui import fmt
from gui.host import Host
from gui.models.columns import SIZE_CONVENTION
from gui.tasks import BackgroundTask

MAX_SHOWN = 2 * 1024 * 1024  # characters of the text part shown
HEADERS = ("From", "To", "Cc", "Date", "Subject")


@dataclass(frozen=True)
class LoadedMessage:
    headers: tuple[tuple[str, str], ...]
    text: str
    attachments: tuple[str, ...]
    size: int


def load_message(path: str) -> LoadedMessage:
    """Parse a stored message (blocking; for a worker thread)."""
    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        msg = email.parser.BytesParser(policy=email.policy.default).parse(fh)
    assert isinstance(msg, EmailMessage)
    headers = []
    for name in HEADERS:
        value = msg.get(name)
        if value is not None:
            headers.append((name, sanitize(" ".join(str(value).split()), 2000)))
    body = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, ValueError):
            payload = body.get_payload(decode=True)
            text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        if body.get_content_subtype() == "html":
            text = "(HTML only; open with the default application for the formatted version)\n\n" \
                + text
    if len(text) > MAX_SHOWN:
        text = text[:MAX_SHOWN] + "\n\n[… cut: open with the default application to see all]"
    attachments = tuple(
        part.get_filename() or part.get_content_type() for part in msg.iter_attachments()
    )
    return LoadedMessage(tuple(headers), text, attachments, size)


def export_eml(path: str) -> str:
    """Copy a Maildir file to a .eml (so the desktop knows what opens it) in a directory of
    its own that only this user can enter: made fresh each time with mkdtemp, in the
    session's runtime dir when there is one, so no other user can plant or read it."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    base = runtime if runtime and os.path.isdir(runtime) else None
    directory = Path(tempfile.mkdtemp(prefix="popfetch-open-", dir=base))
    target = directory / (Path(path).name.replace(":", "_") + ".eml")
    shutil.copyfile(path, target)
    target.chmod(0o600)
    return str(target)


class MessageViewer(QDialog):
    """``size``: the message's size as the list shows it (one convention, SIZE_CONVENTION)."""

    def __init__(self, path: str, title: str, size: int, host: Host,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageViewer")
        self.path = path
        self.wire_size = size
        self._host = host
        self.setWindowTitle(title or "Message")
        self.loaded: LoadedMessage | None = None
        self.exported = ""  # the last copy handed to the desktop
        layout = QVBoxLayout(self)
        self.form = QFormLayout()
        layout.addLayout(self.form)
        self.body = QPlainTextEdit()
        self.body.setReadOnly(True)
        self.body.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.body.setPlainText("Loading…")
        layout.addWidget(self.body, 1)
        self.attachments = QLabel()
        self.attachments.setWordWrap(True)
        self.attachments.setVisible(False)
        layout.addWidget(self.attachments)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = QPushButton("Open with default application")
        self.open_button.setToolTip("Opens a copy of the message (.eml) with your mail program")
        buttons.addButton(self.open_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.clicked.connect(self.open_external)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(760, 560)
        self._task = BackgroundTask(lambda: load_message(path), on_error=self._failed,
                                    parent=self, name="load message")
        self._task.done.connect(self._loaded)
        self._task.start()

    @Slot(object)
    def _loaded(self, msg: LoadedMessage) -> None:
        self.loaded = msg
        for name, value in msg.headers:
            label = QLabel(value)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.addRow(f"<b>{name}:</b>", label)
        size = QLabel(fmt.size(self.wire_size or msg.size))
        size.setObjectName("sizeLabel")
        size.setToolTip(SIZE_CONVENTION)
        self.form.addRow("<b>Size:</b>", size)
        self.body.setPlainText(msg.text or "(no text part)")
        if msg.attachments:
            self.attachments.setText("Attachments: " + ", ".join(msg.attachments))
            self.attachments.setVisible(True)

    def _failed(self, exc: BaseException) -> None:
        self.body.setPlainText(f"Cannot read the message: {sanitize(str(exc))}")

    @Slot()
    def open_external(self) -> None:
        task = BackgroundTask(lambda: export_eml(self.path), on_error=self._not_opened,
                              parent=self, name="export message")
        task.done.connect(self._open_copy)
        task.start()

    @Slot(object)
    def _open_copy(self, copy: str) -> None:
        self.exported = copy
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(copy)):
            self._host.report_error(
                "Cannot open the message",
                f"No application opened the copy of this message ({copy}). Set a default "
                "application for .eml files (message/rfc822) in your desktop's settings.")

    def _not_opened(self, exc: BaseException) -> None:
        self._host.report_error("Cannot open the message",
                                f"The copy to open could not be made: {sanitize(str(exc))}")
