"""The tray icon: what popfetch is doing (idle, fetching, error, new mail) and a menu.

It knows nothing of the engine or the window: the app sets its :class:`TrayStatus` and
connects its signals. The icon is drawn, not loaded, so the state and the count of new
messages show in it at any size the tray host asks for.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal, SignalInstance, Slot
from PySide6.QtGui import QAction, QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from core.text import sanitize

__all__ = ["Tray", "TrayState", "TrayStatus", "draw_icon"]


class TrayState(enum.Enum):
    IDLE = "idle"
    FETCHING = "fetching"
    ERROR = "error"

    @property
    def colour(self) -> QColor:
        return QColor({"idle": "#5f6b7a", "fetching": "#2f80ed", "error": "#d64545"}[self.value])


@dataclass(frozen=True, slots=True)
class TrayStatus:
    state: TrayState = TrayState.IDLE
    new: int = 0  # messages that arrived since the user last looked
    detail: str = ""  # the error, or what is being fetched

    def describe(self) -> str:
        """One line for the tooltip and the menu's status entry."""
        if self.state is TrayState.ERROR:
            return f"Error: {sanitize(self.detail, 80)}" if self.detail else "Error"
        parts = ["Checking for mail…" if self.state is TrayState.FETCHING else "Idle"]
        if self.new:
            parts.append(f"{self.new} new message{'s' if self.new != 1 else ''}")
        return " · ".join(parts)


def draw_icon(status: TrayStatus, size: int = 64) -> QPixmap:
    """An envelope in the state's colour, with a red count badge when there is new mail."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 64
    body = QRectF(6 * s, 16 * s, 52 * s, 36 * s)
    p.setPen(QPen(status.state.colour.darker(130), 3 * s))
    p.setBrush(status.state.colour)
    p.drawRoundedRect(body, 4 * s, 4 * s)
    flap = QPainterPath(QPointF(body.left(), body.top()))
    flap.lineTo(body.center().x(), body.top() + 20 * s)
    flap.lineTo(body.right(), body.top())
    p.setPen(QPen(QColor("white"), 3 * s))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(flap)
    if status.state is TrayState.ERROR:
        p.setPen(QPen(QColor("white"), 5 * s))
        p.drawLine(QPointF(32 * s, 30 * s), QPointF(32 * s, 40 * s))
        p.drawPoint(QPointF(32 * s, 46 * s))
    if status.new:
        badge = QRectF(34 * s, 2 * s, 28 * s, 28 * s)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#e03131"))
        p.drawEllipse(badge)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(int((16 if status.new < 100 else 11) * s))
        p.setFont(font)
        p.setPen(QColor("white"))
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(status.new) if status.new < 1000
                   else "999+")
    p.end()
    return pixmap


class Tray(QObject):
    """The tray icon and its menu; the app reacts to the signals."""

    open_requested = Signal()  # click on the icon, or "Open popfetch"
    check_requested = Signal()  # "Check now"
    autostart_toggled = Signal(bool)  # "Start popfetch when I log in"
    quit_requested = Signal()

    def __init__(self, parent: QObject | None = None, *, autostart: bool = False) -> None:
        super().__init__(parent)
        self.menu = QMenu()
        self.open_action = self._action("Open popfetch", self.open_requested)
        self.check_action = self._action("Check now", self.check_requested)
        self.menu.addSeparator()
        self.status_action = QAction("Idle", self.menu)
        self.status_action.setEnabled(False)
        self.menu.addAction(self.status_action)
        self.menu.addSeparator()
        self.autostart_action = QAction("Start popfetch when I log in", self.menu)
        self.autostart_action.setCheckable(True)
        self.autostart_action.setChecked(autostart)
        self.autostart_action.toggled.connect(self.autostart_toggled)
        self.menu.addAction(self.autostart_action)
        self.menu.addSeparator()
        self.quit_action = self._action("Quit popfetch", self.quit_requested)
        self.icon = QSystemTrayIcon()
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._on_activated)
        self.status = TrayStatus()
        self.set_status(self.status)

    def _action(self, text: str, signal: SignalInstance) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(signal)
        self.menu.addAction(action)
        return action

    @staticmethod
    def available() -> bool:
        """Whether the desktop has a tray at all (else closing the window must quit)."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    def show(self) -> None:
        self.icon.show()

    def hide(self) -> None:
        self.icon.hide()

    def set_status(self, status: TrayStatus) -> None:
        self.status = status
        icon = QIcon()
        for size in (16, 22, 24, 32, 48, 64):
            icon.addPixmap(draw_icon(status, size))
        self.icon.setIcon(icon)
        text = status.describe()
        self.icon.setToolTip(f"popfetch — {text}")
        self.status_action.setText(text)
        self.check_action.setEnabled(status.state is not TrayState.FETCHING)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger,
                      QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()
