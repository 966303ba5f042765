"""The status bar: connection (with the reconnect countdown and its reason), security,
resume, and the account's overall progress.

Every widget is a permanent one: a passing message (Host.show_status) takes the space on
the left and never covers the connection state or the Retry button.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from core.engine.events import ConnectionState
from core.text import sanitize
from gui import fmt, icons
from gui.models.totals import Totals
from gui.runner import AccountRunner

ICON_PX = 16


def login_delay_text(seconds: float) -> str:
    """The server's LOGIN-DELAY (RFC 2449) in words: why checks are not more frequent."""
    return f"The server allows a login every {fmt.duration(seconds)}"


class StatusPanel(QObject):
    """Puts its widgets into ``bar``; ``show_connection`` / ``show_totals`` fill them."""

    def __init__(self, bar: QStatusBar, retry_action: QAction, parent: QObject | None = None):
        super().__init__(parent)
        self.conn_label = QLabel()
        self.conn_label.setObjectName("connectionLabel")
        self.retry_button = QPushButton("Retry now")
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setToolTip(retry_action.toolTip())
        self.retry_button.setFlat(True)
        self.secure_icon = QLabel()
        self.secure_icon.setObjectName("secureIcon")
        self.secure_label = QLabel()
        self.secure_label.setObjectName("secureLabel")
        self.resume_label = QLabel()
        self.resume_label.setObjectName("resumeLabel")
        self.login_delay_label = QLabel()
        self.login_delay_label.setObjectName("loginDelayLabel")
        # The figures beside the bar, not on it: a style paints a bar's own text in two
        # colours, changing where the filled part ends.
        self.overall = QProgressBar()
        self.overall.setObjectName("overallProgress")
        self.overall.setRange(0, 1000)
        self.overall.setFixedWidth(120)
        self.overall.setTextVisible(False)
        self.overall_label = QLabel()
        self.overall_label.setObjectName("overallLabel")
        overall = QWidget()
        row = QHBoxLayout(overall)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.overall_label)
        row.addWidget(self.overall)
        self._overall_box = overall
        for w in (self.conn_label, self.retry_button, self.secure_icon, self.secure_label,
                  self.resume_label, self.login_delay_label, overall):
            bar.addPermanentWidget(w)
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
            self.secure_icon.clear()
            self.resume_label.clear()
            self.login_delay_label.clear()
            self.retry_button.hide()
            self._countdown.stop()
            return
        c = runner.connection
        text = runner.status_text()
        retry_visible = False
        if c.state is ConnectionState.RECONNECTING:
            left = max(0, round(self._deadline - time.monotonic()))
            reason = sanitize(c.detail or runner.retry_reason, 120)
            head = "Connection lost" if runner.ever_connected else "Cannot connect"
            if reason:
                head += f": {reason}"
            text = f"{head} — retrying in {left} s (attempt {c.attempt})"
            retry_visible = True
            if not self._countdown.isActive():
                self._countdown.start()
        else:
            self._countdown.stop()
            if c.state is ConnectionState.CONNECTED and not runner.needs_password:
                text = "Connected"  # how securely: the label beside it
            if c.state is ConnectionState.FAILED or runner.needs_password:
                retry_visible = True
            elif c.state is ConnectionState.DISCONNECTED and runner.engine is None:
                text = "Starting…" if runner.starting else "Not connected"
        self.conn_label.setText(text)
        self.conn_label.setToolTip(sanitize(c.detail))
        self.retry_button.setVisible(retry_visible)
        if c.state in (ConnectionState.CONNECTED, ConnectionState.COMMITTING):
            secure = c.secure
            self.secure_icon.setPixmap(
                icons.icon("secure" if secure else "insecure").pixmap(ICON_PX, ICON_PX))
            self.secure_label.setText("Secure (TLS)" if secure else "Not encrypted")
            tip = ("The connection is encrypted and verified" if secure
                   else "Mail travels in clear text on this connection")
            self.secure_label.setToolTip(tip)
            self.secure_icon.setToolTip(tip)
        else:
            self.secure_label.clear()
            self.secure_icon.clear()
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
        if runner.login_delay is not None:
            self.login_delay_label.setText(
                f"Logins every {fmt.duration(runner.login_delay)}")
            self.login_delay_label.setToolTip(
                login_delay_text(runner.login_delay) + " (LOGIN-DELAY): scheduled checks come no "
                "more often")
        else:
            self.login_delay_label.clear()
            self.login_delay_label.setToolTip("")

    def show_totals(self, t: Totals | None) -> None:
        if t is None:
            self._overall_box.hide()
            return
        if t.count == 0:
            self.overall.setValue(0)
            self.overall_label.setText("No messages")
        else:
            self.overall.setValue(int(1000 * t.bytes_received / max(1, t.bytes_total)))
            parts = [f"{t.stored}/{t.count} stored",
                     f"{fmt.percent(t.bytes_received, t.bytes_total)}%"]
            if t.rate > 0:
                parts.append(fmt.rate(t.rate))
            if t.paused:
                parts.append(f"{t.paused} paused")
            if t.failed:
                parts.append(f"{t.failed} failed")
            self.overall_label.setText(" · ".join(parts))
        tip = f"{fmt.size(t.bytes_received)} of {fmt.size(t.bytes_total)} stored here"
        self.overall.setToolTip(tip)
        self.overall_label.setToolTip(tip)
        self._overall_box.show()
