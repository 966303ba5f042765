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
from gui.models.columns import Column, MarkedRole, ReceivedRole, StateRole, TotalRole

Index = QModelIndex | QPersistentModelIndex


def shows_bar(state: object, received: int) -> bool:
    """A bar while a message is on its way (MessageState.active) or paused; a queued one
    with no bytes yet shows only its text."""
    if not isinstance(state, MessageState):
        return False
    if state is MessageState.QUEUED:
        return received > 0
    return state.active or state is MessageState.PAUSED


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
        if not shows_bar(state, int(index.data(ReceivedRole) or 0)):
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
        bar = bar_option(option, state, received, total)
        painter.save()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)
        # The text in one colour over the whole bar: the style's own text changes colour
        # where the filled part ends, mid-word.
        if index.data(MarkedRole):
            font = painter.font()
            font.setStrikeOut(True)
            painter.setFont(font)
        painter.setPen(TEXT_COLOUR)
        painter.drawText(bar.rect, Qt.AlignmentFlag.AlignCenter,
                         str(index.data(Qt.ItemDataRole.DisplayRole) or ""))
        painter.restore()


TEXT_COLOUR = QColor("#1f2933")  # dark on the light bar colours and on the empty groove
MOVING = QColor("#8cc4f0")  # the bar of a message downloading
STILL = QColor("#c3ccd5")  # paused, stalled, queued


def bar_option(option: QStyleOptionViewItem, state: object, received: int,
               total: int) -> QStyleOptionProgressBar:
    """The bar without text (the delegate writes it), muted unless it moves."""
    bar = QStyleOptionProgressBar()
    bar.rect = QRect(option.rect).adjusted(2, 2, -2, -2)
    bar.minimum = 0
    bar.maximum = 1000
    bar.progress = 0 if total <= 0 else min(1000, received * 1000 // total)
    bar.textVisible = False
    bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
    bar.palette = QPalette(option.palette)
    bar.fontMetrics = option.fontMetrics
    bar.palette.setColor(QPalette.ColorRole.Highlight,
                         MOVING if state is MessageState.DOWNLOADING else STILL)
    return bar
