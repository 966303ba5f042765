"""core.auth.sasl: the APOP digest and SASL responses, checked against the RFC examples."""

from __future__ import annotations

import base64

import pytest

from core.auth import sasl
from core.auth.sasl import apop_digest, cram_md5_response, plain_initial_response
from core.errors import RemoteProtocolError


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


def test_scram_sha_256_matches_the_rfc_7677_example() -> None:
    import base64

    from core.auth.sasl import ScramSha256

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    scram = ScramSha256("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
    assert base64.b64decode(scram.first()) == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    server_first = ("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
    final = base64.b64decode(scram.final(b64(server_first))).decode()
    assert final == ("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
    scram.verify(b64("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))


def test_scram_refuses_a_server_that_cannot_prove_it_knows_the_password() -> None:
    import base64

    import pytest

    from core.auth.sasl import ScramSha256
    from core.errors import RemoteProtocolError, SecurityError

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    scram = ScramSha256("user", "pencil", nonce="abc")
    with pytest.raises(RemoteProtocolError, match="nonce"):
        scram.final(b64("r=xyz123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
    with pytest.raises(RemoteProtocolError, match="iteration"):
        scram.final(b64("r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1"))
    scram.final(b64("r=abc123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
    with pytest.raises(SecurityError, match="signature"):
        scram.verify(b64("v=" + base64.b64encode(b"\0" * 32).decode()))


def test_oauthbearer_matches_the_rfc_7628_example():
    token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="
    line = sasl.bearer_response("OAUTHBEARER", "user@example.com", token,
                                "server.example.com", 143)
    assert base64.b64decode(line) == (
        b"n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
        b"auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"
    )


def test_xoauth2_is_user_and_bearer_separated_by_ctrl_a():
    line = sasl.bearer_response("XOAUTH2", "someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBh",
                                "pop.gmail.com", 995)
    assert base64.b64decode(line) == (
        b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBh\x01\x01"
    )


def test_a_bearer_line_refuses_control_characters():
    with pytest.raises(ValueError, match="user"):
        sasl.bearer_response("XOAUTH2", "a\x01b", "t", "h", 1)


def test_the_failure_challenge_is_read_as_untrusted_text():
    challenge = base64.b64encode(b'{"status":"invalid_token\\u001b[31m","scope":"x"}').decode()
    assert sasl.bearer_error(challenge) == (
        "the server refused the access token (invalid_token\\x1b[31m)")
    assert sasl.bearer_error("not base64!") == "the server refused the access token"
    assert sasl.bearer_abort("OAUTHBEARER") == "AQ==" and sasl.bearer_abort("XOAUTH2") == ""
