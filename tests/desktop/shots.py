"""Show the tray icon in a real tray host, open its menu, and take a picture of both.

Run by tests/desktop/test_tray.py on Xvfb with Debian's trayer (the environment names the
display), and by hand to refresh the README's picture:

    .venv/bin/python tests/desktop/shots.py --own-desktop resources/tray-menu.png

It prints one JSON line: the icon's and the menu's geometry on the screen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TIMEOUT = 15.0


def wait(app: object, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"tray_shot: timed out waiting for {what}")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def shoot(out: Path) -> dict[str, list[int]]:
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    import gui  # noqa: F401 - see gui/_refcount.py
    from gui.desktop.tray import Tray, TrayState, TrayStatus

    app = QApplication(["popfetch"])
    wait(app, QSystemTrayIcon.isSystemTrayAvailable, "a system tray")
    tray = Tray(autostart=True)
    tray.set_status(TrayStatus(TrayState.IDLE, new=3))
    tray.show()
    # trayer sits at the top right: the icon is embedded once Qt places it away from the
    # origin, where a just-created, not yet reparented window is.
    wait(app, lambda: tray.icon.geometry().x() > 0, "the icon to be embedded")
    icon = tray.icon.geometry()
    tray.menu.popup(icon.bottomLeft())
    wait(app, lambda: tray.menu.isVisible() and tray.menu.geometry().width() > 0, "the menu")
    for _ in range(10):  # let the menu paint
        app.processEvents()
        time.sleep(0.02)
    menu = tray.menu.geometry()
    area = icon.united(menu).adjusted(-24, -8, 24, 24)
    screen = app.primaryScreen()
    area = area.intersected(QRect(0, 0, screen.size().width(), screen.size().height()))
    picture = screen.grabWindow(0, area.x(), area.y(), area.width(), area.height())
    if not picture.save(str(out)):
        raise SystemExit(f"tray_shot: cannot write {out}")
    tray.menu.hide()
    tray.hide()

    def box(r: QRect) -> list[int]:
        return [r.x(), r.y(), r.width(), r.height()]

    return {"icon": box(icon), "menu": box(menu), "shot": box(area)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--own-desktop", action="store_true",
                        help="start Xvfb, a private bus and trayer first")
    args = parser.parse_args()
    if not args.own_desktop:
        print(json.dumps(shoot(args.out)), flush=True)
        return 0
    import subprocess

    from tests.support import desktop

    with tempfile.TemporaryDirectory() as home, desktop.xvfb() as display, \
            desktop.session_bus() as bus:
        env = desktop.desktop_env(display, bus, Path(home))
        with desktop.trayer(env):
            done = subprocess.run([sys.executable, __file__, str(args.out.resolve())],
                                  env={**os.environ, **env}, timeout=120)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
