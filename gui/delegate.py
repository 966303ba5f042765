"""Paints the progress column and strikes marked rows through."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QWidget,
)

from core.events import MessageState
from gui.model import (
    Column,
    DetailRole,
    MarkedRole,
    RateRole,
    ReceivedRole,
    StateRole,
    TotalRole,
    progress_text,
)

Index = QModelIndex | QPersistentModelIndex

# States that show a bar; the others show only text.
_BAR_STATES = {
    MessageState.DOWNLOADING,
    MessageState.PAUSED,
    MessageState.STALLED,
    MessageState.QUEUED,
    MessageState.STORED,
}


class MessageDelegate(QStyledItemDelegate):
    """For the whole table: progress bars in Column.PROGRESS, marked rows struck through."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        if index.data(MarkedRole):
            option.font.setStrikeOut(True)
            option.palette.setColor(
                QPalette.ColorRole.Text, option.palette.color(QPalette.ColorRole.PlaceholderText)
            )
        elif index.data(StateRole) == MessageState.GONE:
            option.palette.setColor(
                QPalette.ColorRole.Text, option.palette.color(QPalette.ColorRole.PlaceholderText)
            )

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        state = index.data(StateRole)
        if index.column() != Column.PROGRESS or state not in _BAR_STATES:
            super().paint(painter, option, index)
            return
        # Background and selection as for any cell, without text.
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        widget = option.widget
        style = widget.style() if isinstance(widget, QWidget) else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)

        received = int(index.data(ReceivedRole) or 0)
        total = int(index.data(TotalRole) or 0)
        rate = float(index.data(RateRole) or 0.0)
        detail = str(index.data(DetailRole) or "")
        bar = QStyleOptionProgressBar()
        bar.rect = QRect(option.rect).adjusted(2, 2, -2, -2)
        bar.minimum = 0
        bar.maximum = 1000
        if state == MessageState.STORED:
            bar.progress = 1000
        else:
            bar.progress = 0 if total <= 0 else min(1000, received * 1000 // total)
        bar.text = progress_text(state, received, total, rate, detail)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = QPalette(option.palette)
        bar.fontMetrics = option.fontMetrics
        if state in (MessageState.PAUSED, MessageState.STALLED, MessageState.QUEUED):
            # a muted bar for transfers that are not moving
            bar.palette.setColor(QPalette.ColorRole.Highlight, QColor("#a9b4bf"))
        elif state == MessageState.STORED:
            bar.palette.setColor(QPalette.ColorRole.Highlight, QColor("#27ae60"))
        painter.save()
        if index.data(MarkedRole):
            font = painter.font()
            font.setStrikeOut(True)
            painter.setFont(font)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
        painter.restore()
