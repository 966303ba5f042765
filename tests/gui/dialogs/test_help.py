"""gui.dialogs.help: the shortcut list comes from the actions; the files page names them."""

from __future__ import annotations

from gui.dialogs.help import files_box, shortcuts_box
from gui.window.mainwindow import MainWindow


def test_shortcuts_page_lists_every_action_shortcut(window: MainWindow) -> None:
    box = shortcuts_box(window.acts.shortcut_table(), window)
    for key in ("Ctrl+L", "Ctrl+E", "Ctrl+Q", "Ctrl+Shift+U", "Ctrl+Shift+Del", "F5"):
        assert f"<b>{key}</b>" in box.text(), key


def test_files_page_names_the_places(window: MainWindow) -> None:
    text = files_box(window).text()
    assert "accounts.json" in text and "gui.ini" in text and "/popfetch/demo" in text
