"""The app's SVG icons from resources/ (theme icons first where the desktop has them)."""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from core.engine.events import MessageState
from gui.resources import resources_dir

# Our name -> freedesktop theme name tried first (so the app matches the desktop).
_THEME = {
    "refresh": "view-refresh",
    "download": "go-down",
    "pause": "media-playback-pause",
    "resume": "media-playback-start",
    "cancel": "process-stop",
    "disconnect": "network-offline",
}


@cache
def icon(name: str) -> QIcon:
    path = resources_dir() / "icons" / f"{name}.svg"
    own = QIcon(str(path)) if path.exists() else QIcon()
    theme = _THEME.get(name)
    if theme and QIcon.hasThemeIcon(theme):
        return QIcon.fromTheme(theme, own)
    return own


@cache
def app_icon() -> QIcon:
    return QIcon(str(resources_dir() / "popfetch.svg"))


def state_icons() -> dict[object, QIcon]:
    """Icons for the model's state column: a MessageState, or "marked" for the trash can."""
    icons: dict[object, QIcon] = {state: icon(state.value) for state in MessageState}
    icons["marked"] = icon("marked")
    return icons
