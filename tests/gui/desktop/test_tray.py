"""The tray icon: its picture for each state, its menu, and the real thing in Debian's
trayer on Xvfb (embedded, menu open, photographed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QSystemTrayIcon

from gui.desktop.tray import Tray, TrayState, TrayStatus, draw_icon
from tests.gui.desktop.conftest import Desktop, require
from tests.support import desktop

ROOT = Path(__file__).resolve().parents[3]
BADGE = QColor("#e03131")


def colours(image: QImage) -> set[str]:
    return {image.pixelColor(x, y).name() for x in range(image.width())
            for y in range(image.height()) if image.pixelColor(x, y).alpha() == 255}


@pytest.mark.parametrize("state", list(TrayState))
def test_each_state_has_its_colour_and_new_mail_a_badge(qapp, state):
    plain = draw_icon(TrayStatus(state), 32).toImage()
    badged = draw_icon(TrayStatus(state, new=5), 32).toImage()
    assert state.colour.name() in colours(plain)
    assert BADGE.name() not in colours(plain) and BADGE.name() in colours(badged)


def test_status_lines():
    assert TrayStatus().describe() == "Idle"
    assert TrayStatus(TrayState.IDLE, new=1).describe() == "Idle · 1 new message"
    assert TrayStatus(TrayState.FETCHING, new=3).describe() == "Checking for mail… · 3 new messages"
    shown = TrayStatus(TrayState.ERROR, detail="-ERR \x1b[31mdown").describe()
    assert shown.startswith("Error: -ERR \\x1b[31mdown")


def test_the_menu_asks_the_app_and_follows_the_status(qtbot):
    tray = Tray(autostart=False)
    with qtbot.waitSignal(tray.open_requested):
        tray.open_action.trigger()
    with qtbot.waitSignal(tray.check_requested):
        tray.check_action.trigger()
    with qtbot.waitSignal(tray.autostart_toggled) as toggled:
        tray.autostart_action.trigger()
    assert toggled.args == [True]
    with qtbot.waitSignal(tray.quit_requested):
        tray.quit_action.trigger()
    tray.set_status(TrayStatus(TrayState.FETCHING, new=2))
    assert not tray.check_action.isEnabled()
    assert tray.status_action.text() == "Checking for mail… · 2 new messages"
    assert tray.icon.toolTip() == "popfetch — Checking for mail… · 2 new messages"
    with qtbot.waitSignal(tray.open_requested):
        tray.icon.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)


def test_in_a_real_tray_the_icon_embeds_and_its_menu_opens(x_and_bus: Desktop, tmp_path):
    require("trayer")
    shot = tmp_path / "tray-menu.png"
    with desktop.trayer(x_and_bus.env):
        done = subprocess.run([sys.executable, str(ROOT / "tests/gui/desktop/shots.py"), "tray",
                               str(shot)], env=x_and_bus.env, cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    where = json.loads(done.stdout)
    x, y, w, h = where["icon"]
    assert x > 0 and w > 0 and h > 0  # placed by trayer, at the top right
    _, my, mw, mh = where["menu"]
    assert mw > 100 and mh > 80 and my >= y  # the menu opened below the icon
    image = QImage(str(shot))
    sx, sy = where["shot"][:2]
    icon_part = image.copy(x - sx, y - sy, w, h)
    assert BADGE.name() in colours(icon_part)  # our icon, with its "3 new" badge, is in it
