"""gui.install: the .desktop entry and the icon in the XDG places, valid for the desktop."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gui.install import desktop_entry, install_desktop


def test_the_entry_runs_the_installed_script_by_its_full_path(tmp_path: Path) -> None:
    entry, icon = install_desktop(tmp_path, exec_path="/home/me/.local/bin/popfetch")
    text = entry.read_text()
    assert "Exec=/home/me/.local/bin/popfetch\n" in text
    assert "Exec=/home/me/.local/bin/popfetch --demo\n" in text
    assert "Icon=popfetch\n" in text
    assert icon.read_bytes().startswith(b"<svg") or b"<svg" in icon.read_bytes()[:200]


def test_a_path_with_spaces_is_quoted() -> None:
    assert "Exec='/opt/my apps/popfetch'" in desktop_entry("/opt/my apps/popfetch")


def test_desktop_file_validate_accepts_it(tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        if os.environ.get("POPFETCH_REQUIRE_ALL"):
            pytest.fail("desktop-file-validate is missing (Debian: desktop-file-utils)")
        pytest.skip("desktop-file-validate not installed (Debian: desktop-file-utils)")
    entry, _ = install_desktop(tmp_path, exec_path="/usr/local/bin/popfetch")
    out = subprocess.run([validate, str(entry)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr
