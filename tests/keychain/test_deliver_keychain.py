"""`popfetch fetch --deliver imaps://…` finds the IMAP target's password in the real Secret
Service (user USER@HOST:PORT of the IMAP server), and no file or output holds it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.demoserver import DemoServer
from tests.interop.targets.conftest import start_dovecot
from tests.keychain.conftest import SecretServiceEnv
from tests.support.mail import write_message

pytestmark = pytest.mark.keychain

REPO = Path(__file__).resolve().parents[2]
IMAP_PASSWORD = "imap-Pässwort with spaces"


def test_the_imap_password_comes_from_the_keychain(
    secret_service: SecretServiceEnv, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: to IMAP\n\nhello\n")
    dovecot = start_dovecot()
    try:
        dovecot.add_user("kc", IMAP_PASSWORD)
        key = f"kc@127.0.0.1:{dovecot.imaps_port}"
        stored = secret_service.secret_tool(
            "store", "--label=popfetch", "service", "popfetch", "username", key,
            stdin=IMAP_PASSWORD,
        )
        assert stored.returncode == 0, stored.stderr
        with DemoServer(src, users={"carol": "pop-pw"}) as server:
            host, port = server.address
            env = {**os.environ, **secret_service.env,
                   "DBUS_SESSION_BUS_ADDRESS": secret_service.bus_address,
                   "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
                   "POPFETCH_PASSWORD": "pop-pw",
                   "XDG_CONFIG_HOME": str(tmp_path / "config"),
                   "XDG_STATE_HOME": str(tmp_path / "state")}
            proc = subprocess.run(
                [sys.executable, "-m", "core.cli", "fetch", "--host", host, "--port", str(port),
                 "--security", "none", "--allow-plaintext", "--user", "carol",
                 "--cafile", str(dovecot.ca_pem),
                 "--deliver", f"imaps://kc@127.0.0.1:{dovecot.imaps_port}/INBOX"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL,
            )
        assert proc.returncode == 0, proc.stderr
        assert dovecot.contents("kc") == [b"Subject: to IMAP\n\nhello\n"]
        assert IMAP_PASSWORD not in proc.stdout + proc.stderr
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert IMAP_PASSWORD.encode() not in path.read_bytes(), path
    finally:
        dovecot.stop()
