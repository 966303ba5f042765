"""Fixtures for the Dovecot interop suite: one Dovecot for the session, a fresh mailbox per test.

Without the ``dovecot-pop3d`` package the suite skips with a message naming it, except when
``POPFETCH_REQUIRE_ALL=1`` (CI sets it): then a missing Dovecot is a failure.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator

import pytest

from tests.support.dovecot import Dovecot, DovecotError, User, dovecot_binary, missing_reason

_names = itertools.count(1)


def _unavailable(reason: str) -> None:
    if os.environ.get("POPFETCH_REQUIRE_ALL") == "1":
        pytest.fail(f"POPFETCH_REQUIRE_ALL=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        _unavailable(missing_reason())
    server = Dovecot(users={})
    try:
        server.start()
    except DovecotError as exc:
        server.stop()
        pytest.fail(f"Dovecot is installed but did not start:\n{exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> User:
    """A user of its own for this test, with an empty Maildir and a random password."""
    name = f"user{next(_names)}"
    return dovecot.add_user(name, secrets.token_urlsafe(12))

