"""Authentication responses: the APOP digest (RFC 1939), SASL PLAIN / CRAM-MD5 / SCRAM-SHA-256.

Pure functions from credentials (and a server challenge) to the argument or line the
client sends; the exchange itself is driven by :mod:`core.pop3.session`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from core.errors import RemoteProtocolError, SecurityError

__all__ = ["ScramSha256", "apop_digest", "cram_md5_response", "plain_initial_response"]


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
