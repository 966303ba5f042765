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

from core.engine.events import MessageState
from gui.models.columns import (
    Column,
    DetailRole,
    MarkedRole,
    RateRole,
    ReceivedRole,
    StateRole,
    TotalRole,
)
from gui.models.rows import progress_text

Index = QModelIndex | QPersistentModelIndex

# States that show a bar; the others show only text.
_BAR_STATES = {
    MessageState.DOWNLOADING,
    MessageState.PAUSED,
    MessageState.STALLED,
    MessageState.QUEUED,
}


class MessageDelegate(QStyledItemDelegate):
    """Paints Column.PROGRESS: a bar with percent, speed and time left while a message moves;
    coloured text when it is stored or failed. Set it for that column only
    (``setItemDelegateForColumn``): the other cells are painted by Qt's own delegate, with
    no Python call per cell. Marked rows come struck through and grey from the model's
    FontRole / ForegroundRole, which Qt's delegate honours as well as this one.
    """

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        state = index.data(StateRole)
        if index.column() != Column.PROGRESS:
            super().paint(painter, option, index)
            return
        if state not in _BAR_STATES or (
            state == MessageState.QUEUED and not index.data(ReceivedRole)
        ):
            # text only, coloured and centred by the model: Qt's own painting
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
