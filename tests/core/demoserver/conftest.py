"""Fixtures for the demo server tests: Maildirs, servers on port 0, a raw POP3 client, TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import poplib
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.demoserver import DemoServer

TIMEOUT = 10.0


def write_maildir(root: Path, messages: dict[str, bytes]) -> Path:
    """A Maildir holding ``messages`` (name -> LF content); names with ":2," go to cur/."""
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, data in messages.items():
        (root / ("cur" if ":2," in name else "new") / name).write_bytes(data)
    return root


def crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


MSG_A = b"From: a@example\nSubject: one\n\nHello\n.leading dot\n..two\n.\nend\n"
MSG_B = b"From: b@example\nSubject: two\n\nSecond message body\n"
MSG_C = b"Subject: three\n\n" + b"x" * 5000 + b"\n"


def pop(server: DemoServer) -> poplib.POP3:
    host, port = server.address
    return poplib.POP3(host, port, timeout=TIMEOUT)


def logged_in(server: DemoServer) -> poplib.POP3:
    client = pop(server)
    client.user("demo")
    client.pass_("demo")
    return client


@pytest.fixture
def maildir(tmp_path: Path) -> Path:
    return write_maildir(
        tmp_path / "Maildir", {"m1.aaa": MSG_A, "m2.bbb:2,S": MSG_B, "m3.ccc": MSG_C}
    )


@pytest.fixture
def make_server() -> Iterator[Callable[..., DemoServer]]:
    """Start servers (port 0) and stop them all at the end, whatever the test did."""
    servers: list[DemoServer] = []

    def make(maildir: Path, **kwargs: Any) -> DemoServer:
        server = DemoServer(maildir, **kwargs)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(maildir: Path, make_server: Callable[..., DemoServer]) -> DemoServer:
    return make_server(maildir)


class Raw:
    """A bare socket speaking POP3 by hand: exact bytes in, exact bytes out."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(TIMEOUT)
        self.buf = b""

    @classmethod
    def connect(cls, address: tuple[str, int]) -> Raw:
        return cls(socket.create_connection(address, timeout=TIMEOUT))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError(f"connection closed; unread {self.buf[:200]!r}")
        self.buf += data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def body(self) -> bytes:
        """The raw (still stuffed) multi-line payload up to and without the terminator.

        On EOF before the terminator, ``buf`` keeps the partial payload and EOFError rises.
        """
        buf = b"\r\n" + self.buf  # the status line's CRLF opens the body
        searched = 0
        while (end := buf.find(b"\r\n.\r\n", searched)) < 0:
            searched = max(0, len(buf) - 4)
            data = self.sock.recv(1 << 20)
            if not data:
                self.buf = buf[2:]
                raise EOFError("connection closed inside a multi-line reply")
            buf += data
        self.buf = buf[end + 5 :]
        return buf[2:end] + b"\r\n" if end else b""

    def read_to_eof(self) -> bytes:
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        data, self.buf = self.buf, b""
        return data

    def login(self, user: str = "demo", password: str = "demo") -> None:
        self.line()  # greeting
        self.send(f"USER {user}\r\nPASS {password}\r\n".encode())
        assert self.line().startswith(b"+OK")
        status = self.line()
        assert status.startswith(b"+OK"), status

    def quit(self) -> bytes:
        """QUIT and wait for the server to close: its maildrop lock is released by then."""
        self.send(b"QUIT\r\n")
        status = self.line()
        assert self.read_to_eof() == b""
        return status

    def close(self) -> None:
        self.sock.close()


def unstuff(body: bytes) -> bytes:
    """Undo dot-stuffing of a body that begins at a line start."""
    body = (b"\r\n" + body).replace(b"\r\n..", b"\r\n.")
    return body[2:]


@pytest.fixture
def raw(server: DemoServer) -> Iterator[Callable[[], Raw]]:
    clients: list[Raw] = []

    def connect() -> Raw:
        client = Raw.connect(server.address)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("certs")
    cert_pem = directory / "cert.pem"
    key_pem = directory / "key.pem"
    cert_pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_pem, key_pem


@pytest.fixture
def server_tls(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*cert_files)
    return context


@pytest.fixture
def client_tls(cert_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A client context that trusts exactly the test certificate."""
    return ssl.create_default_context(cafile=str(cert_files[0]))
