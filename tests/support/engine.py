"""Engine-level test kit: a demo server over a generated Maildir, and an event recorder."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.accounts import Account
from core.demoserver import DemoServer, Faults
from core.engine.coordinator import Engine, RetryPolicy
from core.engine.events import Event, MessageState, MessageStateChanged
from core.net import Security
from core.store.local import Store
from tests.support.mail import read_maildir, write_message

PASSWORD = "s3cret-pw"


class Recorder:
    """Collects engine events from the worker thread; tests wait on conditions over them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._cond = threading.Condition()

    def __call__(self, event: Event) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def of(self, kind: type) -> list:  # type: ignore[type-arg]
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s; last events: "
                                         f"{self.events[-8:]}")
                self._cond.wait(min(left, 0.2))

    def states(self, uidl: str) -> list[MessageState]:
        return [e.state for e in self.of(MessageStateChanged) if e.uidl == uidl]

    def stored(self) -> set[str]:
        return {e.uidl for e in self.of(MessageStateChanged) if e.state is MessageState.STORED}


class Harness:
    """A demo server over ``src`` and engines that fetch into ``dst``, all on loopback."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.src = root / "src"
        self.dst = root / "dst"
        self.state = root / "state"
        for sub in ("tmp", "new", "cur"):
            (self.src / sub).mkdir(parents=True)
        self.server: DemoServer | None = None
        self.engines: list[Engine] = []

    def add(self, body: bytes, name: str | None = None) -> Path:
        return write_message(self.src, body, name)

    def serve(self, **kwargs: object) -> DemoServer:
        kwargs.setdefault("users", {"alice": PASSWORD})
        kwargs.setdefault("faults", Faults())
        self.server = DemoServer(self.src, **kwargs)  # type: ignore[arg-type]
        self.server.start()
        return self.server

    def account(self, **changes: object) -> Account:
        assert self.server is not None
        host, port = self.server.address
        values: dict[str, object] = dict(
            host=host, port=port, security=Security.NONE, user="alice",
            maildir=str(self.dst), allow_plaintext=True,
        )
        values.update(changes)
        return Account(**values)  # type: ignore[arg-type]

    def engine(
        self, recorder: Recorder, *, password: str = PASSWORD, **kwargs: object
    ) -> Engine:
        kwargs.setdefault("retry", RetryPolicy(initial=0.05, maximum=0.5, max_failures=50))
        kwargs.setdefault("read_timeout", 10.0)
        account = kwargs.pop("account", None) or self.account()
        engine = Engine(
            account,  # type: ignore[arg-type]
            password=lambda: password,
            listener=recorder,
            store=Store(self.dst, self.state),
            **kwargs,  # type: ignore[arg-type]
        )
        self.engines.append(engine)
        return engine

    def fetched(self) -> list[bytes]:
        return sorted(read_maildir(self.dst))

    def source(self) -> list[bytes]:
        return sorted(read_maildir(self.src))

    def close(self) -> None:
        for engine in self.engines:
            engine.shutdown(timeout=10)
        if self.server is not None:
            self.server.stop()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()
