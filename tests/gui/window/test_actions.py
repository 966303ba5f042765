"""gui.window.actions: when commands are enabled, the shortcut map, and README's table."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.engine.events import ListLoaded, MessageState
from gui.window.actions import WindowActions
from gui.window.mainwindow import MainWindow
from tests.gui.helpers import info, runner_with

README = Path(__file__).resolve().parents[3] / "README.md"


def test_download_all_is_enabled_only_when_something_can_be_downloaded(
        qtbot: Any, window: MainWindow) -> None:
    stored = [info(i, state=MessageState.STORED, received=1000) for i in range(3)]
    runner = runner_with(qtbot, [*stored, info(9, state=MessageState.GONE)])
    window.registry.add(runner)
    qtbot.waitUntil(lambda: window.current is runner)
    window._update_actions()
    assert not window.acts.download_all.isEnabled()  # all here, one gone from the server
    runner.model.apply(ListLoaded((*stored, info(5))))
    window._update_actions()
    assert window.acts.download_all.isEnabled()


def test_no_action_writes_a_status_tip_over_the_connection_state(window: MainWindow) -> None:
    assert all(not a.statusTip() for a in window.findChildren(type(window.acts.check)))


def test_readme_lists_every_shortcut(window: MainWindow) -> None:
    text = README.read_text()
    table = text[text.index("| key | action |"):]
    table = table[: table.index("\n\n")]
    keys = {k.strip() for row in re.findall(r"^\| ([^|]+) \|", table, re.M)
            for k in row.split(" / ")}
    missing = [key for key, _ in window.acts.shortcut_table() if key not in keys]
    assert not missing, f"README's shortcut table misses {missing}"


def test_the_help_menu_has_more_than_about(window: MainWindow) -> None:
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    texts = [a.text().replace("&", "") for a in menus["Help"].actions() if a.text()]
    assert texts == ["Keyboard shortcuts", "Where files live", "About popfetch", "About Qt"]


def test_actions_bind_commands_to_the_current_runner(qtbot: Any) -> None:
    from PySide6.QtWidgets import QWidget

    owner = QWidget()
    qtbot.addWidget(owner)
    ran: list[object] = []
    acts = WindowActions(owner, lambda command: lambda: ran.append(command))
    acts.download_all.trigger()
    from gui.window import commands

    assert ran == [commands.download_all]
    acts.update(None, [])
    assert not acts.commit.isEnabled() and not acts.check.isEnabled()
