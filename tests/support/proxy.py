"""A loopback TCP proxy that forwards byte for byte and can cut a connection after N bytes.

Put it between a client and a real server (Dovecot) to simulate a network drop at a chosen
point of a transfer, and to see what the client sent when the session is in the clear::

    with CuttingProxy(("127.0.0.1", dovecot.pop3_port), cuts=[200_000]) as proxy:
        ...connect to proxy.address...   # connection 1 is reset after 200,000 bytes downstream
        proxy.sent[0]                     # what the client sent on connection 1

``cuts`` gives, per accepted connection in order, the number of server-to-client bytes after
which the proxy resets both sides (RST, as a dropped link would); ``None`` or a list that ran
out means "forward until either side closes". ``up_cuts`` does the same counting
client-to-server bytes (a link that dies during an upload). ``poison`` resets every
connection just before that byte string would reach the client (a message the link always
breaks at the same octet); ``drop_on`` resets a connection when the client sends a line
starting with it (a server that drops on DELE or QUIT). Every wait is bounded; ``stop()``
ends all.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections.abc import Iterable

_LINGER_RESET = struct.pack("ii", 1, 0)
_RECORD_LIMIT = 1 << 20  # client bytes kept per connection
_TICK = 0.05  # how often a forwarding thread looks at stop() / cut_now()


class CuttingProxy:
    def __init__(
        self,
        target: tuple[str, int],
        *,
        cuts: Iterable[int | None] = (),
        up_cuts: Iterable[int | None] = (),
        host: str = "127.0.0.1",
        connect_timeout: float = 5.0,
        poison: bytes | None = None,
        drop_on: bytes | None = None,
    ) -> None:
        self.target = target
        self._cuts = list(cuts)
        self._up_cuts = list(up_cuts)
        self._poison = poison
        self._drop_on = drop_on
        self.drops = 0  # connections reset by poison or drop_on
        self._host = host
        self._connect_timeout = connect_timeout
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._open: set[socket.socket] = set()
        self._generation = 0  # cut_now() bumps it: connections from before are reset
        self.address: tuple[str, int] = (host, 0)
        self.sent: list[bytearray] = []  # client -> server bytes, per connection (first 1 MiB)
        self.received: list[int] = []  # server -> client bytes forwarded, per connection
        self.was_cut: list[bool] = []

    # ---- control ----------------------------------------------------------------------------
    def add_cuts(self, *cuts: int | None) -> None:
        """Cut positions for the connections not yet accepted (appended in order)."""
        with self._lock:
            self._cuts.extend(cuts)

    def cut_now(self, timeout: float = 5.0) -> int:
        """Reset every open connection (a dropped link); returns how many there were.

        Each forwarding thread resets its own sockets, within ``_TICK`` seconds."""
        with self._lock:
            self._generation += 1
            count = len(self._open) // 2
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._open:
                    break
            time.sleep(0.01)
        return count

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self.received)

    def start(self) -> tuple[str, int]:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, 0))
        listener.listen(16)
        listener.settimeout(_TICK)
        self._listener = listener
        self.address = (self._host, int(listener.getsockname()[1]))
        thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.address

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()  # every forwarding thread resets its sockets within _TICK
        for thread in self._threads:
            thread.join(timeout)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> CuttingProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- forwarding ---------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _addr = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                index = len(self.received)
                cut = self._cuts[index] if index < len(self._cuts) else None
                up_cut = self._up_cuts[index] if index < len(self._up_cuts) else None
                self.sent.append(bytearray())
                self.received.append(0)
                self.was_cut.append(False)
            thread = threading.Thread(
                target=self._pump,
                args=(client, index, cut, up_cut),
                name=f"proxy-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _pump(
        self, client: socket.socket, index: int, cut: int | None, up_cut: int | None
    ) -> None:
        try:
            server = socket.create_connection(self.target, timeout=self._connect_timeout)
        except OSError:
            _reset(client)
            return
        for sock in (client, server):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setblocking(False)
        with self._lock:
            self._open.update((client, server))
            generation = self._generation
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, server)
        selector.register(server, selectors.EVENT_READ, client)
        down = up = 0
        graceful = False
        tail = b""  # the end of what went down, for a poison split across reads
        try:
            while not self._stopping.is_set():
                if self._generation != generation:
                    with self._lock:
                        self.was_cut[index] = True
                    return
                for key, _events in selector.select(timeout=_TICK):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    dst: socket.socket = key.data
                    try:
                        data = src.recv(262144)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        # This side finished sending: pass the EOF on (half-close) and
                        # keep forwarding the other way until it finishes too.
                        with contextlib.suppress(OSError):
                            dst.shutdown(socket.SHUT_WR)
                        selector.unregister(src)
                        if not selector.get_map():
                            graceful = True
                            return
                        continue
                    if src is server and self._poison is not None:
                        found = (tail + data).find(self._poison)
                        if found >= 0:
                            _send_all(dst, data[: max(found - len(tail), 0)])
                            with self._lock:
                                self.was_cut[index] = True
                                self.drops += 1
                            return
                        tail = (tail + data)[-len(self._poison) :]
                    if src is client and self._drop_on is not None and any(
                        line.startswith(self._drop_on) for line in data.split(b"\r\n")
                    ):
                        with self._lock:
                            self.was_cut[index] = True
                            self.drops += 1
                        return
                    if src is server:
                        if cut is not None and down + len(data) >= cut:
                            _send_all(dst, data[: cut - down])
                            down = cut
                            with self._lock:
                                self.received[index] = down
                                self.was_cut[index] = True
                            return
                        down += len(data)
                        with self._lock:
                            self.received[index] = down
                    else:
                        record = self.sent[index]
                        if len(record) < _RECORD_LIMIT:
                            record += data[: _RECORD_LIMIT - len(record)]
                        if up_cut is not None and up + len(data) >= up_cut:
                            _send_all(dst, data[: up_cut - up])
                            with self._lock:
                                self.was_cut[index] = True
                            return
                        up += len(data)
                    _send_all(dst, data)
        except OSError:
            return
        finally:
            selector.close()
            with self._lock:
                self._open.discard(client)
                self._open.discard(server)
            for sock in (client, server):
                if graceful:
                    with contextlib.suppress(OSError):
                        sock.close()
                else:
                    _reset(sock)


def _send_all(sock: socket.socket, data: bytes, timeout: float = 10.0) -> None:
    """sendall on a non-blocking socket, bounded in time."""
    view = memoryview(data)
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_WRITE)
    try:
        while view:
            try:
                n = sock.send(view)
            except BlockingIOError:
                if not sel.select(timeout):
                    raise TimeoutError("proxy: peer stopped reading") from None
                continue
            view = view[n:]
    finally:
        sel.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), like a link that died."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    with contextlib.suppress(OSError):
        sock.close()
