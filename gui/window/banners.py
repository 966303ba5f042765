"""The coloured banners over the bottom of the message list: a connection error, and
pending deletions.

A banner, not a status-bar message: marked messages are deleted on the server only on
commit, and that must stay in view until the user commits or unmarks. They sit in a
BannerArea that the table reserves at its bottom edge, so a banner that appears never
moves the rows under the pointer (a second click lands where the first one did).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.engine.events import ConnectionState
from core.text import sanitize
from gui import fmt, icons
from gui.models.totals import Totals
from gui.runner import AccountRunner
from gui.window.commands import messages


class Banner(QFrame):
    """A framed, tinted row of widgets; hidden until there is something to say."""

    shownChanged = Signal()

    def setVisible(self, visible: bool) -> None:
        super().setVisible(visible)
        self.shownChanged.emit()

    def __init__(self, name: str, bg: str, fg: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setStyleSheet(f"QFrame#{name} {{ background: {bg}; border: 1px solid {fg}; "
                           f"border-radius: 4px; }} QFrame#{name} QLabel {{ color: {fg}; }}")
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(8, 4, 8, 4)
        self.hide()


class ErrorBanner(Banner):
    """Why the account cannot connect, with a Retry button."""

    def __init__(self) -> None:
        super().__init__("errorBanner", "#fdecea", "#b3261e")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.retry = QPushButton("Retry")
        self.row.addWidget(self.label, 1)
        self.row.addWidget(self.retry)

    def show_for(self, runner: AccountRunner | None) -> None:
        """Shown while the connection has failed for good or waits for a password."""
        err = runner.last_error if runner is not None else None
        show = runner is not None and err is not None and (
            runner.connection.state is ConnectionState.FAILED or runner.needs_password)
        if show and err is not None:
            self.label.setText(sanitize(err.message))
        self.setVisible(bool(show))


class MarksBanner(Banner):
    """How many messages are marked for deletion, with Commit… and Unmark all."""

    def __init__(self, commit_tip: str, unmark_tip: str) -> None:
        super().__init__("marksBanner", "#fff4e5", "#8a4b00")
        trash = QLabel()
        trash.setPixmap(icons.icon("marked").pixmap(22, 22))
        self.label = QLabel()
        self.label.setObjectName("marksLabel")
        self.label.setWordWrap(True)
        self.commit = QPushButton(icons.icon("commit"), "Commit…")
        self.commit.setToolTip(commit_tip)
        self.unmark = QPushButton("Unmark all")
        self.unmark.setToolTip(unmark_tip)
        for w in (trash, self.label):
            self.row.addWidget(w)
        self.row.setStretch(1, 1)
        self.row.addWidget(self.commit)
        self.row.addWidget(self.unmark)

    def show_totals(self, t: Totals | None) -> None:
        if t is None:
            self.hide()
            return
        if t.marked:
            self.label.setText(
                f"<b>{messages(t.marked).capitalize()} ({fmt.size(t.marked_bytes)}) marked "
                "for deletion.</b> They are deleted on the server only when you commit "
                "(Ctrl+Return); until then nothing changes there.")
        self.setVisible(t.marked > 0)


class BannerArea(QWidget):
    """The banners, stacked; ``heightChanged`` tells the table how much room to keep."""

    heightChanged = Signal(int)

    def __init__(self, banners: list[Banner], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bannerArea")
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 2, 4, 2)
        column.setSpacing(2)
        for banner in banners:
            column.addWidget(banner)
            banner.shownChanged.connect(self.relayout)
        self._height = 0
        self.hide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.relayout()  # wrapped text takes another height at another width

    def relayout(self) -> None:
        layout = self.layout()
        shown = any(w.isVisibleTo(self) for w in self.findChildren(Banner))
        height = 0
        if shown and layout is not None:
            layout.activate()
            width = self.width() if self.width() > 100 else self.sizeHint().width()
            height = layout.totalHeightForWidth(width)
            if height < 0:  # nothing in it wraps
                height = self.sizeHint().height()
        self.setVisible(shown)
        if height != self._height:
            self._height = height
            self.heightChanged.emit(height)
