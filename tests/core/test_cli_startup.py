"""What a plain ``popfetch fetch`` loads: what that run uses, nothing more.

Each run pays for every module it imports, and the command is run as a whole process (by
cron, by scripts, by the benchmarks). A plaintext fetch into a Maildir, the password from
POPFETCH_PASSWORD, needs no keychain, no OAuth, no ssl, no other delivery target and no
subprocess. This is the specification, checked in a fresh interpreter after a real fetch
from the demo server; not a timing test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.engine import PASSWORD, Harness

ROOT = Path(__file__).resolve().parents[2]

# What the plain path must not load, and why each is here.
NOT_LOADED = {
    # The keychain: keyring and its Secret Service backend.
    "keyring", "secretstorage", "jeepney", "cryptography", "importlib_metadata",
    "core.auth.keychain",
    # OAuth: the sign-in flows, their HTTP client and server, the token helper.
    "core.auth.oauth", "core.auth.oauth_cli", "core.auth.oauth_providers",
    "core.auth.oauth_command", "http.server", "http.client", "urllib.request", "webbrowser",
    # TLS, for a plaintext connection.
    "ssl", "core.tls",
    # Password and token commands.
    "subprocess",
    # The other delivery targets.
    "core.store.imap", "core.store.imapclient", "core.store.imapreader", "core.store.lmtp",
    "core.store.mbox", "core.store.mda",
}

# Run the command's own entry point, then list the modules: the list is taken before
# json (for the report) is imported.
_RUN = """\
import sys
from core.cli import main
status = main(sys.argv[1:])
loaded = sorted(sys.modules)
import json
print(json.dumps({"status": status, "modules": loaded}))
"""


def _fetch_in_a_fresh_interpreter(h: Harness) -> tuple[int, set[str]]:
    assert h.server is not None
    argv = ["fetch", "--host", "127.0.0.1", "--port", str(h.server.address[1]),
            "--security", "none", "--allow-plaintext", "--user", "alice",
            "--maildir", str(h.dst), "--state-dir", str(h.state), "--keep", "-q"]
    env = dict(os.environ, POPFETCH_PASSWORD=PASSWORD)
    proc = subprocess.run([sys.executable, "-c", _RUN, *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


def test_a_plain_fetch_loads_no_keychain_oauth_tls_or_other_target(harness: Harness) -> None:
    harness.add(b"Subject: one\n\nthe one message\n")
    harness.serve()
    status, modules = _fetch_in_a_fresh_interpreter(harness)
    assert status == 0
    assert harness.fetched() == harness.source()  # the run did fetch and store
    assert {"core.headless", "core.store.maildir", "core.pop3.session"} <= modules
    assert sorted(NOT_LOADED & modules) == []
