"""Authentication responses: the APOP digest (RFC 1939) and SASL PLAIN / CRAM-MD5.

Pure functions from credentials (and a server challenge) to the argument or line the
client sends; the exchange itself is driven by :mod:`core.session`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from core.errors import RemoteProtocolError

__all__ = ["apop_digest", "cram_md5_response", "plain_initial_response"]


def apop_digest(timestamp: str, password: str) -> str:
    """The APOP digest: lower-case hex MD5 of the greeting's timestamp + the password."""
    return hashlib.md5((timestamp + password).encode("utf-8"), usedforsecurity=False).hexdigest()


def plain_initial_response(user: str, password: str, authzid: str = "") -> str:
    """SASL PLAIN (RFC 4616) response, base64: authzid NUL user NUL password."""
    raw = f"{authzid}\0{user}\0{password}".encode()
    return base64.b64encode(raw).decode("ascii")


def cram_md5_response(user: str, password: str, challenge_b64: str) -> str:
    """SASL CRAM-MD5 (RFC 2195) response to a base64 challenge, base64 encoded."""
    try:
        challenge = base64.b64decode(challenge_b64.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError(f"CRAM-MD5 challenge is not base64: {exc}") from None
    digest = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    return base64.b64encode(f"{user} {digest}".encode()).decode("ascii")
