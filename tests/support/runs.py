"""``popfetch`` runs as a user meets them, and what every such run must show.

``run_popfetch`` starts the console entry point in a subprocess (real exit status and output,
no display) and asserts that no control character and no traceback reached the output;
``fetch`` points it at a hostile server; ``assert_deleted_intact`` checks that the server
lost nothing to the run: every message it removed has an identical stored copy."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.hostile import PASSWORD, USER, HostileServer
from tests.support.mail import read_maildir

ROOT = Path(__file__).resolve().parents[2]
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str
    seconds: float

    @property
    def reason(self) -> str:
        """The one line a fatal run ends with (stderr)."""
        lines = self.err.strip().splitlines()
        assert len(lines) == 1, f"expected one line on stderr, got {lines}"
        assert lines[0].startswith("popfetch: ")
        return lines[0]


def run_popfetch(*args: str, password: str | None = PASSWORD, timeout: float = 120) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["PYTHONPATH"] = str(ROOT)
    env.pop("POPFETCH_PASSWORD", None)
    if password is not None:
        env["POPFETCH_PASSWORD"] = password
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "gui.main", *args],
        capture_output=True, env=env, cwd=ROOT, timeout=timeout, input=b"",  # stdin: not a tty
    )
    run = Run(proc.returncode, proc.stdout.decode("utf-8", "replace"),
              proc.stderr.decode("utf-8", "replace"), time.monotonic() - start)
    for stream in (run.out, run.err):
        assert not _CONTROL.search(stream), f"a control character reached the output: {stream!r}"
    assert "Traceback" not in run.err, run.err
    return run


def fetch(
    server: HostileServer, tmp: Path, *extra: str, quiet: bool = True, **kwargs: object
) -> Run:
    """``popfetch fetch`` against ``server`` in plaintext, into ``tmp/mail``; terse (-q) unless
    the test reads the lines a run prints besides a fatal one."""
    return run_popfetch(
        "fetch", "--host", "127.0.0.1", "--port", str(server.port), "--security", "none",
        "--allow-plaintext", "--user", USER, "--maildir", str(tmp / "mail"),
        "--state-dir", str(tmp / "state"), "--retry-delay", "0.05", "--max-retries", "2",
        "--timeout", "10", *(["-q"] if quiet else []), *extra, **kwargs,  # type: ignore[arg-type]
    )


def stored(tmp: Path) -> list[bytes]:
    mail = tmp / "mail"
    return read_maildir(mail) if (mail / "new").is_dir() else []


def assert_deleted_intact(server: HostileServer, tmp: Path) -> None:
    """Every message the server removed has a stored copy equal to what it meant to send."""
    kept = stored(tmp)
    for mail in server.deleted_mails:
        assert mail.stored_form in kept, f"{mail.uidl} was deleted, no intact copy was stored"
