"""The message table view: its look, its columns, and what is selected in it.

The view shows one account's model at a time through a filter proxy; the column layout
(widths, order, sort indicator) is shared by every account and kept across switches and
sessions.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from core.engine.events import MessageState
from gui.models.columns import Column, StateRole, UidlRole
from gui.models.filterproxy import MessageFilterProxy
from gui.window.delegate import MessageDelegate

DEFAULT_WIDTHS = {Column.STATE: 28, Column.FROM: 200, Column.SUBJECT: 320,
                  Column.DATE: 130, Column.SIZE: 80, Column.SERVER: 110, Column.PROGRESS: 260}


class MessageTable(QTableView):
    """Shows ``proxy``; ``show_model`` switches the account behind it."""

    def __init__(self, proxy: MessageFilterProxy, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.proxy = proxy
        self._header_state: Any = None
        self._overlay: QWidget | None = None
        self._reserved = 0
        self.setObjectName("messageTable")
        self.setModel(self.proxy)
        self.setItemDelegateForColumn(Column.PROGRESS, MessageDelegate(self))
        self.setSortingEnabled(True)
        self.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setMinimumSectionSize(24)

    def keep_bottom(self, overlay: QWidget) -> None:
        """Show ``overlay`` over the bottom edge, in room taken from the viewport's bottom:
        the rows above stay where they are whatever its height."""
        self._overlay = overlay
        overlay.setParent(self)
        self._place_overlay()

    def reserve(self, height: int) -> None:
        self._reserved = height
        self.updateGeometries()
        self._place_overlay()

    def updateGeometries(self) -> None:
        """The headers' margins as QTableView sets them, plus the room kept at the bottom."""
        super().updateGeometries()
        m = self.viewportMargins()
        if m.bottom() != self._reserved:
            self.setViewportMargins(m.left(), m.top(), m.right(), self._reserved)
        self._place_overlay()

    def _place_overlay(self) -> None:
        if self._overlay is None:
            return
        vp = self.viewport().geometry()  # the room is right below it, beside the scroll bar
        self._overlay.setGeometry(vp.left(), vp.bottom() + 1, vp.width(),
                                  max(self._reserved, 1))
        layout = self._overlay.layout()
        if layout is not None:  # placed by hand, not by a parent's layout: lay it out now
            layout.setGeometry(self._overlay.rect())
        self._overlay.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_overlay()

    def show_model(self, model: QAbstractItemModel | None) -> None:
        """Show another account's messages in the same column layout and sort order."""
        header = self.horizontalHeader()
        if self.proxy.columnCount() > 0:
            self._header_state = header.saveState()
        if model is None:
            self.proxy.show_nothing()
        else:
            self.proxy.setSourceModel(model)
        if self.proxy.columnCount() > 0 and (
            self._header_state is None or not header.restoreState(self._header_state)
        ):
            self._default_columns()
        if model is not None:
            model.sort(header.sortIndicatorSection() if header.isSortIndicatorShown()
                       else -1, header.sortIndicatorOrder())

    def _default_columns(self) -> None:
        header = self.horizontalHeader()
        for col, width in DEFAULT_WIDTHS.items():
            header.resizeSection(col, width)
        header.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.STATE, QHeaderView.ResizeMode.Fixed)

    def restore_header(self, state: Any) -> None:
        """The layout saved last session; applied when a model is first shown."""
        self._header_state = state

    def header_state(self) -> Any:
        """The layout to save: the live one if a model is shown, else the last known."""
        if self.proxy.columnCount() > 0:
            self._header_state = self.horizontalHeader().saveState()
        return self._header_state

    def selected_uidls(self) -> list[str]:
        rows = self.selectionModel().selectedRows()
        return [str(self.proxy.data(ix, UidlRole)) for ix in rows]

    def selected_states(self) -> list[tuple[str, MessageState]]:
        out: list[tuple[str, MessageState]] = []
        for ix in self.selectionModel().selectedRows():
            out.append((str(self.proxy.data(ix, UidlRole)), self.proxy.data(ix, StateRole)))
        return out
