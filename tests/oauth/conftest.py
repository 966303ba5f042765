"""Fixtures for the OAuth suite: the bearer fake server; the real provider and Dovecot are in
tests/oauth/test_end_to_end.py's fixtures."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.oauth.bearer_server import BearerServer
from tests.support.certs import CertPaths, make_ca_and_server_cert


@pytest.fixture
def certs(tmp_path: Path) -> CertPaths:
    return make_ca_and_server_cert(tmp_path / "certs")


@pytest.fixture
def bearer_server(certs: CertPaths) -> Iterator[BearerServer]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certs.cert_pem, certs.key_pem)
    server = BearerServer(ctx)
    server.start()
    yield server
    server.stop()
