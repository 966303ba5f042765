"""The XDG autostart entry: written where the session looks, valid, and removable."""

from __future__ import annotations

import subprocess

import pytest

from gui.desktop import autostart
from tests.gui.desktop.conftest import require


def test_enable_writes_a_valid_entry_and_disable_removes_it(xdg_config):
    require("desktop-file-validate")
    assert not autostart.is_enabled()
    path = autostart.enable()
    assert path == xdg_config / "autostart" / "popfetch.desktop"
    assert autostart.is_enabled()
    text = path.read_text()
    assert "Exec=popfetch\n" in text and "Type=Application\n" in text
    check = subprocess.run(["desktop-file-validate", str(path)], capture_output=True,
                           text=True, timeout=30)
    assert check.returncode == 0 and check.stdout == "", check.stdout + check.stderr
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    autostart.disable()
    assert not path.exists() and not autostart.is_enabled()
    autostart.disable()  # twice is fine


def test_enable_twice_replaces_and_leaves_no_temp_files(xdg_config):
    autostart.enable()
    autostart.enable("popfetch --minimized")
    entries = sorted(p.name for p in (xdg_config / "autostart").iterdir())
    assert entries == ["popfetch.desktop"]
    assert "Exec=popfetch --minimized\n" in (xdg_config / "autostart" / entries[0]).read_text()


def test_a_relative_xdg_config_home_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert autostart.autostart_path() == tmp_path / ".config" / "autostart" / "popfetch.desktop"


def test_a_command_line_with_a_line_break_is_refused(xdg_config):
    with pytest.raises(ValueError, match="one line"):
        autostart.enable("popfetch\nExec=rm -rf ~")
    assert not autostart.is_enabled()
