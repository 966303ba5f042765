"""Fixtures for the delivery-target interop suite (issue 12): one Dovecot serving POP3, IMAP
(STARTTLS and TLS) and LMTP (TCP and a Unix socket) for the session, a user per test.

Without ``dovecot-imapd``/``dovecot-lmtpd`` the suite skips naming the packages, except
under ``POPFETCH_REQUIRE_ALL=1`` (CI), where that is a failure.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support.dovecot import Dovecot, DovecotError, User, dovecot_binary, missing_reason

_names = itertools.count(1)
PACKAGES = {"imap": "dovecot-imapd", "lmtp": "dovecot-lmtpd"}


def unavailable(reason: str) -> None:
    if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
        pytest.fail(f"POPFETCH_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def start_dovecot(**options: object) -> Dovecot:
    """A Dovecot with the target protocols, or skip naming the missing package."""
    if dovecot_binary() is None:
        unavailable(missing_reason())
    for proto, package in PACKAGES.items():
        if not any(os.access(f"{d}/{proto}", os.X_OK) for d in ("/usr/lib/dovecot",)):
            unavailable(f"{package} is not installed (apt-get install {package})")
    server = Dovecot(users={}, protocols=("pop3", "imap", "lmtp"), **options)  # type: ignore[arg-type]
    try:
        server.start()
    except DovecotError as exc:
        server.stop()
        pytest.fail(f"Dovecot is installed but did not start:\n{exc}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def dovecot_targets() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def target_user(dovecot_targets: Dovecot) -> User:
    """A user of its own for this test: an empty mailbox reachable over IMAP, LMTP, POP3."""
    return dovecot_targets.add_user(f"target{next(_names)}", secrets.token_urlsafe(12))
