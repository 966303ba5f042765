"""The protocol log: a dock with the session transcript (the engine has redacted secrets)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.events import TranscriptLine

MAX_LINES = 20_000
FLUSH_MS = 100


class LogDock(QDockWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Protocol log", parent)
        self.setObjectName("protocolLog")
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(2, 2, 2, 2)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setToolTip("What popfetch and the server said; passwords are never shown")
        layout.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.text.clear)
        row.addWidget(clear)
        layout.addLayout(row)
        self.setWidget(inner)
        self._pending: list[str] = []
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea
                             | Qt.DockWidgetArea.RightDockWidgetArea)

    def add(self, account: str, event: TranscriptLine) -> None:
        stamp = time.strftime("%H:%M:%S")
        who = "C:" if event.sent else "S:"
        self._pending.append(f"{stamp} {account} {who} {event.text}")
        if len(self._pending) > MAX_LINES:
            del self._pending[: len(self._pending) - MAX_LINES]
        if not self._timer.isActive():
            self._timer.start()

    def note(self, account: str, text: str) -> None:
        self._pending.append(f"{time.strftime('%H:%M:%S')} {account} -- {text}")
        if not self._timer.isActive():
            self._timer.start()

    @Slot()
    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self.text.appendPlainText("\n".join(lines))

    def lines(self) -> list[str]:
        self.flush()
        return self.text.toPlainText().splitlines()
