"""What the app's pieces may ask of the window: show a dialog or a message, report a failure.

Commands, account management, prompts and the quit question get a Host, not the window,
so each can be built and tested with any widget that provides these few things.
"""

from __future__ import annotations

from typing import Protocol

from PySide6.QtWidgets import QDialog, QWidget


class Host(Protocol):
    def widget(self) -> QWidget:
        """The parent for dialogs."""
        ...

    def show_dialog(self, dialog: QDialog) -> None:
        """Open ``dialog`` without blocking (the event loop, and transfers, go on)."""
        ...

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """A passing message in the status area."""
        ...

    def report_error(self, title: str, text: str) -> None:
        """Something failed that the user must hear of (a dialog that does not block)."""
        ...
