"""The Help menu's pages: every keyboard shortcut, and where popfetch keeps its files."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QMessageBox, QWidget

from core.accounts import config_dir, data_dir, state_dir


def shortcuts_box(rows: list[tuple[str, str]], parent: QWidget | None = None) -> QMessageBox:
    """``rows``: (key, action), from the actions themselves (WindowActions.shortcut_table)."""
    table = "".join(f"<tr><td><b>{escape(key)}</b>&nbsp;&nbsp;</td><td>{escape(what)}</td></tr>"
                    for key, what in rows)
    box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts",
                      f"<table>{table}</table>", QMessageBox.StandardButton.Close, parent)
    box.setObjectName("shortcutsHelp")
    return box


def files_box(parent: QWidget | None = None) -> QMessageBox:
    places = [
        ("Accounts (no passwords)", config_dir() / "accounts.json"),
        ("Window and app settings", config_dir() / "gui.ini"),
        ("Partial downloads, stored UIDLs, marks", state_dir()),
        ("The demo mailbox and its downloads", data_dir() / "demo"),
    ]
    text = "".join(f"<p>{escape(what)}:<br><code>{escape(str(path))}</code></p>"
                   for what, path in places)
    box = QMessageBox(QMessageBox.Icon.Information, "Where files live",
                      text + "<p>Mail goes to the Maildir you chose for each account. "
                      "Passwords are in the system keychain (service “popfetch”).</p>",
                      QMessageBox.StandardButton.Close, parent)
    box.setObjectName("filesHelp")
    return box
