"""Authentication responses: the APOP digest (RFC 1939), SASL PLAIN / CRAM-MD5 /
SCRAM-SHA-256, and the OAuth 2.0 bearer mechanisms XOAUTH2 and OAUTHBEARER (RFC 7628).

Pure functions from credentials (and a server challenge) to the argument or line the
client sends, plus the bearer retry rule; the exchange itself is driven by
:mod:`core.pop3.session`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from typing import Final, Protocol

from core.errors import RemoteProtocolError, SecurityError, SignInRequired
from core.text import sanitize

__all__ = [
    "BEARER_MECHANISMS",
    "ScramSha256",
    "TokenSource",
    "apop_digest",
    "bearer_abort",
    "bearer_error",
    "bearer_login",
    "bearer_response",
    "cram_md5_response",
    "plain_initial_response",
]


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


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RemoteProtocolError(f"{what} is not base64: {exc}") from None


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


class ScramSha256:
    """The client side of SASL SCRAM-SHA-256 (RFC 5802, RFC 7677), without channel binding.

    Neither the password nor anything replayable crosses the wire, and the server proves
    that it knows the password too (``verify``): a login that is safe even on a
    connection without TLS. The password is used as UTF-8 without SASLprep, which is
    the same for every ASCII password and what common servers compute for the rest.
    """

    MIN_ITERATIONS = 4096  # RFC 7677: a server must not ask for fewer

    def __init__(self, user: str, password: str, *, nonce: str | None = None) -> None:
        self._password = password.encode("utf-8")
        name = user.replace("=", "=3D").replace(",", "=2C")
        self._nonce = nonce or _b64(os.urandom(18))
        self._first_bare = f"n={name},r={self._nonce}"
        self._server_signature = b""

    def first(self) -> str:
        """client-first-message, base64 ("n,," = no channel binding, no authzid)."""
        return _b64(f"n,,{self._first_bare}".encode())

    def final(self, server_first_b64: str) -> str:
        """client-final-message with the proof, from the server's salt and iteration count."""
        server_first = _unb64(server_first_b64, "SCRAM server-first").decode("utf-8", "replace")
        fields = dict(part.split("=", 1) for part in server_first.split(",") if "=" in part)
        nonce, salt_b64, count = fields.get("r", ""), fields.get("s", ""), fields.get("i", "")
        if not nonce.startswith(self._nonce) or len(nonce) == len(self._nonce):
            raise RemoteProtocolError("SCRAM: the server's nonce does not extend ours")
        if not count.isdigit() or int(count) < self.MIN_ITERATIONS:
            raise RemoteProtocolError(f"SCRAM: unacceptable iteration count {count!r}")
        salt = _unb64(salt_b64, "SCRAM salt")
        salted = hashlib.pbkdf2_hmac("sha256", self._password, salt, int(count))
        client_key = _hmac(salted, b"Client Key")
        without_proof = f"c=biws,r={nonce}"
        auth_message = f"{self._first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return _b64(f"{without_proof},p={_b64(proof)}".encode())

    def verify(self, server_final_b64: str) -> None:
        """Check the server's signature: a server that does not know the password fails."""
        server_final = _unb64(server_final_b64, "SCRAM server-final").decode("utf-8", "replace")
        if server_final.startswith("e="):
            raise RemoteProtocolError(f"SCRAM: the server refused: {server_final[2:]}")
        expected = "v=" + _b64(self._server_signature)
        if not self._server_signature or not hmac.compare_digest(server_final, expected):
            raise SecurityError("SCRAM: the server's signature is wrong (not the real server?)")


# -- OAuth 2.0 bearer tokens -------------------------------------------------------------------

BEARER_MECHANISMS: Final = ("XOAUTH2", "OAUTHBEARER")


class TokenSource(Protocol):
    """Where a bearer login gets its access token.

    ``token()`` is the current one (fetched or refreshed as needed); ``renew()`` is called
    after the server refused it and returns a fresh one, or raises SignInRequired when
    nothing but a new sign-in can help.
    """

    def token(self) -> str: ...

    def renew(self) -> str: ...


def bearer_response(mechanism: str, user: str, token: str, host: str, port: int) -> str:
    """The client's line for XOAUTH2 or OAUTHBEARER, base64.

    XOAUTH2 (Google's, also Microsoft's): ``user=U^Aauth=Bearer T^A^A``. OAUTHBEARER
    (RFC 7628 section 3.1): a GS2 header naming the user (``n,a=U,``), then ``host``,
    ``port`` and ``auth`` key/value pairs, each ended by ^A, and a final ^A.
    """
    for name, value in (("user", user), ("token", token)):
        if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError(f"the {name} must not contain control characters")
    if mechanism == "XOAUTH2":
        raw = f"user={user}\x01auth=Bearer {token}\x01\x01"
    elif mechanism == "OAUTHBEARER":
        name = user.replace("=", "=3D").replace(",", "=2C")  # RFC 5801 saslname
        raw = f"n,a={name},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01"
    else:
        raise ValueError(f"not a bearer mechanism: {mechanism}")
    return _b64(raw.encode("utf-8"))


def bearer_abort(mechanism: str) -> str:
    """The line that ends an exchange after the server's error challenge: an empty line for
    XOAUTH2, a single ^A ("AQ==") for OAUTHBEARER (RFC 7628 section 3.2.3)."""
    return "AQ==" if mechanism == "OAUTHBEARER" else ""


def bearer_error(challenge_b64: str) -> str:
    """The reason in a failure challenge (base64 JSON, RFC 7628 section 3.2.2), as short
    printable text. The server's text is untrusted: control characters go, length is cut."""
    try:
        doc = json.loads(base64.b64decode(challenge_b64.strip(), validate=True))
    except (binascii.Error, ValueError):
        return "the server refused the access token"
    status = str(doc.get("status", "")) if isinstance(doc, dict) else ""
    if not status:
        return "the server refused the access token"
    return f"the server refused the access token ({sanitize(status, 60)})"


def bearer_login(attempt: Callable[[str], str | None], tokens: TokenSource) -> None:
    """Log in with ``tokens``: on a refusal renew the token once and try once more.

    ``attempt(token)`` runs one whole exchange and returns None on success or the server's
    reason. A second refusal means the grant itself is gone: SignInRequired, never a loop.
    """
    reason = attempt(tokens.token())
    if reason is None:
        return
    reason = attempt(tokens.renew())
    if reason is not None:
        raise SignInRequired(reason)
