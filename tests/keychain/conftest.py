"""A real Secret Service for the keychain suite: gnome-keyring on a private D-Bus.

The session fixture builds a throwaway home (XDG_DATA_HOME, XDG_RUNTIME_DIR,
XDG_CACHE_HOME, HOME in a temp dir, so no keyring of the machine's user is touched), starts
its own ``dbus-daemon`` from a config with *no service directories* (nothing can be
D-Bus-activated behind our back: no second keyring daemon, no prompter), then
``gnome-keyring-daemon --foreground --unlock --components=secrets`` with a random password
on stdin, which creates and unlocks a "login" collection without any prompt. The test
process talks to it through ``DBUS_SESSION_BUS_ADDRESS``; everything is killed at the end.

Missing packages skip the suite with their Debian names, unless ``POPFETCH_REQUIRE_ALL=1``
(as in CI), which turns the skip into a failure. Every subprocess has a timeout.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend

from tests.support.desktop import session_bus, stop
from tests.support.memkeyring import installed

STARTUP_TIMEOUT = 10.0
TOOLS = {
    "dbus-daemon": "dbus-daemon",
    "gnome-keyring-daemon": "gnome-keyring",
    "secret-tool": "libsecret-tools",
}


@dataclass(frozen=True)
class SecretServiceEnv:
    """The running private Secret Service and the environment that reaches it."""

    root: Path
    bus_address: str
    env: dict[str, str]  # for subprocesses such as secret-tool

    def secret_tool(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run secret-tool against our bus (stdin carries secrets, never argv)."""
        return subprocess.run(
            ["secret-tool", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=10,
            check=False,
        )


def _require(reason: str) -> None:
    if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
        pytest.fail(f"{reason} (POPFETCH_REQUIRE_ALL=1 forbids skipping)", pytrace=False)
    pytest.skip(reason)


def _service_owned(address: str) -> bool:
    """Whether org.freedesktop.secrets has an owner on the bus (asks the bus, not the service)."""
    from jeepney import DBus, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    try:
        with open_dbus_connection(address) as conn:
            msg = new_method_call(DBus(), "NameHasOwner", "s", ("org.freedesktop.secrets",))
            reply = conn.send_and_get_reply(msg, timeout=2)
            return bool(reply.body[0])
    except (OSError, TimeoutError, ValueError):
        return False


def _check_tools() -> None:
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        _require(f"the keychain suite needs the Debian packages: {', '.join(missing)}")
    try:
        import jeepney  # noqa: F401 - keyring's Secret Service backend needs it too
        import secretstorage  # noqa: F401
    except ImportError as exc:
        _require(f"the keychain suite needs SecretStorage and jeepney (pip): {exc}")


@contextmanager
def running_secret_service() -> Iterator[SecretServiceEnv]:
    """Start a private bus and an unlocked gnome-keyring on it; stop both and clean up after."""
    _check_tools()
    root = Path(tempfile.mkdtemp(prefix="popfetch-keychain-"))
    dirs = {name: root / name for name in ("data", "run", "cache", "config", "home")}
    for path in dirs.values():
        path.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(dirs["home"]),
        "XDG_DATA_HOME": str(dirs["data"]),
        "XDG_RUNTIME_DIR": str(dirs["run"]),
        "XDG_CACHE_HOME": str(dirs["cache"]),
        "XDG_CONFIG_HOME": str(dirs["config"]),
        "LANG": "C.UTF-8",
    }

    keyring_daemon: subprocess.Popen[bytes] | None = None
    try:
        with session_bus() as address:
            env["DBUS_SESSION_BUS_ADDRESS"] = address
            deadline = time.monotonic() + STARTUP_TIMEOUT
            keyring_daemon = subprocess.Popen(
                ["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            assert keyring_daemon.stdin is not None
            keyring_daemon.stdin.write(secrets.token_urlsafe(16).encode())
            keyring_daemon.stdin.close()  # EOF ends the password
            while not _service_owned(address):
                if keyring_daemon.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(
                        f"gnome-keyring-daemon did not register the Secret Service "
                        f"(exit {keyring_daemon.poll()})",
                        pytrace=False,
                    )
                time.sleep(0.05)
            try:
                yield SecretServiceEnv(root=root, bus_address=address, env=dict(env))
            finally:
                stop(keyring_daemon)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretServiceEnv]:
    """One unlocked Secret Service for the whole suite."""
    with running_secret_service() as service:
        yield service


@pytest.fixture
def secret_keyring(
    secret_service: SecretServiceEnv, monkeypatch: pytest.MonkeyPatch
) -> Iterator[KeyringBackend]:
    """keyring forced to its Secret Service backend, on our bus, for one test.

    The bus address is set per test (not for the session) so that suites running after
    this one never see the private bus.
    """
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.bus_address)
    with installed(SecretService.Keyring()) as backend:
        yield backend
