"""gui.icons and gui.resources: every state has an SVG icon, found through the package."""

from __future__ import annotations

from core.engine.events import MessageState
from gui import icons
from gui.resources import resources_dir


def test_every_state_and_the_app_have_icons() -> None:
    for state in MessageState:
        assert (resources_dir() / "icons" / f"{state.value}.svg").is_file(), state
    found = icons.state_icons()
    assert all(not found[s].isNull() for s in MessageState) and not found["marked"].isNull()
    assert not icons.app_icon().isNull()
    assert not icons.icon("secure").isNull() and not icons.icon("insecure").isNull()
