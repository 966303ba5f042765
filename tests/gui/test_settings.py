"""gui.settings: typed values that survive a new QSettings on the same file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from gui.settings import AppSettings


def test_values_round_trip_through_the_ini_file(tmp_path: Path) -> None:
    ini = str(tmp_path / "gui.ini")
    first = AppSettings(QSettings(ini, QSettings.Format.IniFormat))
    assert first.connect_at_start and first.ask_before_quit and first.current_account == ""
    first.connect_at_start = False
    first.current_account = "me@example.org:995"
    first.store.sync()
    again = AppSettings(QSettings(ini, QSettings.Format.IniFormat))
    assert again.connect_at_start is False and again.ask_before_quit
    assert again.current_account == "me@example.org:995"
