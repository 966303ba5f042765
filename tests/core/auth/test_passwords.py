"""core.auth.passwords: one password-command rule (CLI and app); the target's keychain entry."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from core.auth import passwords
from core.errors import PasswordUnavailable
from core.store.targets import ImapSpec, parse_deliver
from tests.support.memkeyring import MemoryKeyring, installed


def printing(tmp_path: Path, output: bytes, status: int = 0) -> str:
    """A command (a real subprocess) that prints ``output`` and exits with ``status``."""
    data = tmp_path / "out"
    data.write_bytes(output)
    script = tmp_path / "print.py"
    script.write_text(
        "import sys\n"
        f"sys.stdout.buffer.write(open({str(data)!r}, 'rb').read())\n"
        f"sys.exit({status})\n"
    )
    return f"{sys.executable} {script}"


@pytest.mark.parametrize(
    ("output", "password"),
    [
        (b"s3cret\nsecond line\n", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"no newline", "no newline"),
        # str.splitlines would cut at VT, FS and U+2028: a password may hold them
        ("a\x0bb\x1cc\u2028d\n".encode(), "a\x0bb\x1cc\u2028d"),
        (b" spaces kept \n", " spaces kept "),
    ],
)
def test_the_first_line_split_at_newline_only(tmp_path: Path, output: bytes, password: str):
    assert passwords.from_command(printing(tmp_path, output)) == password


@pytest.mark.parametrize(
    ("output", "status", "words"),
    [
        (b"", 0, "printed no password"),
        (b"\nlater\n", 0, "printed no password"),
        (b"\xff\xfe\n", 0, "not UTF-8"),
        (b"s3cret\n", 1, "failed"),
    ],
)
def test_a_command_without_a_password_is_an_error_naming_the_setting(
    tmp_path: Path, output: bytes, status: int, words: str
):
    with pytest.raises(PasswordUnavailable) as caught:
        passwords.from_command(printing(tmp_path, output, status), "password_command")
    assert words in str(caught.value)
    assert str(caught.value).startswith("password_command ")
    assert "s3cret" not in str(caught.value)


def test_a_missing_program_is_an_error(tmp_path: Path):
    with pytest.raises(PasswordUnavailable, match="failed"):
        passwords.from_command(str(tmp_path / "no-such-program"))


def test_keychain_keys_bracket_ipv6_only():
    assert passwords.keychain_key("me", "imap.example.org", 993) == "me@imap.example.org:993"
    assert passwords.keychain_key("me", "::1", 143) == "me@[::1]:143"


def test_the_target_password_is_the_imap_servers_keychain_entry(tmp_path: Path):
    spec = parse_deliver("imaps://me@example.com@imap.example.org:1993/INBOX")
    assert isinstance(spec, ImapSpec)
    key = "me@example.com@imap.example.org:1993"
    backend = MemoryKeyring()
    with installed(backend):
        with pytest.raises(PasswordUnavailable, match=re.escape(key)):
            passwords.target_password(spec)
        backend.set_password("popfetch", key, "imap-pw")
        assert passwords.target_password(spec) == "imap-pw"
        # a command wins over the keychain
        assert passwords.target_password(
            spec, printing(tmp_path, b"from-command\n")) == "from-command"
