"""The protocol log: a dock with the session transcript (the engine has redacted secrets)."""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.engine.events import TranscriptLine

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
        clear.clicked.connect(self.clear)
        row.addWidget(clear)
        layout.addLayout(row)
        self.setWidget(inner)
        self._pending: list[str] = []  # not yet shown
        self._lines: deque[str] = deque(maxlen=MAX_LINES)  # everything kept
        self.visibilityChanged.connect(self._visibility)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea
                             | Qt.DockWidgetArea.RightDockWidgetArea)

    def add(self, account: str, events: list[TranscriptLine]) -> None:
        prefix = f"{time.strftime('%H:%M:%S')} {account} "
        self._push([f"{prefix}{'C:' if ev.sent else 'S:'} {ev.text}" for ev in events])

    def _push(self, lines: list[str]) -> None:
        self._lines.extend(lines)
        if not self.isVisible():
            return  # the text widget is filled when the dock is shown
        self._pending.extend(lines)
        if len(self._pending) > MAX_LINES:
            del self._pending[: len(self._pending) - MAX_LINES]
        if not self._timer.isActive():
            self._timer.start()

    @Slot(bool)
    def _visibility(self, visible: bool) -> None:
        if visible:
            self._pending.clear()
            self.text.setPlainText("\n".join(self._lines))
            self.text.moveCursor(QTextCursor.MoveOperation.End)

    def note(self, account: str, text: str) -> None:
        self._push([f"{time.strftime('%H:%M:%S')} {account} -- {text}"])

    @Slot()
    def clear(self) -> None:
        self._lines.clear()
        self._pending.clear()
        self.text.clear()

    @Slot()
    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self.text.appendPlainText("\n".join(lines))

    def lines(self) -> list[str]:
        return list(self._lines)

    def shown_lines(self) -> list[str]:
        self.flush()
        return self.text.toPlainText().splitlines()
