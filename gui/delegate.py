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
}
_STORED_COLOR = QColor("#1e8449")
_FAILED_COLOR = QColor("#b3261e")


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
        if index.column() != Column.PROGRESS:
            super().paint(painter, option, index)
            return
        if state not in _BAR_STATES or (
            state == MessageState.QUEUED and not index.data(ReceivedRole)
        ):
            # no bar: coloured text, so the moving bars stand out
            opt = QStyleOptionViewItem(option)
            self.initStyleOption(opt, index)
            if not opt.state & QStyle.StateFlag.State_Selected and not index.data(MarkedRole):
                if state == MessageState.STORED:
                    color = _STORED_COLOR
                elif state == MessageState.FAILED:
                    color = _FAILED_COLOR
                else:
                    color = opt.palette.color(QPalette.ColorRole.PlaceholderText)
                opt.palette.setColor(QPalette.ColorRole.Text, color)
            opt.displayAlignment = Qt.AlignmentFlag.AlignCenter
            widget = option.widget
            style = widget.style() if isinstance(widget, QWidget) else QApplication.style()
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
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
        bar.progress = 0 if total <= 0 else min(1000, received * 1000 // total)
        bar.text = progress_text(state, received, total, rate, detail)
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        bar.palette = QPalette(option.palette)
        bar.fontMetrics = option.fontMetrics
        if state in (MessageState.PAUSED, MessageState.STALLED, MessageState.QUEUED):
            # a muted bar for transfers that are not moving
            bar.palette.setColor(QPalette.ColorRole.Highlight, QColor("#c3ccd5"))
            bar.palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#1f2933"))
        painter.save()
        if index.data(MarkedRole):
            font = painter.font()
            font.setStrikeOut(True)
            painter.setFont(font)
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
        painter.restore()
