"""The status bar: connection (with the reconnect countdown), security, resume, progress."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from core.engine.events import ConnectionState
from gui import fmt
from gui.models.totals import Totals
from gui.runner import AccountRunner


class StatusPanel(QObject):
    """Puts its widgets into ``bar``; ``show_connection`` / ``show_totals`` fill them."""

    def __init__(self, bar: QStatusBar, retry_action: QAction, parent: QObject | None = None):
        super().__init__(parent)
        self.conn_label = QLabel()
        self.conn_label.setObjectName("connectionLabel")
        self.secure_label = QLabel()
        self.secure_label.setObjectName("secureLabel")
        self.resume_label = QLabel()
        self.resume_label.setObjectName("resumeLabel")
        self.retry_button = QPushButton("Retry now")
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setToolTip(retry_action.toolTip())
        self.retry_button.setFlat(True)
        self.overall = QProgressBar()
        self.overall.setObjectName("overallProgress")
        self.overall.setRange(0, 1000)
        self.overall.setMaximumWidth(320)
        self.overall.setMinimumWidth(220)
        self.overall.setTextVisible(True)
        bar.addWidget(self.conn_label)
        bar.addWidget(self.retry_button)
        bar.addPermanentWidget(self.secure_label)
        bar.addPermanentWidget(self.resume_label)
        bar.addPermanentWidget(self.overall)
        self.retry_button.hide()
        self._runner: AccountRunner | None = None
        self._deadline = 0.0
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick)

    def reconnect_at(self, deadline: float) -> None:
        """The next attempt is due at ``deadline`` (time.monotonic())."""
        self._deadline = deadline

    @Slot()
    def _tick(self) -> None:
        self.show_connection(self._runner)

    def show_connection(self, runner: AccountRunner | None) -> None:
        self._runner = runner
        if runner is None:
            self.conn_label.setText("No account")
            self.secure_label.clear()
            self.resume_label.clear()
            self.retry_button.hide()
            self._countdown.stop()
            return
        c = runner.connection
        text = runner.status_text()
        retry_visible = False
        if c.state is ConnectionState.RECONNECTING:
            left = max(0, round(self._deadline - time.monotonic()))
            text = f"Connection lost — reconnecting in {left} s (attempt {c.attempt})"
            retry_visible = True
            if not self._countdown.isActive():
                self._countdown.start()
        else:
            self._countdown.stop()
            if c.state is ConnectionState.FAILED or runner.needs_password:
                retry_visible = True
            elif c.state is ConnectionState.DISCONNECTED and runner.engine is None:
                text = "Starting…"
        self.conn_label.setText(text)
        self.conn_label.setToolTip(c.detail)
        self.retry_button.setVisible(retry_visible)
        if c.state in (ConnectionState.CONNECTED, ConnectionState.COMMITTING):
            if c.secure:
                self.secure_label.setText("🔒 Secure (TLS)")
                self.secure_label.setToolTip("The connection is encrypted and verified")
            else:
                self.secure_label.setText("⚠ Not encrypted")
                self.secure_label.setToolTip("Mail travels in clear text on this connection")
        else:
            self.secure_label.clear()
        if c.can_resume is True:
            self.resume_label.setText("Can resume mid-message")
            self.resume_label.setToolTip("The server offers EXT-RETR: a paused or interrupted "
                                         "download continues where it stopped")
        elif c.can_resume is False:
            self.resume_label.setText("Cannot resume mid-message")
            self.resume_label.setToolTip(
                "The server does not offer EXT-RETR: an interrupted download starts again "
                "from the beginning (the stored part is checked); pausing holds the "
                "connection open")
        else:
            self.resume_label.clear()

    def show_totals(self, t: Totals | None) -> None:
        if t is None:
            self.overall.hide()
            return
        if t.bytes_wanted <= 0:
            self.overall.setValue(0)
            self.overall.setFormat(f"{t.count} messages, {fmt.size(t.bytes_total)} on the server"
                                   if t.count else "No messages")
        else:
            self.overall.setValue(int(1000 * t.bytes_received / t.bytes_wanted))
            parts = [f"{t.stored}/{t.count} stored",
                     f"{fmt.percent(t.bytes_received, t.bytes_wanted)}%"]
            if t.rate > 0:
                parts.append(fmt.rate(t.rate))
            if t.paused:
                parts.append(f"{t.paused} paused")
            if t.failed:
                parts.append(f"{t.failed} failed")
            self.overall.setFormat(" · ".join(parts))
        self.overall.setToolTip(
            f"{fmt.size(t.bytes_received)} of {fmt.size(t.bytes_wanted)} downloaded")
        self.overall.show()
