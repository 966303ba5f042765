"""tests/support/proxy.py on its own: it forwards both ways and cuts exactly where asked.

The sender answers only after the client's request has reached it, as a POP3 server does
(the client speaks first, or at least has connected): a cut can then never reset a client
still inside ``connect()``, which a loaded machine would otherwise see as ECONNRESET there."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from tests.support.proxy import CuttingProxy

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, every offset distinguishable mod 256
REQUEST = b"SEND\r\n"


class Sender:
    """Sends PAYLOAD to each connection once a request line came, then records what the
    client sent until EOF."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = self.sock.getsockname()
        self.got: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        received = bytearray()
        try:
            while b"\n" not in received and (data := conn.recv(65536)):
                received += data
            conn.sendall(PAYLOAD)
            conn.shutdown(socket.SHUT_WR)
            while data := conn.recv(65536):
                received += data
        except OSError:
            pass
        finally:
            conn.close()
            self.got.append(bytes(received))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def sender() -> Iterator[Sender]:
    server = Sender()
    yield server
    server.close()


def read_all(address: tuple[str, int], send: bytes = REQUEST, *, close_write: bool = False
             ) -> bytes:
    """Connect, send the request, read until EOF or a reset (a cut)."""
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(send)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        out = bytearray()
        try:
            while data := sock.recv(65536):
                out += data
        except ConnectionResetError:
            pass
        return bytes(out)


def test_forwards_both_ways_without_a_cut(sender: Sender) -> None:
    with CuttingProxy(sender.address) as proxy:
        assert read_all(proxy.address, b"USER x\r\n", close_write=True) == PAYLOAD
        assert proxy.sent == [bytearray(b"USER x\r\n")]
        assert proxy.received == [len(PAYLOAD)] and proxy.was_cut == [False]


def test_cuts_each_connection_where_asked_then_forwards(sender: Sender) -> None:
    with CuttingProxy(sender.address, cuts=[300_001, None]) as proxy:
        proxy.add_cuts(12_345)
        first = read_all(proxy.address)
        second = read_all(proxy.address)
        third = read_all(proxy.address)
        assert proxy.connections == 3
    assert proxy.received == [300_001, len(PAYLOAD), 12_345]
    assert proxy.was_cut == [True, False, True]
    # A reset may discard bytes still unread at the client, never add or reorder them.
    assert len(first) <= 300_001 and PAYLOAD.startswith(first)
    assert second == PAYLOAD
    assert len(third) <= 12_345 and PAYLOAD.startswith(third)


def test_a_cut_resets_the_server_side_too(sender: Sender) -> None:
    with CuttingProxy(sender.address, cuts=[1000]) as proxy:
        read_all(proxy.address)
        for _ in range(100):
            if sender.got:
                break
            threading.Event().wait(0.05)
    assert sender.got == [REQUEST]  # the server saw the connection end, nothing more


def test_cut_now_resets_open_connections_and_keeps_listening(sender: Sender) -> None:
    with CuttingProxy(sender.address) as proxy:
        held = socket.create_connection(proxy.address, timeout=10)
        try:
            held.sendall(REQUEST)
            first = held.recv(1000)  # the sender is blocked: nobody reads the rest
            assert first and PAYLOAD.startswith(first)
            assert proxy.cut_now() == 1
            with pytest.raises((ConnectionResetError, TimeoutError)):
                while held.recv(65536):
                    pass
        finally:
            held.close()
        assert proxy.was_cut == [True]
        assert read_all(proxy.address) == PAYLOAD  # new connections pass as before
