"""Where a password comes from when nobody types it: a command, or the keychain.

One definition for the command line and the app: ``popfetch fetch --password-command`` /
``--deliver-password-command``, an account's ``password_command`` (``popfetch accounts
add --password-command``), and the keychain entry of an IMAP delivery target. Blocking
(a subprocess, D-Bus): the app calls these on worker threads only.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import TYPE_CHECKING

from core.errors import KeychainUnavailable, PasswordUnavailable
from core.text import sanitize

if TYPE_CHECKING:
    from core.store.targets import ImapSpec

__all__ = ["COMMAND_TIMEOUT", "from_command", "keychain_key", "stored", "target_key",
           "target_password"]

COMMAND_TIMEOUT = 60.0  # a password manager may wait for its own unlock prompt


def from_command(command: str, what: str = "--password-command") -> str:
    """The first line of the command's output, split at "\\n" only ("\\r\\n" tolerated): a
    password may hold any other character, even those str.splitlines breaks at. Empty
    output, a failed command, or output that is not UTF-8: PasswordUnavailable naming
    ``what`` (the option or setting the user wrote the command in)."""
    # Loaded when a command is run, not by every run that imports this module: start-up time.
    import shlex
    import subprocess

    try:
        out = subprocess.run(
            shlex.split(command), capture_output=True, timeout=COMMAND_TIMEOUT, check=True,
            stdin=subprocess.DEVNULL,
        ).stdout
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise PasswordUnavailable(f"{what} failed: {sanitize(str(exc))}") from None
    line = out.split(b"\n", 1)[0]
    line = line[:-1] if line.endswith(b"\r") else line
    if not line:
        raise PasswordUnavailable(f"{what} printed no password (its first line is empty)")
    try:
        return line.decode()
    except UnicodeDecodeError:
        raise PasswordUnavailable(f"{what} printed a password that is not UTF-8") from None


def keychain_key(user: str, host: str, port: int) -> str:
    """``USER@HOST:PORT``, the keychain's user name for a server; an IPv6 literal is
    bracketed (``user@[::1]:993``) so the port stays unambiguous."""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    return f"{user}@{host}:{port}"


def stored(key: str) -> str | None:
    """The keychain's password for ``key``; None when there is none or no keychain."""
    try:
        from core.auth.keychain import Keychain

        return Keychain().get(key)
    except KeychainUnavailable:
        return None


def target_key(spec: ImapSpec) -> str:
    """The keychain user an IMAP target's password is saved under: USER@HOST:PORT of the
    IMAP server, as the URL spells them (the app, ``accounts add`` and ``fetch`` agree)."""
    return keychain_key(spec.user, spec.host, spec.port)


def target_password(spec: ImapSpec, command: str | None = None) -> str:
    """An IMAP delivery target's password: ``command`` (``--deliver-password-command``)
    if given, else the keychain entry USER@HOST:PORT of the IMAP server (the one the
    app's account dialog saves). PasswordUnavailable names what to do otherwise."""
    if command:
        return from_command(command, "--deliver-password-command")
    key = target_key(spec)
    password = stored(key)
    if password is None:
        raise PasswordUnavailable(
            f"no password for the IMAP target {key}: enter it in the account's "
            f"Deliver to settings, or save it in the keychain (service popfetch, user {key})"
        )
    return password
