"""TLS for :class:`core.net.Transport`: the context a :class:`~core.net.TlsPolicy` asks for,
the handshake with its pin, and the refused certificate read back for the trust dialog.

Apart from :mod:`core.net` so that ``ssl`` loads only when a connection uses TLS:
:meth:`core.net.Transport.start_tls` imports this module, a plaintext run never does.
"""

from __future__ import annotations

import socket
import ssl

from core.errors import CertificateError, CertificateInfo, SecurityError
from core.net import TlsPolicy, certificate_info, fingerprint

__all__ = ["context", "handshake", "unverified_chain"]


def context(policy: TlsPolicy) -> ssl.SSLContext:
    """The client context: the pin alone decides, else OpenSSL verifies (cafile or system)."""
    if policy.pinned_sha256 is not None:
        # The pin decides (see Transport.start_tls); OpenSSL only runs the handshake.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        # With a cafile, create_default_context trusts that file only, not the system store.
        try:
            ctx = ssl.create_default_context(cafile=policy.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise SecurityError(f"cannot load CA file {policy.cafile!r}: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def handshake(
    sock: ssl.SSLSocket,
    host: str,
    policy: TlsPolicy,
    *,
    peer: tuple[str, int] | None,
    starttls: bool,
) -> str:
    """Run the handshake on a wrapped socket; the SHA-256 fingerprint of the peer's
    certificate. CertificateError (with what the trust dialog shows) for a certificate
    refused or not matching the pin, SecurityError for any other TLS failure; an OSError
    of the link (timeout, reset, EOF) is raised as it is. The caller closes the socket on
    any failure. ``peer`` and ``starttls`` say how to reach the server again when the
    refused certificate must be read by a second handshake (:func:`_probe_certificate`).
    """
    try:
        sock.do_handshake()
    except ssl.SSLCertVerificationError as exc:
        chain = unverified_chain(sock)
        sock.close()
        reason = exc.verify_message or str(exc)
        refused = chain[0] if chain else _probe_certificate(
            peer, host, starttls, sock.gettimeout() or 30.0)
        if refused is None:
            unknown = "(the server's certificate could not be read)"
            raise CertificateError(CertificateInfo(unknown, unknown, "", "", "", reason)) from exc
        raise CertificateError(certificate_info(refused, reason)) from exc
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        raise  # the link broke mid-handshake: a passing failure, not a TLS refusal
    except ssl.SSLError as exc:
        raise SecurityError(f"TLS handshake with {host} failed: {exc.reason or exc}") from exc

    der = sock.getpeercert(binary_form=True)
    if not der:  # cannot happen for a TLS client; refuse rather than trust nothing
        raise SecurityError(f"{host} sent no certificate")
    sha = fingerprint(der)
    if policy.pinned_sha256 is not None and sha != policy.pinned_sha256:
        raise CertificateError(
            certificate_info(der, "the certificate does not match the pinned fingerprint")
        )
    return sha


def unverified_chain(sock: ssl.SSLSocket) -> list[bytes]:
    """The DER chain the peer sent, readable even after OpenSSL rejected it.

    Public in Python 3.13 (``SSLSocket.get_unverified_chain``); in 3.11/3.12 the same C
    method exists on the private ``_sslobj``. Empty if neither is there.
    """
    public = getattr(sock, "get_unverified_chain", None)
    if public is not None:
        return [bytes(c) for c in public() or []]
    sslobj = getattr(sock, "_sslobj", None)
    private = getattr(sslobj, "get_unverified_chain", None)
    if private is None:
        return []
    return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in private() or []]  # type: ignore[attr-defined]


def _probe_certificate(
    peer: tuple[str, int] | None, host: str, starttls: bool, timeout: float
) -> bytes | None:
    """Fallback when the refused chain is unreadable: fetch it by an unverified handshake.

    Opens a second connection to the same address, replays the POP3 greeting and STLS
    exchange if the first was opened for STARTTLS, and takes the certificate without
    trusting it (nothing is sent over that connection). ``None`` if that fails too.
    """
    if peer is None:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(peer, timeout=timeout) as raw:
            if starttls:
                reader = raw.makefile("rb")
                if not reader.readline(1024).startswith(b"+OK"):
                    return None
                raw.sendall(b"STLS\r\n")
                if not reader.readline(1024).startswith(b"+OK"):
                    return None
            with ctx.wrap_socket(raw, server_hostname=host) as tls:
                return tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
