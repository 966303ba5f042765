"""The listening side: one thread accepts, one thread per connection serves.

Threads (not a subprocess) so the same server runs inside the GUI's --demo mode, in
tests that inspect ``commands`` and ``deleted`` directly, and from the command line.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType

from core.demoserver.conn import Shared
from core.demoserver.faults import Faults
from core.demoserver.mailbox import scan
from core.demoserver.session import Session


class DemoServer:
    """A POP3 server (RFC 1939, 2449, 5034, 2595, EXT-RETR) over one Maildir.

    Every user in ``users`` (default demo/demo) logs in to the same Maildir, so they share
    its lock. ``rate`` caps each connection in bytes/s; ``tls`` enables STLS (or, with
    ``implicit_tls``, TLS from the first byte); ``login_delay`` is advertised and enforced;
    ``uidls`` maps a message file to its UIDL; ``allow_plaintext=False`` refuses USER/PASS,
    PLAIN and LOGIN before TLS; ``idle_timeout`` closes a silent connection (deleting
    nothing). Observe ``commands``, ``deleted``, ``locked``, ``body_bytes_sent``.
    """

    def __init__(
        self,
        maildir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Mapping[str, str] | None = None,
        ext_retr: bool = True,
        pipelining: bool = True,
        apop: bool = True,
        rate: float | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        login_delay: int | None = None,
        uidls: Callable[[Path], str] | None = None,
        faults: Faults | None = None,
        allow_plaintext: bool = True,
        idle_timeout: float = 600.0,
    ) -> None:
        if implicit_tls and tls is None:
            raise ValueError("implicit_tls needs a tls context")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self._host = host
        self._port = port
        self.faults = faults if faults is not None else Faults()
        self._shared = Shared(
            maildir=Path(maildir),
            users=dict(users) if users is not None else {"demo": "demo"},
            ext_retr=ext_retr,
            pipelining=pipelining,
            apop=apop,
            rate=rate,
            tls=tls,
            implicit_tls=implicit_tls,
            login_delay=login_delay,
            uidls=uidls,
            faults=self.faults,
            allow_plaintext=allow_plaintext,
            idle_timeout=idle_timeout,
        )
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._sessions: dict[Session, threading.Thread] = {}
        self._lock = threading.Lock()
        self.connections = 0  # accepted so far

    # ----------------------------------------------------------------- observation

    @property
    def commands(self) -> list[str]:
        """Every command line received, in order, PASS / APOP / AUTH secrets redacted."""
        return self._shared.commands

    @property
    def deleted(self) -> list[str]:
        """UIDLs whose files were removed by a QUIT (Update state)."""
        return self._shared.deleted

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("server not started")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    @property
    def locked(self) -> bool:
        """Whether a session holds the maildrop lock right now."""
        return self._shared.locks.held(self._shared.lock_key)

    @property
    def body_bytes_sent(self) -> int:
        """RETR/TOP payload octets sent so far, over all connections (what cut_at counts)."""
        return self.faults.body_bytes_sent

    def wait_unlocked(self, timeout: float = 5.0) -> bool:
        """Wait until no session holds the maildrop (a dropped client's session has ended)."""
        deadline = time.monotonic() + timeout
        while self.locked:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def cut_at(self, positions: Iterable[int]) -> None:
        """Drop the connection when the total body bytes sent reach each position (once each)."""
        self.faults.cut_at(positions)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> tuple[str, int]:
        """Listen and accept in a background thread; returns the bound (host, port)."""
        if self._listener is not None:
            return self.address
        self._shared.stop.clear()
        listener = socket.create_server((self._host, self._port), backlog=128)
        listener.settimeout(0.5)  # a fallback: stop() wakes accept() by shutdown
        self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept_loop, name="demoserver-accept", daemon=True
        )
        self._acceptor.start()
        self._shared.warmed.clear()
        threading.Thread(target=self._warm, name="demoserver-warm", daemon=True).start()
        return self.address

    def _warm(self) -> None:
        """Size every message in the background, so the first login does not pay for it
        (measuring means reading: a second for 10,000 files or a 200 MB message).
        A login meanwhile waits for this rather than doing the same reads in parallel."""
        shared = self._shared
        try:
            for file in scan(shared.maildir):
                if shared.stop.is_set():
                    return
                with contextlib.suppress(OSError):
                    shared.cache.lookup(file)
        finally:
            shared.warmed.set()

    def serve_forever(self) -> None:
        """Start (if needed) and block until stop() or Ctrl-C: for ``popfetch demo-server``."""
        self.start()
        try:
            while not self._shared.stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listener and every connection (nothing is deleted); wait for threads."""
        self._shared.stop.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() at once on Linux
        if self._acceptor is not None and self._acceptor is not threading.current_thread():
            self._acceptor.join(timeout)
        self._acceptor = None
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None
        with self._lock:
            sessions = list(self._sessions.items())
        for session, _ in sessions:
            session.abort()
        for _, thread in sessions:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._shared.stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            session = Session(conn, self._shared)
            thread = threading.Thread(
                target=self._run, args=(session,), name="demoserver-session", daemon=True
            )
            with self._lock:
                self.connections += 1
                self._sessions[session] = thread
            thread.start()

    def _run(self, session: Session) -> None:
        try:
            session.run()
        finally:
            with self._lock:
                self._sessions.pop(session, None)
