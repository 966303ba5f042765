"""``popfetch --install-desktop``: the .desktop entry and the icon, in the user's XDG places.

A pipx or uv install puts the ``popfetch`` script in ~/.local/bin but tells no desktop
about it. This writes ``$XDG_DATA_HOME/applications/popfetch.desktop`` (Exec naming the
script by its full path, so a menu finds it whatever PATH the session has) and
``$XDG_DATA_HOME/icons/hicolor/scalable/apps/popfetch.svg``. No Qt here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from gui.resources import resources_dir


def xdg_data_home() -> Path:
    value = os.environ.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"


def script_path() -> str:
    """The running ``popfetch`` script, else the one on PATH, else the bare name."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "popfetch" and argv0.exists():
        return str(argv0.absolute())  # ~/.local/bin/popfetch stays valid across reinstalls
    return shutil.which("popfetch") or "popfetch"


def desktop_entry(exec_path: str) -> str:
    text = (resources_dir() / "popfetch.desktop").read_text(encoding="utf-8")
    quoted = shlex.quote(exec_path)
    return "\n".join(
        line.replace("Exec=popfetch", f"Exec={quoted}", 1) if line.startswith("Exec=") else line
        for line in text.splitlines()) + "\n"


def install_desktop(data_home: Path | None = None, exec_path: str | None = None) -> list[Path]:
    """Write the entry and the icon; returns the files written."""
    base = data_home or xdg_data_home()
    apps = base / "applications"
    icon_dir = base / "icons" / "hicolor" / "scalable" / "apps"
    apps.mkdir(parents=True, exist_ok=True)
    icon_dir.mkdir(parents=True, exist_ok=True)
    entry = apps / "popfetch.desktop"
    entry.write_text(desktop_entry(exec_path or script_path()), encoding="utf-8")
    icon = icon_dir / "popfetch.svg"
    shutil.copyfile(resources_dir() / "popfetch.svg", icon)
    return [entry, icon]
