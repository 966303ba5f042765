"""Sockets and TLS for one POP3 connection: implicit TLS, STLS upgrade, timeouts.

Blocking I/O on purpose: each account's engine runs on its own worker thread, and a
blocking socket with a read timeout is the simplest thing that detects a dead link.
Every low-level failure leaves this module as one of three exceptions from
:mod:`core.errors`, so callers never inspect ``OSError`` numbers:

- :class:`~core.errors.ReadTimeout` -- nothing arrived within the timeout (a dead link);
- :class:`~core.errors.ConnectionLost` -- refused, reset, broken pipe, TLS record errors;
- :class:`~core.errors.CertificateError` / :class:`~core.errors.SecurityError` -- the
  server is not who it claims to be, or TLS cannot be negotiated (retrying will not help).

What needs ``ssl`` (contexts, the handshake and its pin) is in :mod:`core.tls`, which the
first TLS connection loads.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import select
import socket
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from core.errors import (
    CertificateInfo,
    ConnectionLost,
    Interrupted,
    ReadTimeout,
    SecurityError,
)

if TYPE_CHECKING:
    from cryptography.x509 import Name

__all__ = [
    "Dialer",
    "Security",
    "TlsPolicy",
    "Transport",
    "certificate_info",
    "connect",
    "fingerprint",
    "normalize_fingerprint",
]

# TCP keepalive: probe after 30 s of silence, every 10 s, give up after 3 misses. A link
# that died while we wait for a slow server is then noticed within about a minute even
# when the read timeout is long (servers may think for a while before a big RETR).
KEEPALIVE_IDLE = 30
KEEPALIVE_INTERVAL = 10
KEEPALIVE_COUNT = 3

_HEX64 = re.compile(r"[0-9A-F]{64}")


class Security(Enum):
    """How the connection is protected: implicit TLS (995), STLS upgrade (110), or none."""

    TLS = "tls"
    STARTTLS = "starttls"
    NONE = "none"


def normalize_fingerprint(text: str) -> str:
    """``"ab:cd ..."`` / ``"ABCD..."`` -> ``"AB:CD:..."``; ValueError unless 32 bytes of hex.

    Users paste fingerprints from ``openssl x509 -fingerprint``, browsers or our own
    dialog; they differ in case and separators, never in the digits.
    """
    digits = re.sub(r"[\s:]", "", text).upper()
    if not _HEX64.fullmatch(digits):
        raise ValueError(f"not a SHA-256 fingerprint (64 hex digits expected): {text!r}")
    return ":".join(digits[i : i + 2] for i in range(0, 64, 2))


@dataclass(frozen=True)
class TlsPolicy:
    """Which certificates to trust.

    ``cafile``: a PEM bundle used *instead of* the system store (a private CA).
    ``pinned_sha256``: trust exactly the certificate with this SHA-256 fingerprint and
    nothing else (see :meth:`Transport.start_tls` for why the pin alone decides). The pin
    is normalized to ``"AB:CD:..."`` on construction; a malformed pin is a ValueError.
    """

    cafile: str | None = None
    pinned_sha256: str | None = None

    def __post_init__(self) -> None:
        if self.pinned_sha256 is not None:
            object.__setattr__(self, "pinned_sha256", normalize_fingerprint(self.pinned_sha256))


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as ``"AB:CD:..."`` (the form users compare and pin)."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _name_text(name: Name) -> str:
    try:
        return name.rfc4514_string()
    except ValueError:  # an attribute cryptography cannot render; still show something
        return repr(name)


def certificate_info(der: bytes, error: str) -> CertificateInfo:
    """What the trust dialog shows about a certificate that failed verification.

    Never raises: a certificate too broken to parse still gets its fingerprint, which is
    what a pin is made of.
    """
    from cryptography import x509  # only on a refused certificate: keeps start-up light

    sha = fingerprint(der)
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        unknown = "(certificate could not be parsed)"
        return CertificateInfo(unknown, unknown, "", "", sha, error)
    fmt = "%Y-%m-%d %H:%M:%S UTC"
    return CertificateInfo(
        subject=_name_text(cert.subject),
        issuer=_name_text(cert.issuer),
        not_before=cert.not_valid_before_utc.strftime(fmt),
        not_after=cert.not_valid_after_utc.strftime(fmt),
        sha256=sha,
        error=error,
    )


def _tune(sock: socket.socket) -> None:
    """TCP_NODELAY (small pipelined commands go out at once) and keepalive (dead links)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:  # not TCP (a socketpair in tests) or the peer is already gone
        return
    for opt, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPALIVE", KEEPALIVE_IDLE),  # macOS spelling of KEEPIDLE
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        number = getattr(socket, opt, None)
        if number is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, number, value)


class Transport:
    """One connected TCP socket, possibly upgraded to TLS; no buffering of its own.

    Because nothing is buffered here, :meth:`start_tls` can wrap the socket right after
    the ``+OK`` to STLS: no plaintext byte read ahead can be mistaken for TLS data.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        peer: tuple[str, int] | None = None,
        starttls: bool = False,
    ) -> None:
        self._sock = sock
        self.peer = peer
        self.secure = False
        self.peer_sha256: str | None = None  # set once TLS is up, for display and pinning
        self.tls_version: str | None = None
        self._closed = False
        self._records = bytearray()  # TLS receive buffer, reused (see _recv_tls)
        self._starttls = starttls  # TLS comes after a plaintext STLS exchange

    # -- I/O -----------------------------------------------------------------------------

    def recv(self, bufsize: int = 262144) -> bytes:
        """Up to ``bufsize`` bytes; ``b""`` on EOF. ReadTimeout / ConnectionLost otherwise.

        Plaintext: one ``recv``, which the kernel copies straight into the returned bytes.
        Over TLS one read returns at most one record (16 KiB), so :meth:`_recv_tls`
        gathers what has already arrived: the decoder and the disk see large chunks.
        """
        if self.secure:
            return self._recv_tls(bufsize)
        try:
            return self._sock.recv(bufsize)
        except OSError as exc:
            raise self._translate(exc, "receiving") from exc

    def _recv_tls(self, bufsize: int) -> bytes:
        """Wait for one record, then take the records already received without waiting.

        They are decrypted straight into one reused buffer (no bytes object per record, no
        join), and the socket's timeout is 0 for the gathering, so no select() is paid per
        record; one copy comes out.
        """
        if len(self._records) < bufsize:
            self._records = bytearray(bufsize)
        view = memoryview(self._records)[:bufsize]
        sock = self._sock
        try:
            have = sock.recv_into(view)
        except OSError as exc:
            raise self._translate(exc, "receiving") from exc
        if not have:
            return b""
        timeout = sock.gettimeout()
        sock.settimeout(0.0)
        try:
            while have < bufsize:
                n = sock.recv_into(view[have:])
                if not n:
                    break  # EOF: the next call reports it
                have += n
        except OSError:
            pass  # nothing more yet (SSLWantReadError), or a reset the next call reports
        finally:
            sock.settimeout(timeout)
        return bytes(view[:have])

    def sendall(self, data: bytes) -> None:
        """Send everything or raise ConnectionLost (a send timeout counts as a lost link)."""
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise self._translate(exc, "sending") from exc

    def set_timeout(self, seconds: float) -> None:
        """Read/write timeout for every later call (the handshake uses the current one)."""
        self._sock.settimeout(seconds)

    def fileno(self) -> int:
        return self._sock.fileno()

    def _translate(self, exc: OSError, doing: str) -> ConnectionLost:
        """OSError (timeouts, resets, TLS record errors: SSLError is one) -> our two kinds."""
        where = f"{self.peer[0]}:{self.peer[1]}" if self.peer else "the server"
        if isinstance(exc, TimeoutError):
            if doing != "sending":
                return ReadTimeout(f"no data from {where} within {self._sock.gettimeout()} s")
            return ConnectionLost(f"{where} stopped accepting data (send timed out)")
        return ConnectionLost(f"connection to {where} lost while {doing}: {exc}")

    # -- TLS -------------------------------------------------------------------------------

    def start_tls(self, host: str, policy: TlsPolicy) -> None:
        """Run the TLS handshake on this socket (implicit TLS at once, or after STLS +OK).

        Without a pin, OpenSSL verifies the chain (system store, or ``policy.cafile``
        instead) and the host name. If it refuses, the certificate it refused is read from
        the failed handshake itself, so the dialog shows exactly what this server sent.

        With a pin, *only* the pin is checked: the certificate must hash to it, and chain,
        host name and dates are ignored. That is deliberate. A pin is the user's decision
        to trust one exact certificate (typically self-signed, so no chain exists, often
        issued for another name); a matching SHA-256 binds the handshake to that
        certificate's key more tightly than any CA could. Mixing in CA checks would make
        pinned self-signed servers fail, and accepting CA-valid certificates that differ
        from the pin would silently widen the trust the user gave. A renewed certificate
        therefore fails the pin, and the error carries the new one for the user to review.

        Raises CertificateError (with CertificateInfo), SecurityError for other handshake
        failures (no common protocol, plaintext on a TLS port), ReadTimeout/ConnectionLost.
        On any failure the socket is closed.
        """
        if self.secure:
            raise SecurityError("TLS is already active on this connection")
        # ssl loads for a TLS connection only, never for a plaintext run: start-up time.
        from core import tls

        ctx = tls.context(policy)
        raw = self._sock
        try:
            secured = ctx.wrap_socket(raw, server_hostname=host, do_handshake_on_connect=False)
        except (OSError, ValueError) as exc:
            self.close()
            raise ConnectionLost(f"cannot start TLS with {host}: {exc}") from exc
        self._sock = secured
        try:
            sha = tls.handshake(secured, host, policy, peer=self.peer, starttls=self._starttls)
        except SecurityError:  # refused certificate, or no TLS to agree on: retrying won't help
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise self._translate(exc, "negotiating TLS") from exc  # a passing failure: retry
        self.secure = True
        self.peer_sha256 = sha
        self.tls_version = secured.version()

    # -- closing ---------------------------------------------------------------------------

    def abort(self) -> None:
        """Shut the link down from any thread: a recv blocked in the worker returns at once.

        ``close()`` from another thread does not reliably wake a blocked ``recv`` on
        Linux; ``shutdown`` does. The owning thread still calls :meth:`close`.
        """
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        """Close without a TLS close_notify (POP3's QUIT already ended the dialogue). Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Dialer:
    """One connection, from connect to close, that another thread may abort at any point.

    The worker passes it to :func:`connect`; ``abort()`` from any thread then ends a
    connect in progress within a fraction of a second, and wakes a TLS handshake or a
    read blocked on the transport at once (the socket is shut down under it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._aborted = False
        self._transport: Transport | None = None

    @property
    def aborted(self) -> bool:
        with self._lock:
            return self._aborted

    def abort(self) -> None:
        with self._lock:
            self._aborted = True
            transport = self._transport
        if transport is not None:
            transport.abort()

    def adopt(self, transport: Transport) -> None:
        with self._lock:
            self._transport = transport
            aborted = self._aborted
        if aborted:
            transport.abort()


_CONNECT_SLICE = 0.1  # seconds between looks at the abort flag while connecting


def _open_socket(host: str, port: int, timeout: float, dialer: Dialer) -> socket.socket:
    """A connected TCP socket, trying each address in turn; abortable through ``dialer``."""
    deadline = time.monotonic() + timeout
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ConnectionLost(f"cannot connect to {host}:{port}: {exc.strerror or exc}") from exc
    last: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            err = sock.connect_ex(address)
            while err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
                if dialer.aborted:
                    raise Interrupted("connect")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ReadTimeout(f"connecting to {host}:{port} timed out after {timeout} s")
                _, ready, failed = select.select([], [sock], [sock], min(left, _CONNECT_SLICE))
                if ready or failed:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                raise OSError(err, os.strerror(err))
            sock.settimeout(timeout)
            return sock
        except (Interrupted, ReadTimeout):
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            last = exc
        except BaseException:
            sock.close()
            raise
    reason = (last.strerror or str(last)) if last else "no address"
    raise ConnectionLost(f"cannot connect to {host}:{port}: {reason}") from last


def connect(
    host: str,
    port: int,
    security: Security,
    policy: TlsPolicy,
    *,
    timeout: float = 30.0,
    dialer: Dialer | None = None,
) -> Transport:
    """Open a TCP connection (IPv4 or IPv6) and, for ``Security.TLS``, do the handshake.

    For ``Security.STARTTLS`` the transport comes back in plaintext: the session reads
    the greeting, sends STLS, and on ``+OK`` calls :meth:`Transport.start_tls`.
    ``timeout`` bounds the connect, the handshake and every later read (change it with
    :meth:`Transport.set_timeout`). ``dialer.abort()`` ends any of them at once
    (Interrupted, or ConnectionLost from the socket shut down under a handshake).
    """
    dialer = dialer or Dialer()
    sock = _open_socket(host, port, timeout, dialer)
    _tune(sock)
    transport = Transport(sock, peer=(host, port), starttls=security is Security.STARTTLS)
    dialer.adopt(transport)
    if security is Security.TLS:
        transport.start_tls(host, policy)
    return transport
