"""Access tokens from a user's token helper (``--oauth-token-command``): mutt_oauth2.py,
oama, pizauth and the like print a current access token and refresh it themselves.

The command's first output line is the token. It runs when a login first needs a token and
once more after the server refused one (a helper may refresh then); the retry rule itself
is :func:`core.auth.sasl.bearer_login`. The token stays in memory; the command line is the
user's own and carries no secret of ours.
"""

from __future__ import annotations

import shlex
import subprocess

from core.errors import OAuthError

__all__ = ["CommandTokens"]

TIMEOUT = 120.0  # a helper may open a browser to sign in first


class CommandTokens:
    """A :class:`core.auth.sasl.TokenSource` backed by a shell-free command line."""

    def __init__(self, command: str) -> None:
        self._argv = shlex.split(command)
        if not self._argv:
            raise OAuthError("--oauth-token-command is empty")
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = self._run()
        return self._token

    def renew(self) -> str:
        self._token = self._run()
        return self._token

    def _run(self) -> str:
        try:
            done = subprocess.run(
                self._argv, capture_output=True, text=True, timeout=TIMEOUT, check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise OAuthError(f"--oauth-token-command could not run: {exc}") from None
        if done.returncode != 0:
            raise OAuthError(f"--oauth-token-command failed (exit status {done.returncode})")
        lines = done.stdout.splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise OAuthError("--oauth-token-command printed no access token")
        return token
