"""The exceptions of the engine, grouped by what the caller should do about them.

The engine decides between *retry* (the link or the server had a passing problem),
*stop and ask the user* (credentials, certificate, permanent refusal) and
*this message is broken* (a size that does not match, a server that overruns).
Each class says which, so no caller has to parse response texts.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.text import sanitize


class PopError(Exception):
    """Base of every error popfetch raises on purpose.

    ``str()`` gives plain words first and the protocol detail second (core.explain), so every
    place that shows an error (events, CLI, dialogs) says the same thing, sanitized."""

    retryable: bool = False

    def __str__(self) -> str:
        from core.explain import explain  # explain reads the classes of this module

        return explain(self)


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


class TlsGreeting(RemoteProtocolError):
    """The first octets are a TLS record, not a greeting: the port expects implicit TLS.
    Retrying cannot help; the user must change the security setting."""

    retryable = False


class ConnectionLost(PopError, ConnectionError):
    """The TCP/TLS link broke (reset, EOF, timeout). Nothing is deleted; reconnect."""

    retryable = True


class ReadTimeout(ConnectionLost, TimeoutError):
    """No byte arrived within the read timeout: a dead link is treated as a drop."""


class NoGreeting(ReadTimeout):
    """The server accepted the connection but never greeted within the read timeout: almost
    always a TLS port met in plaintext (it waits for our handshake). Not retried: waiting
    again cannot help, the security setting must change."""

    retryable = False


class ServerError(PopError):
    """A -ERR reply. ``code`` is the RFC 2449 response code (``IN-USE``, ``SYS/TEMP`` ...).

    ``text`` is the server's own words, raw; the message (``str``) has them sanitized, since
    it is what reaches terminals, logs and dialogs."""

    def __init__(self, command: str, text: str, code: str | None = None) -> None:
        self.command = command
        self.text = text
        self.code = code
        shown = f"[{code}] " if code else ""
        super().__init__(sanitize(f"{command}: -ERR {shown}{text}".strip()))

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.code in {"IN-USE", "LOGIN-DELAY", "SYS/TEMP"}


class AuthenticationError(ServerError):
    """Wrong credentials or ``[AUTH]``: never retried, the user must act."""

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return False


# Seconds: a LOGIN-DELAY or retry wait the server asks for beyond this is reported to the
# user ("try after HH:MM"), not slept through (DESIGN rule 16). Gmail's 300 s is well inside.
MAX_SERVER_WAIT = 30 * 60


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
    """``[LOGIN-DELAY]``: the server refuses logins for ``delay`` seconds after the last one.

    Retried by waiting only up to MAX_SERVER_WAIT; a longer delay stops the account."""

    def __init__(self, command: str, text: str, delay: float) -> None:
        super().__init__(command, text, "LOGIN-DELAY")
        self.delay = delay

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        return self.delay <= MAX_SERVER_WAIT


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


class StoreBusy(StorageError):
    """Another popfetch holds this account's state (its lock): wait and try again."""

    retryable = True


class KeychainUnavailable(PopError):
    """No usable OS keychain (no D-Bus, no Secret Service, locked without a prompt)."""


class PasswordUnavailable(PopError):
    """A password command failed or printed none: asking instead would hide the broken
    command, so the account stops with this message."""


class DeliveryError(PopError):
    """A delivery target (IMAP, mbox, MDA, LMTP, Maildir) did not take a message.

    ``target`` is where it was going (a URL without secrets). The message stays on the
    POP3 server either way; the subclass says whether to try again.
    """

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"{target}: {reason}")


class TemporaryDeliveryError(DeliveryError):
    """The target said "later" (LMTP 4xx, MDA exit 75, IMAP [OVERQUOTA], a dropped link):
    keep the message on the server, undeleted; the next run delivers it."""

    retryable = True


class PermanentDeliveryError(DeliveryError):
    """The target refuses this message (LMTP 5xx, MDA exit other than 0/75, NUL octets
    without BINARY): this message fails, kept on the server; the others go on."""


class TargetUnavailable(DeliveryError):
    """The target as a whole cannot be used (login refused, no such mailbox, no such
    command): stop delivering in this run and tell the user; every message stays."""
