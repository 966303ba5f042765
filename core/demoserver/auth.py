"""Credential checks for USER/PASS, APOP (RFC 1939) and SASL PLAIN, LOGIN, CRAM-MD5 (RFC 5034).

Pure functions over the user table, so the session only shuttles lines; every comparison
is constant-time so that even a demo does not model a timing leak.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import time
from collections.abc import Mapping

MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")
PLAINTEXT_MECHANISMS = frozenset({"PLAIN", "LOGIN"})


def mechanisms(plaintext: bool) -> tuple[str, ...]:
    """SASL mechanisms on offer: PLAIN and LOGIN only where a password may cross the wire."""
    return (
        MECHANISMS if plaintext else tuple(m for m in MECHANISMS if m not in PLAINTEXT_MECHANISMS)
    )


class Malformed(ValueError):
    """A client's SASL data that is not valid base64 or not in the mechanism's shape."""


def check_password(users: Mapping[str, str], user: str, password: str) -> bool:
    expected = users.get(user)
    if expected is None:
        hmac.compare_digest(password, password)  # same work for unknown users
        return False
    return hmac.compare_digest(expected.encode(), password.encode())


def make_timestamp(host: str = "popfetch.demo") -> str:
    """An APOP / CRAM-MD5 challenge: unique per connection, RFC 822 msg-id shaped."""
    return f"<{os.getpid()}.{time.time_ns()}.{os.urandom(4).hex()}@{host}>"


def check_apop(users: Mapping[str, str], user: str, timestamp: str, digest: str) -> bool:
    password = users.get(user)
    if password is None:
        return False
    expected = hashlib.md5((timestamp + password).encode()).hexdigest()
    return hmac.compare_digest(expected, digest.lower())


def b64decode(line: str) -> bytes:
    try:
        return base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise Malformed("invalid base64") from exc


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def parse_plain(data: bytes) -> tuple[str, str]:
    """SASL PLAIN: authzid NUL authcid NUL passwd; an authzid must match the authcid."""
    parts = data.split(b"\0")
    if len(parts) != 3:
        raise Malformed("PLAIN needs authzid, authcid and password")
    try:
        authzid, authcid, password = (p.decode("utf-8") for p in parts)
    except UnicodeDecodeError as exc:
        raise Malformed("PLAIN data is not UTF-8") from exc
    if authzid and authzid != authcid:
        raise Malformed("cannot act as another user")
    return authcid, password


def check_cram_md5(users: Mapping[str, str], challenge: str, response: bytes) -> str | None:
    """The user name when ``response`` ("user hexdigest") is right, else None."""
    try:
        user, digest = response.decode("utf-8").rsplit(" ", 1)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed("CRAM-MD5 response is 'user digest'") from exc
    password = users.get(user)
    if password is None:
        return None
    expected = hmac.new(password.encode(), challenge.encode(), hashlib.md5).hexdigest()
    return user if hmac.compare_digest(expected, digest.lower()) else None
