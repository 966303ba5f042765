"""gui.app: the help, --install-desktop, and one line instead of Qt's abort without a display."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from gui.app import NO_DISPLAY, has_display, parse_args

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gui", *args], capture_output=True, text=True,
                          timeout=60, cwd=str(ROOT), env=env)


def bare_env(tmp_path: Path) -> dict[str, str]:
    """No DISPLAY, no WAYLAND_DISPLAY, no QT_QPA_PLATFORM: a server or a container."""
    keep = ("PATH", "HOME", "LANG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    return env


def test_without_a_display_it_says_so_in_one_line(tmp_path: Path) -> None:
    out = run(env=bare_env(tmp_path))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "DISPLAY" in lines[0]
    assert "xcb" not in out.stderr


def test_help_describes_the_app_and_its_options(tmp_path: Path) -> None:
    out = run("--help", env=bare_env(tmp_path))
    assert out.returncode == 0
    for words in ("--demo", "password demo", "--install-desktop", "fetch --help",
                  "demo-server --help", "XDG_DATA_HOME/popfetch/demo", "Exit status"):
        assert words in out.stdout, words


def test_install_desktop_needs_no_display(tmp_path: Path) -> None:
    out = run("--install-desktop", env=bare_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "data" / "applications" / "popfetch.desktop").is_file()
    assert (tmp_path / "data" / "icons" / "hicolor" / "scalable" / "apps" /
            "popfetch.svg").is_file()


def test_the_display_check_and_the_options(monkeypatch: Any) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert not has_display()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert has_display()
    args, qt_args = parse_args(["--demo", "-style", "fusion"])
    assert args.demo and not args.install_desktop and qt_args == ["-style", "fusion"]
    assert "\n" not in NO_DISPLAY
