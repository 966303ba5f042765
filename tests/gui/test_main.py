"""gui.main: the headless subcommands never import Qt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from gui.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_help_texts_say_what_scripts_need(capsys: Any) -> None:
    assert main(["fetch", "--help"]) == 0
    out = capsys.readouterr().out
    for words in ("POPFETCH_PASSWORD", "exit status: 0 all done, 1 some messages failed, 2 usage",
                  "(default: 5)", "TLS from the start (the default)",
                  "the POP3 server's host name"):
        assert words in out, words


def test_the_demo_server_says_its_user_and_password(tmp_path: Path) -> None:
    for sub in ("tmp", "new", "cur"):
        (tmp_path / "m" / sub).mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-m", "gui", "demo-server", "--port", "0",
                             "--maildir", str(tmp_path / "m"), "--password", "s3cret"],
                            cwd=str(ROOT), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(10)
    assert "user 'demo'" in banner and "password 's3cret'" in banner, banner


def test_headless_subcommands_do_not_import_qt() -> None:
    code = ("import sys; from gui.main import main; rc = main(['fetch', '--help']); "
            "print('qt' if any(m.startswith('PySide6') for m in sys.modules) else 'no-qt', rc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=str(Path(__file__).parents[2]))
    assert out.stdout.strip().endswith("no-qt 0"), out.stdout + out.stderr
