"""gui.window.welcome: the first page offers an account or the demo."""

from __future__ import annotations

from typing import Any

from gui.window.welcome import WelcomePage


def test_both_ways_in_are_offered(qtbot: Any) -> None:
    page = WelcomePage()
    qtbot.addWidget(page)
    assert page.add_button.text() == "Add account…"
    assert "demo/demo" in page.demo_button.toolTip()
