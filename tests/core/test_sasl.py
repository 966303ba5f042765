"""core.sasl: the APOP digest and SASL responses, checked against the RFC examples."""

from __future__ import annotations

import base64

import pytest

from core.errors import RemoteProtocolError
from core.sasl import apop_digest, cram_md5_response, plain_initial_response


def test_apop_digest_rfc1939_example() -> None:
    digest = apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
    assert digest == "c4c9334bac560ecc979e58001b3e22fb"  # RFC 1939 section 7


def test_plain_initial_response_is_authzid_user_password() -> None:
    response = plain_initial_response("tim", "tanstaaf")
    assert base64.b64decode(response) == b"\0tim\0tanstaaf"


def test_cram_md5_rfc2195_example() -> None:
    challenge = base64.b64encode(b"<1896.697170952@postoffice.reston.mci.net>").decode()
    answer = cram_md5_response("tim", "tanstaaftanstaaf", challenge)
    assert base64.b64decode(answer) == b"tim b913a602c7eda7a495b4e6e7334d3890"
    with pytest.raises(RemoteProtocolError):
        cram_md5_response("tim", "x", "not base64!")
