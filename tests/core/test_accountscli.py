"""`popfetch accounts add | list | remove` as a script meets them, on the app's accounts file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.accounts import Account, AccountBook
from core.auth.keychain import SERVICE
from core.cli import main
from tests.support.memkeyring import MemoryKeyring, installed

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def xdg(tmp_path, monkeypatch):
    for name in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{name}_HOME", str(tmp_path / name.lower()))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def memory_keyring():
    with installed(MemoryKeyring()) as backend:
        yield backend


def add(name: str = "work", *extra: str) -> int:
    return main(["accounts", "add", name, "--host", "Pop.Example.org", "--security", "tls",
                 "--user", "ann", "--maildir", "mail/work", *extra])


def test_add_lands_in_the_apps_accounts_file(capsys, tmp_path):
    assert add("work", "--password-command", "pass show mail/work") == 0
    assert "added work (ann@pop.example.org:995)" in capsys.readouterr().out
    [account] = AccountBook().load()  # what the app reads
    assert account.name == "work" and account.port == 995
    assert account.maildir == str(tmp_path / "mail" / "work")  # absolute: cron has another cwd
    assert account.password_command == "pass show mail/work"
    assert (tmp_path / "config" / "popfetch" / "accounts.json").stat().st_mode & 0o077 == 0


def test_port_cafile_and_security_are_kept(tmp_path):
    assert main(["accounts", "add", "home", "--host", "h", "--port", "1110", "--security",
                 "starttls", "--cafile", "ca.pem", "--user", "u", "--maildir", "/m",
                 "--password-command", "cat pw"]) == 0
    [account] = AccountBook().load()
    assert (account.port, account.security.value) == (1110, "starttls")
    assert account.cafile == str(tmp_path / "ca.pem")


def test_list_shows_every_account_and_where_its_password_comes_from(capsys, memory_keyring):
    add("work", "--password-command", "cat pw")
    AccountBook().add(Account(host="app.example", port=995, security="tls", user="bob",
                              maildir="/m"))  # added in the app: no name
    capsys.readouterr()
    assert main(["accounts", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t")[:3] == ["work", "ann@pop.example.org:995", "tls"]
    assert lines[0].endswith("password: command")
    assert lines[1].startswith("-\tbob@app.example:995") and lines[1].endswith("keychain")


def test_a_name_or_server_account_used_twice_is_refused(capsys):
    assert add("work", "--password-command", "x") == 0
    assert add("work", "--password-command", "x", "--port", "1") == 2
    assert "called 'work' exists already" in capsys.readouterr().err
    assert add("other", "--password-command", "x") == 2
    assert "is already the account 'work'" in capsys.readouterr().err
    assert len(AccountBook().load()) == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [(("--port", "70000"), "port out of range"), (("--user", "a\rb"), "control characters")],
)
def test_bad_settings_are_usage_errors(capsys, extra, message):
    assert add("bad", "--password-command", "x", *extra) == 2
    assert message in capsys.readouterr().err
    assert AccountBook().load() == []


def test_without_a_terminal_or_password_command_nothing_is_added(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest
    assert add("work") == 2
    assert "give --password-command CMD" in capsys.readouterr().err
    assert AccountBook().load() == []


def test_remove_forgets_the_account_and_its_password_but_not_its_mail(capsys, memory_keyring):
    assert add("work", "--password-command", "x") == 0
    home = Account(name="home", host="h", port=110, security="none", user="u", maildir="/m")
    AccountBook().add(home)
    memory_keyring.passwords[(SERVICE, home.key)] = "secret"
    capsys.readouterr()
    assert main(["accounts", "remove", "home"]) == 0
    assert "its mail stays in /m" in capsys.readouterr().out
    assert [a.name for a in AccountBook().load()] == ["work"]
    assert memory_keyring.passwords == {}
    assert main(["accounts", "remove", "home"]) == 2
    assert "no account 'home'; accounts: work" in capsys.readouterr().err


def test_the_console_script_runs_accounts_headless_without_qt(tmp_path):
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "c")}
    code = ("import sys; from gui.main import main; rc = main(sys.argv[1:]); "
            "assert not any(m.startswith('PySide6') for m in sys.modules), 'Qt imported'; "
            "sys.exit(rc)")
    listed = subprocess.run([sys.executable, "-c", code, "accounts", "list"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    wrong = subprocess.run([sys.executable, "-c", code, "accounts", "frobnicate"], cwd=ROOT,
                           env=env, capture_output=True, text=True, timeout=60)
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr


def test_the_file_never_holds_a_password(memory_keyring, tmp_path):
    add("work", "--password-command", "echo hunter2")
    doc = json.loads((tmp_path / "config" / "popfetch" / "accounts.json").read_text())
    assert set(doc["accounts"][0]) >= {"name", "host", "password_command"}
    assert "password" not in doc["accounts"][0]
