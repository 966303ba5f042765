"""gui.resources: found through the import system (as a wheel install finds them)."""

from __future__ import annotations

import importlib.util

from gui.resources import resources_dir


def test_resources_are_the_popfetch_resources_package() -> None:
    spec = importlib.util.find_spec("popfetch_resources")
    assert spec is not None and spec.origin is not None
    assert (resources_dir() / "popfetch.desktop").is_file()
    assert (resources_dir() / "popfetch.svg").is_file()
