"""The desktop app: ``popfetch`` and ``popfetch --demo``."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from core import __version__
from core.accounts import config_dir
from gui import icons


def settings_path() -> str:
    """The GUI's own settings (window geometry, column widths): never a secret."""
    return str(config_dir() / "gui.ini")


def make_settings() -> QSettings:
    return QSettings(settings_path(), QSettings.Format.IniFormat)


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="popfetch",
        description="A POP3 mail fetcher. Subcommands without a window: fetch, demo-server.",
    )
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in demo server and show its mailbox")
    parser.add_argument("--version", action="version", version=f"popfetch {__version__}")
    return parser.parse_known_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    args, qt_args = parse_args(sys.argv[1:] if argv is None else argv)
    app = QApplication.instance() or QApplication(["popfetch", *qt_args])
    assert isinstance(app, QApplication)
    app.setApplicationName("popfetch")
    app.setApplicationDisplayName("popfetch")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("popfetch")
    app.setDesktopFileName("popfetch")
    app.setWindowIcon(icons.app_icon())

    from gui.window.mainwindow import MainWindow

    window = MainWindow(make_settings())
    window.load_accounts()
    if args.demo:
        window.start_demo()
    window.show()

    # Ctrl+C in the terminal quits like the window's close button.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    tick = QTimer()
    tick.start(250)  # lets Python see the signal while Qt's loop runs
    tick.timeout.connect(lambda: None)
    return int(app.exec())
