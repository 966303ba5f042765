"""`popfetch fetch` finds its password in the real Secret Service, and no file holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.demoserver import DemoServer
from tests.keychain.conftest import SecretServiceEnv
from tests.support.mail import write_message

pytestmark = pytest.mark.keychain

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "kc-Pässwörd with spaces"


def test_fetch_takes_the_password_from_the_secret_service(
    secret_service: SecretServiceEnv, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: from the keychain\n\nhello\n")
    with DemoServer(src, users={"carol": PASSWORD}) as server:
        host, port = server.address
        key = f"carol@{host}:{port}"
        stored = secret_service.secret_tool(
            "store", "--label=popfetch", "service", "popfetch", "username", key, stdin=PASSWORD
        )
        assert stored.returncode == 0, stored.stderr
        env = {**os.environ, **secret_service.env,
               "DBUS_SESSION_BUS_ADDRESS": secret_service.bus_address,
               "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
               "XDG_CONFIG_HOME": str(tmp_path / "config"),
               "XDG_STATE_HOME": str(tmp_path / "state")}
        env.pop("POPFETCH_PASSWORD", None)
        proc = subprocess.run(
            [sys.executable, "-m", "core.cli", "fetch", "--host", host, "--port", str(port),
             "--security", "none", "--allow-plaintext", "--user", "carol",
             "--maildir", str(tmp_path / "mail")],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 0, proc.stderr
    assert "1 messages" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.parent.name != "src" and "new" not in path.parts[-2:]:
            assert PASSWORD.encode() not in path.read_bytes(), path
