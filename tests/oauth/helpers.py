"""Shared by the OAuth tests: a token helper for ``--oauth-token-command`` (prints the next
token of a list), and the search of files for anything that looks like a token."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

_SCRIPT = """\
import sys
from pathlib import Path
tokens = Path(sys.argv[1]).read_text().split()
runs = Path(sys.argv[2])
count = len(runs.read_text().splitlines()) if runs.exists() else 0
with runs.open("a") as f:
    f.write("run\\n")
print(tokens[min(count, len(tokens) - 1)])
print("a second line that is not the token")
"""


class TokenHelper:
    """A command line that prints ``tokens`` one per run (the last one again and again) and
    counts its runs in a file; the tokens sit in a file of the test's own, not in argv."""

    def __init__(self, directory: Path, tokens: list[str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.script = directory / "helper.py"
        self.script.write_text(_SCRIPT)
        self.tokens = directory / "tokens"
        self.tokens.write_text("\n".join(tokens))
        self.runs_file = directory / "runs"

    @property
    def command(self) -> str:
        return shlex.join([sys.executable, str(self.script), str(self.tokens),
                           str(self.runs_file)])

    @property
    def runs(self) -> int:
        return len(self.runs_file.read_text().splitlines()) if self.runs_file.exists() else 0


# oidc-provider's opaque tokens: 43 random base64url characters, so upper and lower case
# and digits in one run of exactly that length (SQLite's own names have no capitals).
TOKEN_RUN = re.compile(rb"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")


def _token_like(data: bytes) -> bytes | None:
    for match in TOKEN_RUN.finditer(data):
        run = match.group()
        if re.search(rb"[A-Z]", run) and re.search(rb"[a-z]", run) and re.search(rb"[0-9]", run):
            return run
    return None


def assert_no_secret_in(paths: list[Path], secrets: list[str]) -> None:
    for top in paths:
        for path in [top] if top.is_file() else sorted(top.rglob("*")):
            if not path.is_file():
                continue
            data = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in data, f"a token is in {path}"
            assert _token_like(data) is None, f"something token-like is in {path}"
