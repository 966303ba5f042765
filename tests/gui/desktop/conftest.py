"""The desktop suite: notifications to a real dunst on a private bus and Xvfb, the tray
under trayer, the autostart entry checked by desktop-file-validate.

Missing packages skip with their Debian names, unless ``POPFETCH_REQUIRE_ALL=1`` (CI).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import gui  # noqa: F401 - pins None/True/False before Qt runs (see gui/_refcount.py)
from core.accounts import Account
from core.demoserver import DemoServer
from core.net import Security
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner
from tests.support import desktop
from tests.support.mail import write_message


def require(*tools: str) -> None:
    packages = desktop.missing(*tools)
    if not packages:
        return
    reason = f"needs the Debian packages: {', '.join(packages)}"
    if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (POPFETCH_REQUIRE_ALL=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class Desktop:
    display: str
    bus: str
    env: dict[str, str]


@pytest.fixture(scope="session")
def x_and_bus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    require("Xvfb", "dbus-daemon")
    home = tmp_path_factory.mktemp("desktop-home")
    with desktop.xvfb() as display, desktop.session_bus() as bus:
        yield Desktop(display, bus, desktop.desktop_env(display, bus, home))


@pytest.fixture(scope="session")
def notification_daemon(x_and_bus: Desktop) -> Iterator[Desktop]:
    """dunst on the private bus, for the session (each test clears its history)."""
    require("dunst", "dunstctl")
    with desktop.dunst(x_and_bus.env):
        yield x_and_bus


@pytest.fixture
def notifications(notification_daemon: Desktop,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Desktop]:
    """This process talks to our bus (jeepney reads the address when it connects); dunst
    starts each test with nothing shown (tests find their own in its history by id)."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", notification_daemon.bus)
    desktop.dunstctl(notification_daemon.env, "close-all")
    yield notification_daemon


@pytest.fixture
def xdg_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(path))
    return path


# -- accounts on the demo server, for the checks and the presence ----------------------------

PASSWORD = "pw-for-the-checks"


@pytest.fixture
def server(tmp_path):
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"From: Ann <ann@example.org>\nSubject: small one\n\nhi\n")
    write_message(src, b"From: Bob <bob@example.org>\nSubject: large one\n\n"
                  + b"x" * 80 + b"\n" * 1 + (b"y" * 99 + b"\n") * 1000)
    srv = DemoServer(src, users={"alice": PASSWORD})
    srv.start()
    yield srv
    srv.stop()


def make_runner(server: DemoServer, tmp_path: Path, password: str = PASSWORD,
                **settings: object) -> AccountRunner:
    host, port = server.address
    account = Account(host=host, port=port, security=Security.NONE, user="alice",
                      maildir=str(tmp_path / "mail"), allow_plaintext=True, name="box",
                      **settings)  # type: ignore[arg-type]
    return AccountRunner(account, fixed_password=password)


def stop(registry: RunnerRegistry) -> None:
    for runner in registry:
        runner.shutdown(10)
