"""A token helper for ``--oauth-token-command`` tests: prints the next token of a list."""

from __future__ import annotations

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
