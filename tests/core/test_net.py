"""core.net against a tiny threaded POP3-ish server on loopback with throwaway certificates."""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core import net, tls
from core.errors import (
    CertificateError,
    ConnectionLost,
    ReadTimeout,
    SecurityError,
)
from core.net import Security, TlsPolicy, Transport, connect
from tests.support.certs import CertPaths, make_ca_and_server_cert

GREETING = b"+OK test server ready\r\n"

Handler = Callable[[socket.socket], None]


class LoopbackServer:
    """Accepts connections on a free port and runs ``handler`` for each one on a thread."""

    def __init__(self, handler: Handler, family: int = socket.AF_INET) -> None:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self._listener.listen(8)
        self._listener.settimeout(0.05)
        self.port: int = self._listener.getsockname()[1]
        self._handler = handler
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []
        self.accepted = 0
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)
        self._acceptor.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.settimeout(5)
            t = threading.Thread(target=self._run, args=(conn,), daemon=True)
            self._threads.append(t)
            t.start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self._handler(conn)
        except (OSError, ssl.SSLError):
            pass  # clients hang up on us in the refusal tests
        except BaseException as exc:  # surfaced by the fixture
            self.errors.append(exc)
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._acceptor.join(5)
        for t in self._threads:
            t.join(5)


def _readline(sock: socket.socket | ssl.SSLSocket) -> bytes:
    line = b""
    while not line.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        line += chunk
    return line


def _echo(sock: socket.socket | ssl.SSLSocket) -> None:
    while True:
        data = sock.recv(65536)
        if not data:
            return
        sock.sendall(data)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertPaths:
    return make_ca_and_server_cert(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def server_ctx(certs: CertPaths) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    return ctx


@pytest.fixture
def serve() -> Iterator[Callable[..., LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(handler: Handler, family: int = socket.AF_INET) -> LoopbackServer:
        s = LoopbackServer(handler, family)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
    for s in servers:
        assert not s.errors, s.errors


def implicit_tls(ctx: ssl.SSLContext) -> Handler:
    def handler(conn: socket.socket) -> None:
        with ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(GREETING)
            _echo(tls)

    return handler


def stls(ctx: ssl.SSLContext) -> Handler:
    def handler(conn: socket.socket) -> None:
        conn.sendall(GREETING)
        line = _readline(conn)
        if line != b"STLS\r\n":
            conn.sendall(b"-ERR expected STLS\r\n")
            return
        conn.sendall(b"+OK begin TLS negotiation\r\n")
        with ctx.wrap_socket(conn, server_side=True) as tls:
            _echo(tls)

    return handler


def _recv_exactly(t: Transport, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = t.recv()
        assert chunk, "unexpected EOF"
        data += chunk
    return data


# -- verification ---------------------------------------------------------------------------


def test_tls_verified_with_cafile(serve, server_ctx, certs: CertPaths) -> None:
    srv = serve(implicit_tls(server_ctx))
    with connect("localhost", srv.port, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem))) as t:
        assert t.secure
        assert t.peer_sha256 == certs.sha256
        assert t.tls_version in {"TLSv1.2", "TLSv1.3"}
        assert _recv_exactly(t, len(GREETING)) == GREETING
        t.sendall(b"CAPA\r\n")
        assert _recv_exactly(t, 6) == b"CAPA\r\n"


def test_tls_verified_by_ip_address_san(serve, server_ctx, certs: CertPaths) -> None:
    srv = serve(implicit_tls(server_ctx))
    with connect("127.0.0.1", srv.port, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem))) as t:
        assert _recv_exactly(t, len(GREETING)) == GREETING


def test_tls_over_ipv6_loopback(serve, server_ctx, certs: CertPaths) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this Python build")
    try:
        srv = serve(implicit_tls(server_ctx), socket.AF_INET6)
    except OSError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with connect("::1", srv.port, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem))) as t:
        assert t.secure
        assert _recv_exactly(t, len(GREETING)) == GREETING


def test_refused_without_cafile_with_certificate_info(serve, server_ctx, certs) -> None:
    srv = serve(implicit_tls(server_ctx))
    with pytest.raises(CertificateError) as caught:
        connect("localhost", srv.port, Security.TLS, TlsPolicy())
    info = caught.value.info
    assert info.sha256 == certs.sha256
    assert "CN=localhost" in info.subject
    assert "CN=popfetch test CA" in info.issuer
    assert info.not_before.endswith("UTC") and info.not_after.endswith("UTC")
    assert info.not_before < info.not_after
    assert "issuer" in info.error  # "unable to get local issuer certificate"
    assert certs.sha256 in str(caught.value)


def test_refused_on_hostname_mismatch(serve, server_ctx, certs) -> None:
    srv = serve(implicit_tls(server_ctx))
    t = connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy())
    with pytest.raises(CertificateError) as caught:
        t.start_tls("mail.example.org", TlsPolicy(cafile=str(certs.ca_pem)))
    assert "mail.example.org" in caught.value.info.error
    assert caught.value.info.sha256 == certs.sha256
    assert t.closed


def test_refused_when_expired(serve, tmp_path: Path) -> None:
    old = make_ca_and_server_cert(tmp_path, expired=True)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(old.cert_pem, old.key_pem)
    srv = serve(implicit_tls(ctx))
    with pytest.raises(CertificateError) as caught:
        connect("localhost", srv.port, Security.TLS, TlsPolicy(cafile=str(old.ca_pem)))
    assert "expired" in caught.value.info.error
    assert caught.value.info.sha256 == old.sha256


def test_accepted_by_pin_alone(serve, server_ctx, certs) -> None:
    srv = serve(implicit_tls(server_ctx))
    # No CA, and a host name the certificate does not carry: the pin alone decides.
    pin = certs.sha256.replace(":", "").lower()
    with connect("127.0.0.1", srv.port, Security.TLS, TlsPolicy(pinned_sha256=pin)) as t:
        assert t.secure and t.peer_sha256 == certs.sha256
        assert _recv_exactly(t, len(GREETING)) == GREETING


def test_refused_by_wrong_pin_even_when_ca_valid(serve, server_ctx, certs) -> None:
    srv = serve(implicit_tls(server_ctx))
    wrong = "00" * 32
    policy = TlsPolicy(cafile=str(certs.ca_pem), pinned_sha256=wrong)
    with pytest.raises(CertificateError) as caught:
        connect("localhost", srv.port, Security.TLS, policy)
    assert caught.value.info.sha256 == certs.sha256
    assert "pinned" in caught.value.info.error
    assert "CN=localhost" in caught.value.info.subject


def test_pin_is_normalized_and_validated() -> None:
    p = TlsPolicy(pinned_sha256=" ab" * 32)
    assert p.pinned_sha256 == ":".join(["AB"] * 32)
    with pytest.raises(ValueError):
        TlsPolicy(pinned_sha256="AB:CD")
    with pytest.raises(ValueError):
        TlsPolicy(pinned_sha256="zz" * 32)


def test_certificate_info_of_garbage_still_has_fingerprint() -> None:
    info = net.certificate_info(b"not a certificate", "whatever")
    assert info.sha256 == net.fingerprint(b"not a certificate")
    assert "parsed" in info.subject and info.error == "whatever"


def test_bad_cafile_is_security_error(serve, server_ctx, tmp_path: Path) -> None:
    srv = serve(implicit_tls(server_ctx))
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(SecurityError, match="CA file"):
        connect("localhost", srv.port, Security.TLS, TlsPolicy(cafile=str(bogus)))


def test_plaintext_server_on_tls_port_is_security_error(serve) -> None:
    def plain(conn: socket.socket) -> None:
        conn.sendall(GREETING * 20)
        time.sleep(0.5)

    srv = serve(plain)
    with pytest.raises((SecurityError, ConnectionLost)) as caught:
        connect("127.0.0.1", srv.port, Security.TLS, TlsPolicy(), timeout=5)
    assert not isinstance(caught.value, CertificateError)


# -- STLS -----------------------------------------------------------------------------------


def test_stls_upgrade(serve, server_ctx, certs) -> None:
    srv = serve(stls(server_ctx))
    policy = TlsPolicy(cafile=str(certs.ca_pem))
    with connect("localhost", srv.port, Security.STARTTLS, policy) as t:
        assert not t.secure and t.peer_sha256 is None
        assert _recv_exactly(t, len(GREETING)) == GREETING
        t.sendall(b"STLS\r\n")
        reply = b"+OK begin TLS negotiation\r\n"
        assert _recv_exactly(t, len(reply)) == reply
        t.start_tls("localhost", policy)
        assert t.secure and t.peer_sha256 == certs.sha256
        with pytest.raises(SecurityError, match="already"):
            t.start_tls("localhost", policy)
        t.sendall(b"CAPA\r\n")
        assert _recv_exactly(t, 6) == b"CAPA\r\n"


def test_stls_upgrade_refused_certificate_closes(serve, server_ctx, certs) -> None:
    srv = serve(stls(server_ctx))
    t = connect("localhost", srv.port, Security.STARTTLS, TlsPolicy())
    _recv_exactly(t, len(GREETING))
    t.sendall(b"STLS\r\n")
    _recv_exactly(t, len(b"+OK begin TLS negotiation\r\n"))
    with pytest.raises(CertificateError) as caught:
        t.start_tls("localhost", TlsPolicy())
    assert caught.value.info.sha256 == certs.sha256
    assert t.closed and not t.secure


def test_plain_connection(serve) -> None:
    def greet_echo(conn: socket.socket) -> None:
        conn.sendall(GREETING)
        _echo(conn)

    srv = serve(greet_echo)
    with connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy()) as t:
        assert not t.secure
        first = t.recv(4096)
        assert first == GREETING[: len(first)] and first
        t.sendall(b"x" * 100_000)
        assert len(_recv_exactly(t, 100_000)) >= 100_000


def test_socket_options(serve) -> None:
    srv = serve(lambda conn: time.sleep(0.3))
    with connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy()) as t:
        sock = socket.socket(fileno=socket.dup(t.fileno()))
        try:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
            if hasattr(socket, "TCP_KEEPIDLE"):
                idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
                assert idle == net.KEEPALIVE_IDLE
        finally:
            sock.close()


# -- failures -------------------------------------------------------------------------------


def test_read_timeout(serve) -> None:
    release = threading.Event()

    def silent(conn: socket.socket) -> None:
        release.wait(5)

    srv = serve(silent)
    with connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy(), timeout=5) as t:
        t.set_timeout(0.2)
        started = time.monotonic()
        with pytest.raises(ReadTimeout) as caught:
            t.recv()
        assert time.monotonic() - started < 3
        assert isinstance(caught.value, ConnectionLost)  # the engine treats it as a drop
        assert isinstance(caught.value, TimeoutError)
    release.set()


def test_read_timeout_over_tls(serve, server_ctx, certs) -> None:
    release = threading.Event()

    def silent_tls(conn: socket.socket) -> None:
        with server_ctx.wrap_socket(conn, server_side=True):
            release.wait(5)

    srv = serve(silent_tls)
    policy = TlsPolicy(cafile=str(certs.ca_pem))
    with connect("localhost", srv.port, Security.TLS, policy, timeout=5) as t:
        t.set_timeout(0.2)
        with pytest.raises(ReadTimeout):
            t.recv(100)
    release.set()


def test_tls_records_already_received_come_back_as_one_chunk(serve, server_ctx, certs) -> None:
    records = [bytes([65 + i % 26]) * 1000 for i in range(40)]  # 40 TLS records of 1000 octets
    sent = threading.Event()
    release = threading.Event()

    def many_records(conn: socket.socket) -> None:
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            for record in records:
                tls.sendall(record)
            sent.set()
            release.wait(5)
            tls.sendall(b"last")
            tls.unwrap()  # close_notify: a clean EOF

    srv = serve(many_records)
    policy = TlsPolicy(cafile=str(certs.ca_pem))
    with connect("localhost", srv.port, Security.TLS, policy, timeout=5) as t:
        assert sent.wait(5)
        t.set_timeout(0.2)
        chunks: list[bytes] = []
        while sum(map(len, chunks)) < 40_000:
            chunks.append(t.recv())
        assert b"".join(chunks) == b"".join(records)
        assert len(chunks) < len(records) // 4  # gathered, not one record per call
        # The gathering read without waiting; the socket's own timeout is back for the next
        # read: a silent server is a ReadTimeout, not an instant "nothing there".
        with pytest.raises(ReadTimeout):
            t.recv()
        release.set()
        t.set_timeout(5)
        assert _recv_exactly(t, 4) == b"last"
        assert t.recv() == b""


def test_connection_refused() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # bound, never listened: nothing accepts on this port now
    with pytest.raises(ConnectionLost, match="cannot connect") as caught:
        connect("127.0.0.1", port, Security.NONE, TlsPolicy(), timeout=5)
    assert not isinstance(caught.value, ReadTimeout)


def _reset(conn: socket.socket) -> None:
    """Close with SO_LINGER 0: the kernel sends RST instead of FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def test_peer_reset(serve) -> None:
    def greet_then_reset(conn: socket.socket) -> None:
        conn.sendall(GREETING)
        _readline(conn)
        _reset(conn)

    srv = serve(greet_then_reset)
    with connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy(), timeout=5) as t:
        assert _recv_exactly(t, len(GREETING)) == GREETING
        t.sendall(b"NOOP\r\n")
        with pytest.raises(ConnectionLost, match="lost while"):
            for _ in range(50):  # the first recv sees the RST
                t.recv()
                t.sendall(b"NOOP\r\n")
                time.sleep(0.02)


def test_peer_reset_over_tls(serve, server_ctx, certs) -> None:
    def tls_then_reset(conn: socket.socket) -> None:
        tls = server_ctx.wrap_socket(conn, server_side=True)
        tls.sendall(GREETING)
        _readline(tls)
        _reset(tls)

    srv = serve(tls_then_reset)
    policy = TlsPolicy(cafile=str(certs.ca_pem))
    with connect("localhost", srv.port, Security.TLS, policy, timeout=5) as t:
        _recv_exactly(t, len(GREETING))
        t.sendall(b"NOOP\r\n")
        with pytest.raises(ConnectionLost):
            for _ in range(50):
                t.recv()
                t.sendall(b"NOOP\r\n")
                time.sleep(0.02)


def test_clean_eof_is_empty_bytes(serve) -> None:
    def greet_and_close(conn: socket.socket) -> None:
        conn.sendall(GREETING)

    srv = serve(greet_and_close)
    with connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy(), timeout=5) as t:
        assert _recv_exactly(t, len(GREETING)) == GREETING
        assert t.recv() == b""
        assert t.recv(10) == b""


def test_abort_wakes_a_blocked_reader(serve) -> None:
    release = threading.Event()
    srv = serve(lambda conn: release.wait(5))
    t = connect("127.0.0.1", srv.port, Security.NONE, TlsPolicy(), timeout=10)
    result: list[object] = []

    def reader() -> None:
        try:
            result.append(t.recv())
        except ConnectionLost as exc:
            result.append(exc)

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(0.1)
    t.abort()
    th.join(3)
    assert not th.is_alive()
    assert result and (result[0] == b"" or isinstance(result[0], ConnectionLost))
    t.close()
    t.close()  # idempotent
    release.set()


def test_handshake_timeout(serve) -> None:
    release = threading.Event()
    srv = serve(lambda conn: release.wait(5))  # accepts TCP, never answers the ClientHello
    started = time.monotonic()
    with pytest.raises(ReadTimeout):
        connect("127.0.0.1", srv.port, Security.TLS, TlsPolicy(), timeout=0.3)
    assert time.monotonic() - started < 3
    release.set()


@pytest.mark.parametrize("security", [Security.TLS, Security.STARTTLS])
def test_refused_certificate_probed_when_chain_unreadable(
    serve, server_ctx, certs, monkeypatch: pytest.MonkeyPatch, security: Security
) -> None:
    """Pythons without (private) get_unverified_chain: a second, unverified handshake."""
    monkeypatch.setattr(tls, "unverified_chain", lambda sock: [])
    srv = serve(implicit_tls(server_ctx) if security is Security.TLS else stls(server_ctx))
    with pytest.raises(CertificateError) as caught:
        t = connect("localhost", srv.port, security, TlsPolicy(), timeout=5)
        _recv_exactly(t, len(GREETING))
        t.sendall(b"STLS\r\n")
        _recv_exactly(t, len(b"+OK begin TLS negotiation\r\n"))
        t.start_tls("localhost", TlsPolicy())
    assert caught.value.info.sha256 == certs.sha256
    assert "CN=localhost" in caught.value.info.subject
    assert srv.accepted == 2


def test_tls_reads_gather_the_records_that_have_arrived(serve, server_ctx, certs) -> None:
    payload = bytes(range(256)) * 1024  # 256 KiB: sixteen TLS records at least
    sent = threading.Event()

    def handler(conn: socket.socket) -> None:
        with server_ctx.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(payload)
            sent.set()
            _readline(tls)  # hold the connection until the client is done

    srv = serve(handler)
    with connect("localhost", srv.port, Security.TLS, TlsPolicy(cafile=str(certs.ca_pem))) as t:
        assert sent.wait(10)
        time.sleep(0.2)  # let every record reach our socket buffer
        first = t.recv(1 << 20)
        assert len(first) > 16 * 1024  # more than one record in one call
        rest = _recv_exactly(t, len(payload) - len(first))
        assert first + rest == payload
        t.sendall(b"done\r\n")
