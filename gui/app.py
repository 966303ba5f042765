"""The desktop app: ``popfetch``, ``popfetch --demo`` and ``popfetch --install-desktop``."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from core import __version__

DESCRIPTION = """\
popfetch: a desktop POP3 mail fetcher that pauses, resumes and survives dropped
connections, storing mail in a Maildir; nothing is deleted on the server until you commit.

Without a subcommand it opens the window. Subcommands that need no display:
  popfetch fetch --help          download new mail into a Maildir (for scripts and cron)
  popfetch accounts --help       add, list or remove the accounts the app uses
  popfetch demo-server --help    serve a Maildir over POP3 on loopback
"""

EPILOG = """\
Settings live in $XDG_CONFIG_HOME/popfetch (default ~/.config/popfetch), per-account state
in $XDG_STATE_HOME/popfetch, the demo's data in $XDG_DATA_HOME/popfetch/demo; passwords in
the system keychain. Exit status: 0 after a normal quit, 2 when no display is available.
"""

NO_DISPLAY = ("popfetch: no display (neither DISPLAY nor WAYLAND_DISPLAY is set); start it "
              "in a desktop session, or use `popfetch fetch` without one")


def parse_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="popfetch", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in demo server (user demo, password demo) and "
                             "show its mailbox; its data stays in $XDG_DATA_HOME/popfetch/demo "
                             "until removed in Settings")
    parser.add_argument("--install-desktop", action="store_true",
                        help="put popfetch.desktop and its icon in the XDG places of this "
                             "user (~/.local/share), so desktop menus list popfetch; then exit")
    parser.add_argument("--version", action="version", version=f"popfetch {__version__}")
    return parser.parse_known_args(list(argv))


def has_display() -> bool:
    """Whether Qt can open a window; an explicit QT_QPA_PLATFORM (offscreen, say) is trusted."""
    return any(os.environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY",
                                                 "QT_QPA_PLATFORM"))


def main(argv: Sequence[str] | None = None) -> int:
    args, qt_args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.install_desktop:
        from gui.install import install_desktop

        for path in install_desktop():
            print(f"popfetch: wrote {path}")
        return 0
    if not has_display():
        print(NO_DISPLAY, file=sys.stderr)
        return 2

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gui import icons
    from gui.settings import make_settings
    from gui.window.mainwindow import MainWindow

    app = QApplication.instance() or QApplication(["popfetch", *qt_args])
    assert isinstance(app, QApplication)
    app.setApplicationName("popfetch")
    app.setApplicationDisplayName("popfetch")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("popfetch")
    app.setDesktopFileName("popfetch")
    app.setWindowIcon(icons.app_icon())

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
