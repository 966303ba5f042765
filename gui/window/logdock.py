"""The protocol log: a dock with the session transcript (the engine has redacted secrets).

Server text is sanitized before it is shown, and keep-alives (a NOOP every few seconds
while a session idles) collapse into one line per run that counts them.
"""

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
from core.text import sanitize

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
        self._noop_answer: set[str] = set()  # accounts whose NOOP awaits its +OK
        self._keepalives: dict[str, tuple[str, int, str]] = {}  # account: (since, n, line)
        self._lines: deque[str] = deque(maxlen=MAX_LINES)  # everything kept
        self.visibilityChanged.connect(self._visibility)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self.flush)
        self.setAllowedAreas(Qt.DockWidgetArea.BottomDockWidgetArea
                             | Qt.DockWidgetArea.RightDockWidgetArea)

    def add(self, account: str, events: list[TranscriptLine]) -> None:
        stamp = time.strftime("%H:%M:%S")
        prefix = f"{stamp} {account} "
        lines: list[str] = []
        for ev in events:
            if ev.sent and ev.text.strip().upper() == "NOOP":
                self._push(lines)
                lines = []
                self._keepalive(account, stamp)
                self._noop_answer.add(account)
                continue
            if not ev.sent and account in self._noop_answer:
                self._noop_answer.discard(account)
                if ev.text.startswith("+OK"):
                    continue
            self._keepalives.pop(account, None)  # other traffic ends the run
            lines.append(f"{prefix}{'C:' if ev.sent else 'S:'} {sanitize(ev.text, 2000)}")
        self._push(lines)

    def _keepalive(self, account: str, stamp: str) -> None:
        """One line per run of keep-alives, counting them, rewritten in place."""
        run = self._keepalives.get(account)
        since, n = (run[0], run[1] + 1) if run else (stamp, 1)
        line = f"{stamp} {account} -- keep-alive (NOOP): {n} since {since}"
        if run is not None and self._lines and self._lines[-1] == run[2]:
            self._replace_last(run[2], line)
        else:
            self._push([line])
        self._keepalives[account] = (since, n, line)

    def _replace_last(self, old: str, new: str) -> None:
        self._lines[-1] = new
        if self._pending and self._pending[-1] == old:
            self._pending[-1] = new
            return
        block = self.text.document().lastBlock()
        if self.isVisible() and block.text() == old:
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock,
                                QTextCursor.MoveMode.KeepAnchor)
            cursor.insertText(new)

    def _push(self, lines: list[str]) -> None:
        if not lines:
            return
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
        self._push([f"{time.strftime('%H:%M:%S')} {account} -- {sanitize(text, 2000)}"])

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
