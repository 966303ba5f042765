"""Plain words first, protocol detail second: what an error means for the user.

``explain(exc)`` gives one line such as "The server refused the password (PASS: -ERR [AUTH]
Authentication failed)": a sentence a user can act on, then the server's or OpenSSL's own
words for whoever has to dig. It is the ``str()`` of every :class:`core.errors.PopError`, so
the engine's events, the CLI, the log dock and the dialogs all show the same words; the
result is sanitized (one line, no control characters).

The rules go by error class and by the exception that caused it (``ssl.SSLError.reason``,
``ConnectionRefusedError``); only OpenSSL's certificate verdicts, which have no type of their
own, are matched as text.
"""

from __future__ import annotations

import socket
import time

from core import errors
from core.text import sanitize

__all__ = ["detail", "explain", "plain_words"]

_SHOWN: int = 500  # characters of the whole line; the server's part is cut earlier


def detail(exc: BaseException) -> str:
    """The error's own message (protocol speak), without the plain words."""
    return Exception.__str__(exc)


def explain(exc: BaseException) -> str:
    """``"<plain words> (<detail>)"``, or the detail alone when no rule applies; sanitized."""
    plain, own = plain_words(exc), detail(exc)
    line = f"{plain} ({own})" if plain and own else plain or own
    return sanitize(line, _SHOWN)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__
    return seen


def _certificate(reason: str) -> str:
    reason = reason.lower()
    if "pinned" in reason:
        return "The server's certificate changed since you chose to trust it"
    if "expired" in reason:
        return "The server's certificate has expired"
    if "not yet valid" in reason:
        return "The server's certificate is not valid yet (check this computer's clock)"
    if "mismatch" in reason or "hostname" in reason:
        return "The server's certificate was issued for another name"
    if "issuer" in reason or "self-signed" in reason or "self signed" in reason or (
        "verify the first certificate" in reason
    ):
        return "The server's certificate is not signed by an authority this computer trusts"
    return "The server's certificate could not be verified"


def _when(seconds: float) -> str:
    at = time.localtime(time.time() + seconds)
    return time.strftime("%H:%M" if seconds < 20 * 3600 else "%Y-%m-%d %H:%M", at)


def _tls_reason(chain: list[BaseException]) -> str | None:
    # Imported here, not at the top, so that a plaintext run never loads ssl: start-up time.
    import ssl

    for exc in chain:
        if isinstance(exc, ssl.SSLError):
            return str(exc.reason or "")
    return None


def plain_words(exc: BaseException) -> str:
    """The sentence for the user, or "" when the detail already says it plainly."""
    chain = _chain(exc)
    own = detail(exc)
    if isinstance(exc, errors.CertificateError):
        return _certificate(exc.info.error)
    if isinstance(exc, errors.TlsGreeting):
        return "This port speaks TLS: choose SSL/TLS"
    if isinstance(exc, errors.NoGreeting):
        return (
            "The server never greeted: if this port expects encryption from the start"
            " (995), choose SSL/TLS"
        )
    if isinstance(exc, errors.LoginDelay):
        every = f"The server allows a login every {exc.delay:.0f} s"
        if exc.delay > errors.MAX_SERVER_WAIT:
            return f"{every}; try after {_when(exc.delay)}"
        return every
    if isinstance(exc, errors.AuthenticationError):
        return "The server refused the password"
    if isinstance(exc, errors.ServerError):
        return {
            "IN-USE": "Another program is reading this mailbox right now",
            "SYS/TEMP": "The server has a passing problem",
            "SYS/PERM": "The server refuses for good",
        }.get(exc.code or "", "")
    reason = _tls_reason(chain) or ""
    if "WRONG_VERSION_NUMBER" in reason or "WRONG_VERSION_NUMBER" in own:
        return "This port does not speak TLS from the start: choose STARTTLS or no encryption"
    if any(word in reason for word in ("UNSUPPORTED_PROTOCOL", "PROTOCOL_VERSION")):
        return "The server only offers a TLS version this computer refuses"
    if isinstance(exc, errors.SecurityError):
        return ""  # popfetch's own refusals are already plain
    if isinstance(exc, errors.Desync):
        return "The server ended a reply early, against the POP3 rules"
    if isinstance(exc, errors.BodyOverrun):
        return "A message ran far past the size the server announced"
    if isinstance(exc, errors.RemoteProtocolError):
        return "The server sent something that is not POP3"
    if not isinstance(exc, errors.ConnectionLost):
        return ""
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "Nothing answers at this address and port"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "The server's name could not be found"
    if isinstance(exc, errors.ReadTimeout):
        return "The server stopped answering"
    return ""
