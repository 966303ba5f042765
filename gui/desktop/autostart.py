""""Start popfetch when I log in": an XDG autostart entry (the freedesktop Desktop
Application Autostart spec): ``$XDG_CONFIG_HOME/autostart/popfetch.desktop``.

No Qt here: the settings dialog and the tray menu call these, and tests check the file
with ``desktop-file-validate``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["ENTRY_NAME", "autostart_path", "disable", "enable", "is_enabled"]

ENTRY_NAME = "popfetch.desktop"

_ENTRY = """\
[Desktop Entry]
Type=Application
Name=popfetch
GenericName=Mail Fetcher
Comment=Check POP3 mail in the background after login
Exec={exec_line}
Icon=popfetch
Terminal=false
Categories=Network;Email;
X-GNOME-Autostart-enabled=true
"""


def autostart_path() -> Path:
    """Where the entry goes; relative ``XDG_CONFIG_HOME`` values are ignored, per the spec."""
    value = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(value) if value and os.path.isabs(value) else Path.home() / ".config"
    return base / "autostart" / ENTRY_NAME


def is_enabled() -> bool:
    return autostart_path().is_file()


def enable(exec_line: str = "popfetch") -> Path:
    """Write the entry (atomically: a half-written one would be skipped by the session)."""
    if any(c in exec_line for c in "\r\n\0"):
        raise ValueError("the command line of an autostart entry is one line")
    path = autostart_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{ENTRY_NAME}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_ENTRY.format(exec_line=exec_line))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def disable() -> None:
    """Remove the entry; none there is fine (the goal is reached)."""
    autostart_path().unlink(missing_ok=True)
