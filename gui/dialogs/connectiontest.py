"""Test connection: connect, read CAPA, log in, STAT; and the summary the dialog shows."""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts import Account
from core.auth.sasl import TokenSource
from core.text import sanitize
from gui import fmt


@dataclass(frozen=True)
class TestResult:
    secure: bool
    capabilities: dict[str, tuple[str, ...]]
    logged_in: bool
    count: int = 0
    size: int = 0
    method: str = ""


def test_connection(
    account: Account, password: str | TokenSource | None, timeout: float = 15.0
) -> TestResult:
    """Connect, read CAPA, log in if a password (or, signed in with OAuth, a token source) is
    given, STAT, QUIT. Blocking: a worker's job.

    Nothing is marked in this session, so its QUIT deletes nothing.
    """
    from core.pop3.session import open_session

    session = open_session(
        account.host,
        account.port,
        account.security,
        account.tls_policy(),
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    try:
        caps = dict(session.info.capabilities)
        secure = session.info.secure
        if not password:
            return TestResult(secure, caps, False)
        method = session.login(
            account.user, password, method=account.auth, allow_plaintext=account.allow_plaintext
        )
        count, size = session.stat()
        session.quit()
        return TestResult(secure, caps, True, count, size, method)
    finally:
        session.close()


def describe(result: TestResult) -> str:
    caps = result.capabilities
    lines = [
        "Connection: " + ("encrypted (TLS)" if result.secure else "NOT encrypted"),
        "Resume mid-message (EXT-RETR): " + ("yes" if "EXT-RETR" in caps else
                                             "no: an interrupted download restarts from 0"),
        "Pipelining: " + ("yes" if "PIPELINING" in caps else "no"),
        "Unique IDs (UIDL): " + ("yes" if "UIDL" in caps else "no"),
    ]
    if "SASL" in caps:
        lines.append("Sign-in methods (SASL): " + " ".join(caps["SASL"]))
    if "LOGIN-DELAY" in caps:
        lines.append(f"Minimum time between logins: {' '.join(caps['LOGIN-DELAY'])} s")
    if "IMPLEMENTATION" in caps:
        lines.append("Server: " + " ".join(caps["IMPLEMENTATION"]))
    lines.append("Server offers: " + (" ".join(sorted(caps)) or "(no CAPA)"))
    if result.logged_in:
        lines.append(
            f"Signed in ({result.method}): {result.count} messages, {fmt.size(result.size)}"
        )
    else:
        lines.append("Not signed in (no password given)")
    return "\n".join(sanitize(line) for line in lines)
