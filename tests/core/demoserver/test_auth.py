"""Credential checks for APOP and the SASL mechanisms."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from core.demoserver import auth

USERS = {"demo": "s3cret"}


def test_password() -> None:
    assert auth.check_password(USERS, "demo", "s3cret")
    assert not auth.check_password(USERS, "demo", "wrong")
    assert not auth.check_password(USERS, "nobody", "s3cret")


def test_apop_digest() -> None:
    stamp = auth.make_timestamp()
    assert stamp.startswith("<") and stamp.endswith(">") and "@" in stamp
    assert stamp != auth.make_timestamp()
    digest = hashlib.md5((stamp + "s3cret").encode()).hexdigest()
    assert auth.check_apop(USERS, "demo", stamp, digest)
    assert auth.check_apop(USERS, "demo", stamp, digest.upper())
    assert not auth.check_apop(USERS, "demo", stamp + "x", digest)
    assert not auth.check_apop(USERS, "nobody", stamp, digest)


def test_plain() -> None:
    assert auth.parse_plain(b"\0demo\0s3cret") == ("demo", "s3cret")
    assert auth.parse_plain(b"demo\0demo\0pw") == ("demo", "pw")
    for bad in (b"demo\0s3cret", b"other\0demo\0pw", b"\0\xff\0x"):
        with pytest.raises(auth.Malformed):
            auth.parse_plain(bad)


def test_base64() -> None:
    assert auth.b64decode(auth.b64encode(b"\0a\0b")) == b"\0a\0b"
    for bad in ("not base64!", "é"):
        with pytest.raises(auth.Malformed):
            auth.b64decode(bad)


def test_cram_md5() -> None:
    challenge = "<1.2@x>"
    digest = hmac.new(b"s3cret", challenge.encode(), hashlib.md5).hexdigest()
    assert auth.check_cram_md5(USERS, challenge, f"demo {digest}".encode()) == "demo"
    assert auth.check_cram_md5(USERS, challenge, f"demo {'0' * 32}".encode()) is None
    assert auth.check_cram_md5(USERS, challenge, f"nobody {digest}".encode()) is None
    with pytest.raises(auth.Malformed):
        auth.check_cram_md5(USERS, challenge, b"nospace")
