"""gui.dialogs.settings: choices are saved; the demo's data is measured and removed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

from gui.dialogs.settings import SettingsDialog
from gui.settings import AppSettings


def test_choices_are_saved_on_ok(qtbot: Any, tmp_path: Path) -> None:
    settings = AppSettings(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    dialog = SettingsDialog(settings, tmp_path / "demo", demo_running=False)
    qtbot.addWidget(dialog)
    dialog.connect_check.setChecked(False)
    dialog.accept()
    assert settings.connect_at_start is False


def test_the_demo_data_is_measured_and_removed(qtbot: Any, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    (demo / "mailbox" / "new").mkdir(parents=True)
    (demo / "mailbox" / "new" / "big").write_bytes(b"x" * 180_000)
    settings = AppSettings(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    dialog = SettingsDialog(settings, demo, demo_running=False)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(dialog.remove_demo.isEnabled)
    assert "180 kB" in dialog.demo_label.text()
    dialog.remove_demo.click()
    qtbot.waitUntil(lambda: dialog.demo_label.text() == "The demo has left no data.")
    assert not demo.exists()


def test_the_demo_data_stays_while_the_demo_runs(qtbot: Any, tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "f").write_bytes(b"x" * 10)
    settings = AppSettings(QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    dialog = SettingsDialog(settings, demo, demo_running=True)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "Stop the demo" in dialog.demo_label.text())
    assert not dialog.remove_demo.isEnabled()
