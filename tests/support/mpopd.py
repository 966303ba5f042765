"""mpopd (Debian package ``mpop``) as a real POP3 peer on loopback, port 0.

mpopd itself only listens on a fixed port; its ``--inetd`` mode serves one session on
stdin/stdout, so this listener accepts on port 0 and hands each connection to its own
``mpopd --inetd``. mpopd serves ``new/`` only, has no TOP or EXT-RETR, and counts LIST
sizes with LF line endings.
"""

from __future__ import annotations

import contextlib
import shlex
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from types import TracebackType


def mpopd_binary() -> str | None:
    return shutil.which("mpopd")


class Mpopd:
    def __init__(self, maildir: Path, user: str, password: str) -> None:
        self.maildir = maildir
        for sub in ("new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self._argv = [
            mpopd_binary() or "mpopd", "--inetd",
            f"--auth={user},echo {shlex.quote(password)}", f"--maildir={maildir}",
        ]
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._procs: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="mpopd-accept", daemon=True)

    def __enter__(self) -> Mpopd:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(10)
        with self._lock:
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait(10)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                proc = subprocess.Popen(
                    self._argv, stdin=conn.fileno(), stdout=conn.fileno(),
                    stderr=subprocess.DEVNULL,
                )
            with self._lock:
                self._procs.append(proc)
