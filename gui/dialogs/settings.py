"""Settings: popfetch's own choices, and removing the demo's data."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.text import sanitize
from gui import fmt
from gui.settings import AppSettings
from gui.tasks import BackgroundTask


def tree_size(root: Path) -> int:
    """Octets of the files under ``root`` (0 if it is not there). Blocking."""
    if not root.exists():
        return 0
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


class SettingsDialog(QDialog):
    """Saved on OK. ``demo_root``: the demo's data; ``demo_running`` keeps it while in use."""

    def __init__(self, settings: AppSettings, demo_root: Path, demo_running: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings")
        self._settings = settings
        self._demo_root = demo_root
        layout = QVBoxLayout(self)
        self.connect_check = QCheckBox("Connect to every account when popfetch starts")
        self.connect_check.setToolTip("When off, popfetch lists the mail stored here and "
                                      "connects when you press F5")
        self.connect_check.setChecked(settings.connect_at_start)
        self.ask_check = QCheckBox("Ask before quitting with marked messages or downloads")
        self.ask_check.setChecked(settings.ask_before_quit)
        layout.addWidget(self.connect_check)
        layout.addWidget(self.ask_check)

        demo = QGroupBox("Demo mailbox")
        row = QHBoxLayout(demo)
        self.demo_label = QLabel(f"{demo_root}: measuring…")
        self.demo_label.setObjectName("demoData")
        self.demo_label.setWordWrap(True)
        self.remove_demo = QPushButton("Remove")
        self.remove_demo.setObjectName("removeDemo")
        self.remove_demo.setToolTip("Delete the demo server's sample mailbox and what was "
                                    "downloaded from it; it is made again if you try the "
                                    "demo later")
        self.remove_demo.setEnabled(False)
        self.remove_demo.clicked.connect(self._remove_demo)
        row.addWidget(self.demo_label, 1)
        row.addWidget(self.remove_demo)
        layout.addWidget(demo)
        self._demo_running = demo_running

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._measure()

    def _measure(self) -> None:
        root = self._demo_root
        task = BackgroundTask(lambda: tree_size(root), on_error=self._failed, parent=self,
                              name="measure demo")
        task.done.connect(self._measured)
        task.start()

    @Slot(object)
    def _measured(self, size: int) -> None:
        if size == 0:
            self.demo_label.setText("The demo has left no data.")
            self.remove_demo.setEnabled(False)
            return
        text = f"The demo keeps {fmt.size(size)} in {self._demo_root}."
        if self._demo_running:
            text += " Stop the demo (remove its account) to remove it."
        self.demo_label.setText(text)
        self.remove_demo.setEnabled(not self._demo_running)

    @Slot()
    def _remove_demo(self) -> None:
        self.remove_demo.setEnabled(False)
        root = self._demo_root
        task = BackgroundTask(lambda: shutil.rmtree(root), on_error=self._failed,
                              parent=self, name="remove demo")
        task.finished.connect(self._measure)
        task.start()

    def _failed(self, exc: BaseException) -> None:
        self.demo_label.setText(f"Cannot measure or remove {self._demo_root}: "
                                f"{sanitize(str(exc))}")

    def accept(self) -> None:
        self._settings.connect_at_start = self.connect_check.isChecked()
        self._settings.ask_before_quit = self.ask_check.isChecked()
        super().accept()
