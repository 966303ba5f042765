"""`popfetch accounts add` asks on a real terminal and saves in the real Secret Service;
`fetch --account` then finds the password there; `accounts remove` deletes it."""

from __future__ import annotations

import json
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
PASSWORD = "typed-at-the-Prompt 42"
# The command on a pseudo-terminal, as a user's shell runs it (getpass reads /dev/tty, and
# flushes what was typed before its prompt): this answers the prompt once it shows, with
# the first line of our stdin, and copies the terminal to stdout.
TYPIST = """
import os, pty, sys
answer = sys.stdin.readline().encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b""
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    sys.stdout.buffer.write(chunk)
    sys.stdout.flush()
    if answer and seen.rstrip().endswith(b":"):
        os.write(fd, answer)
        answer = b""
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
ON_A_TERMINAL = [sys.executable, "-c", TYPIST]


def test_add_asks_on_the_terminal_and_fetch_finds_it_in_the_keychain(
    secret_service: SecretServiceEnv, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: via the keychain\n\nhello\n")
    env = {**os.environ, **secret_service.env,
           "DBUS_SESSION_BUS_ADDRESS": secret_service.bus_address,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("POPFETCH_PASSWORD", None)

    def popfetch(*args: str, stdin: str | None = None, tty: bool = False
                 ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "core.cli", *args]
        return subprocess.run([*ON_A_TERMINAL, *command] if tty else command, cwd=REPO,
                              env=env, input=stdin, capture_output=True, text=True,
                              timeout=60)

    with DemoServer(src, users={"dora": PASSWORD}) as server:
        host, port = server.address
        key = f"dora@{host}:{port}"
        added = popfetch("accounts", "add", "home", "--host", host, "--port", str(port),
                         "--security", "none", "--allow-plaintext", "--user", "dora",
                         "--maildir", str(tmp_path / "mail"), stdin=PASSWORD + "\n", tty=True)
        assert added.returncode == 0, added.stdout + added.stderr
        assert f"Password for {key}:" in added.stdout
        assert PASSWORD not in added.stdout  # not echoed
        assert "password from the keychain" in added.stdout
        found = secret_service.secret_tool("lookup", "service", "popfetch", "username", key)
        assert found.stdout == PASSWORD
        accounts = (tmp_path / "config" / "popfetch" / "accounts.json").read_text()
        assert PASSWORD not in accounts and json.loads(accounts)["accounts"][0]["name"] == "home"

        fetched = popfetch("fetch", "--account", "home", "-q")
        assert fetched.returncode == 0, fetched.stderr
        assert fetched.stdout.startswith("popfetch: home: 1 messages")

    removed = popfetch("accounts", "remove", "home")
    assert removed.returncode == 0, removed.stderr
    gone = secret_service.secret_tool("lookup", "service", "popfetch", "username", key)
    assert gone.stdout == ""


def test_add_asks_the_imap_targets_password_and_fetch_account_delivers_there(
    secret_service: SecretServiceEnv, tmp_path: Path
) -> None:
    """``accounts add --deliver imaps://…`` on a terminal: the IMAP password lands in the
    Secret Service under the IMAP server's USER@HOST:PORT, and ``fetch --account`` appends
    into Dovecot with it."""
    from tests.interop.targets.conftest import start_dovecot

    imap_password = "imap-Pässwort typed"
    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: to IMAP\n\nhello\n")
    env = {**os.environ, **secret_service.env,
           "DBUS_SESSION_BUS_ADDRESS": secret_service.bus_address,
           "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring",
           "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("POPFETCH_PASSWORD", None)
    dovecot = start_dovecot()
    try:
        dovecot.add_user("kc", imap_password)
        key = f"kc@127.0.0.1:{dovecot.imaps_port}"
        url = f"imaps://kc@127.0.0.1:{dovecot.imaps_port}/INBOX"
        with DemoServer(src, users={"dora": "pop-pw"}) as server:
            host, port = server.address
            command = [sys.executable, "-m", "core.cli", "accounts", "add", "home",
                       "--host", host, "--port", str(port), "--security", "none",
                       "--allow-plaintext", "--user", "dora", "--password-command",
                       "echo pop-pw", "--cafile", str(dovecot.ca_pem), "--deliver", url]
            added = subprocess.run([*ON_A_TERMINAL, *command], cwd=REPO, env=env,
                                   input=imap_password + "\n", capture_output=True, text=True,
                                   timeout=60)
            assert added.returncode == 0, added.stdout + added.stderr
            assert f"Password for the IMAP target {key}:" in added.stdout
            assert imap_password not in added.stdout  # not echoed
            found = secret_service.secret_tool("lookup", "service", "popfetch", "username", key)
            assert found.stdout == imap_password
            listed = subprocess.run([sys.executable, "-m", "core.cli", "accounts", "list"],
                                    cwd=REPO, env=env, capture_output=True, text=True,
                                    timeout=60)
            assert listed.stdout.split("\t")[3] == url

            fetched = subprocess.run(
                [sys.executable, "-m", "core.cli", "fetch", "--account", "home", "-q"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
                stdin=subprocess.DEVNULL)
            assert fetched.returncode == 0, fetched.stderr
        assert dovecot.contents("kc") == [b"Subject: to IMAP\n\nhello\n"]
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert imap_password.encode() not in path.read_bytes(), path
    finally:
        dovecot.stop()
