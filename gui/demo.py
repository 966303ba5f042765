"""``popfetch --demo``: the demo POP3 server inside the app, over a sample mailbox.

The mailbox is made at first start in the user's data dir (it holds a few large messages,
so it is not shipped). The server is throttled so that transfers take visible seconds and
drops a connection now and then, so that progress, pause, resume and reconnect show.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.accounts import Account, data_dir
from core.engine.api import EngineAPI
from core.net import Security

if TYPE_CHECKING:
    from core.demoserver import DemoServer

DEMO_USER = "demo"
DEMO_PASSWORD = "demo"
DEMO_RATE = 3_000_000  # bytes/s per connection
DEMO_DROP = 0.08  # chance that a RETR is cut somewhere in its body


class DemoService:
    """Start on a worker thread (making the mailbox may take seconds); stop at exit."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        rate: float | None = DEMO_RATE,
        drop: float = DEMO_DROP,
        count: int = 40,
        large_sizes: tuple[int, ...] = (8_000_000, 25_000_000, 60_000_000),
        seed: int = 0,
    ):
        self.root = Path(root) if root is not None else data_dir() / "demo"
        self.mailbox = self.root / "mailbox"
        self.maildir = self.root / "Maildir"
        self.state_dir = self.root / "state"
        self.rate = rate
        self.drop = drop
        self.count = count
        self.large_sizes = large_sizes
        self.seed = seed
        self.server: DemoServer | None = None
        self._lock = threading.Lock()

    def start(self) -> Account:
        """Make the mailbox if needed and start the server; returns the account to use."""
        from core.demoserver import DemoServer, Faults
        from core.demoserver.sample import MARKER, make_demo_mailbox

        if self._emptied():  # every message was deleted by earlier commits: start over
            (self.mailbox / MARKER).unlink()
        make_demo_mailbox(self.mailbox, count=self.count, large_sizes=self.large_sizes)
        faults = Faults(random_drop=self.drop, seed=self.seed) if self.drop > 0 else Faults()
        server = DemoServer(
            self.mailbox,
            host="127.0.0.1",
            port=0,
            users={DEMO_USER: DEMO_PASSWORD},
            rate=self.rate,
            faults=faults,
        )
        host, port = server.start()
        with self._lock:
            self.server = server
        return Account(
            host=host,
            port=port,
            security=Security.NONE,
            user=DEMO_USER,
            maildir=str(self.maildir),
            name="Demo mailbox",
            allow_plaintext=True,
        )

    def _emptied(self) -> bool:
        from core.demoserver.sample import MARKER

        if not (self.mailbox / MARKER).exists():
            return False
        return not any(any((self.mailbox / sub).iterdir()) for sub in ("new", "cur")
                       if (self.mailbox / sub).is_dir())

    def engine_factory(self, account: Account, **kwargs: Any) -> EngineAPI:
        """Keep the demo's state in one place whatever the port: partials survive restarts."""
        from core.engine.coordinator import Engine
        from core.store.local import Store

        store = Store(Path(account.maildir), self.state_dir)
        return Engine(account, store=store, **kwargs)

    def stop(self) -> None:
        with self._lock:
            server, self.server = self.server, None
        if server is not None:
            server.stop(timeout=2.0)
