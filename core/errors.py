"""The exceptions of the engine, grouped by what the caller should do about them.

The engine decides between *retry* (the link or the server had a passing problem),
*stop and ask the user* (credentials, certificate, permanent refusal) and
*this message is broken* (a size that does not match, a server that overruns).
Each class says which, so no caller has to parse response texts.
"""

from __future__ import annotations

from dataclasses import dataclass


class PopError(Exception):
    """Base of every error popfetch raises on purpose."""

    retryable: bool = False


class LocalProtocolError(PopError):
    """We tried to do something the protocol state does not allow (a bug in the caller)."""


class RemoteProtocolError(PopError, ConnectionError):
    """The server sent something that is not POP3: the connection is desynced and must close."""

    retryable = True


class BodyOverrun(RemoteProtocolError):
    """A message body ran past its LIST size by more than the margin: stop reading it."""


class Desync(RemoteProtocolError):
    """Bytes after a multi-line reply's terminator are not a status line: the server ended
    that reply early (an unstuffed "." line, say), so the copy just read is suspect
    (DESIGN rule 13). Drop the connection; the next session starts clean."""


class ConnectionLost(PopError, ConnectionError):
    """The TCP/TLS link broke (reset, EOF, timeout). Nothing is deleted; reconnect."""

    retryable = True


class ReadTimeout(ConnectionLost, TimeoutError):
    """No byte arrived within the read timeout: a dead link is treated as a drop."""


class ServerError(PopError):
    """A -ERR reply. ``code`` is the RFC 2449 response code (``IN-USE``, ``SYS/TEMP`` ...)."""

    def __init__(self, command: str, text: str, code: str | None = None) -> None:
        self.command = command
        self.text = text
        self.code = code
        shown = f"[{code}] " if code else ""
        super().__init__(f"{command}: -ERR {shown}{text}".strip())

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.code in {"IN-USE", "LOGIN-DELAY", "SYS/TEMP"}


class AuthenticationError(ServerError):
    """Wrong credentials or ``[AUTH]``: never retried, the user must act."""

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return False


class SignInRequired(AuthenticationError):
    """An OAuth grant that no longer works: a token the server refused after one refresh, a
    revoked or expired refresh token, or no sign-in at all. Only signing in again helps, so
    it is never retried (no login loop); ``str()`` is the one line a user reads."""

    def __init__(self, reason: str) -> None:
        super().__init__("AUTH", reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.reason}: sign in again"


class OAuthError(PopError):
    """The sign-in itself failed: the user declined, the browser never came back, the
    provider answered with an error or something that is not OAuth."""


class LoginDelay(ServerError):
    """``[LOGIN-DELAY]``: the server refuses logins for ``delay`` seconds after the last one."""

    def __init__(self, command: str, text: str, delay: float) -> None:
        super().__init__(command, text, "LOGIN-DELAY")
        self.delay = delay


class OffsetOverrun(ServerError):
    """``-ERR [OFFSET-OVERRUN]``: the resume offset lies past the message's end."""


class NoSuchMessage(ServerError):
    """``-ERR [NON-EXISTENT]``, or the UIDL vanished: someone else deleted it."""


class Interrupted(PopError):
    """The user paused, cancelled or committed while a transfer was running (not an error)."""


class SecurityError(PopError):
    """TLS is required but unavailable, or plaintext login is not allowed."""


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What a user needs to decide whether to trust a certificate."""

    subject: str
    issuer: str
    not_before: str
    not_after: str
    sha256: str  # hex, colon separated, upper case
    error: str  # why verification failed


class CertificateError(SecurityError):
    """Verification failed; ``info`` feeds the trust dialog that may pin ``info.sha256``."""

    def __init__(self, info: CertificateInfo) -> None:
        self.info = info
        super().__init__(f"certificate not trusted: {info.error} (SHA-256 {info.sha256})")


class MessageIntegrityError(PopError):
    """A downloaded message does not match its LIST size or its stored prefix: refetch it."""

    retryable = True


class SuspectCopy(PopError):
    """Evidence that a received copy is not what the server holds (far below its LIST size,
    or followed by a desync). It is kept for the user under a clear mark and never DELE'd."""

    def __init__(self, uidl: str, reason: str) -> None:
        self.uidl = uidl
        self.reason = reason
        super().__init__(f"{uidl}: {reason}")


class StorageError(PopError):
    """The local disk refused a write (full, read-only, permissions): stop, delete nothing."""


class KeychainUnavailable(PopError):
    """No usable OS keychain (no D-Bus, no Secret Service, locked without a prompt)."""
