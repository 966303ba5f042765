"""Pictures of popfetch on a desktop, for the README and the desktop tests.

``tray``: the tray icon in a real tray host with its menu open (prints one JSON line: the
icon's and the menu's geometry); ``notification``: a new-mail notification as dunst shows
it; ``settings``: the account dialog's "Checking and storage" fields. Run by
tests/gui/desktop/test_tray.py on Xvfb with Debian's trayer (the environment names the
display), and by hand to refresh the README's pictures:

    .venv/bin/python tests/gui/desktop/shots.py --own-desktop tray resources/tray-menu.png
    .venv/bin/python tests/gui/desktop/shots.py --own-desktop notification \
        resources/notification.png
    .venv/bin/python tests/gui/desktop/shots.py --own-desktop settings resources/check-settings.png
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
TIMEOUT = 15.0


def wait(app: object, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"shots: timed out waiting for {what}")
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def settle(app: object) -> None:
    """A few rounds of the event loop, so that what was shown is painted."""
    for _ in range(10):
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def _app() -> object:
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtWidgets import QApplication

    import gui  # noqa: F401 - see gui/_refcount.py

    return QApplication(["popfetch"])


def tray(out: Path) -> dict[str, list[int]]:
    app = _app()
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QSystemTrayIcon

    from gui.desktop.tray import Tray, TrayState, TrayStatus

    wait(app, QSystemTrayIcon.isSystemTrayAvailable, "a system tray")
    icon_owner = Tray(autostart=True)
    icon_owner.set_status(TrayStatus(TrayState.IDLE, new=3))
    icon_owner.show()
    # trayer sits at the top right: the icon is embedded once Qt places it away from the
    # origin, where a just-created, not yet reparented window is.
    wait(app, lambda: icon_owner.icon.geometry().x() > 0, "the icon to be embedded")
    icon = icon_owner.icon.geometry()
    icon_owner.menu.popup(icon.bottomLeft())
    wait(app, lambda: icon_owner.menu.isVisible() and icon_owner.menu.geometry().width() > 0,
         "the menu")
    settle(app)
    menu = icon_owner.menu.geometry()
    screen = app.primaryScreen()  # type: ignore[attr-defined]
    area = icon.united(menu).adjusted(-24, -8, 24, 24).intersected(
        QRect(0, 0, screen.size().width(), screen.size().height()))
    if not screen.grabWindow(0, area.x(), area.y(), area.width(), area.height()).save(str(out)):
        raise SystemExit(f"shots: cannot write {out}")
    icon_owner.menu.hide()
    icon_owner.hide()

    def box(r: QRect) -> list[int]:
        return [r.x(), r.y(), r.width(), r.height()]

    return {"icon": box(icon), "menu": box(menu), "shot": box(area)}


def notification(out: Path) -> dict[str, list[int]]:
    app = _app()
    from gui.desktop.notifications import NewMail, Notifier

    notifier = Notifier()
    sent: list[int] = []
    notifier.sent.connect(lambda nid, note: sent.append(nid))
    notifier.announce([NewMail("work", "1", "Ann Example <ann@example.org>",
                               "Minutes of Tuesday's meeting")])
    wait(app, lambda: bool(sent), "the notification to be sent")
    screen = app.primaryScreen()  # type: ignore[attr-defined]
    width = screen.size().width()
    area = (width - 400, 8, 392, 84)  # dunst's corner (DUNSTRC in tests/support/desktop.py)

    def drawn() -> bool:
        """dunst draws on its own timer: the corner is no longer one flat colour."""
        image = screen.grabWindow(0, *area).toImage()
        first = image.pixel(0, 0)
        return any(image.pixel(x, y) != first
                   for x in range(0, image.width(), 8) for y in range(0, image.height(), 8))

    wait(app, drawn, "dunst to draw the notification")
    if not screen.grabWindow(0, *area).save(str(out)):
        raise SystemExit(f"shots: cannot write {out}")
    notifier.close()
    return {"shot": list(area)}


def settings(out: Path) -> dict[str, list[int]]:
    app = _app()
    from core.accounts import Account
    from gui.desktop.checksettings import MIB
    from gui.dialogs.accountdialog import AccountDialog

    dialog = AccountDialog(Account(
        host="pop.example.org", port=995, security="tls", user="ann", name="Work",
        maildir="/home/ann/Mail/work", check_every=900.0, auto_download=True,
        max_size=20 * MIB, leave_on_server="after-days", delete_after_days=30))
    dialog.show()
    wait(app, dialog.isVisible, "the dialog")
    settle(app)
    group = dialog.check_settings
    if not group.grab().save(str(out)):
        raise SystemExit(f"shots: cannot write {out}")
    return {"shot": [0, 0, group.width(), group.height()]}


SHOTS = {"tray": tray, "notification": notification, "settings": settings}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--own-desktop", action="store_true",
                        help="start Xvfb, a private bus, trayer and dunst first")
    parser.add_argument("what", choices=sorted(SHOTS))
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    if not args.own_desktop:
        print(json.dumps(SHOTS[args.what](args.out)), flush=True)
        return 0
    from tests.support import desktop

    with tempfile.TemporaryDirectory() as home, desktop.xvfb() as display, \
            desktop.session_bus() as bus:
        env = desktop.desktop_env(display, bus, Path(home))
        with desktop.trayer(env), desktop.dunst(env):
            done = subprocess.run(
                [sys.executable, __file__, args.what, str(args.out.resolve())],
                env={**os.environ, **env}, timeout=120)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
