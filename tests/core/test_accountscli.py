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


def test_deliver_to_an_mbox_is_kept_listed_and_where_fetch_account_delivers(
        capsys, tmp_path, monkeypatch):
    import mailbox

    from core.demoserver import DemoServer
    from tests.support.mail import write_message

    src = tmp_path / "src"
    for sub in ("tmp", "new", "cur"):
        (src / sub).mkdir(parents=True)
    write_message(src, b"Subject: into the mbox\n\nhello\n")
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with DemoServer(src, users={"ann": "pop-pw"}) as server:
        host, port = server.address
        assert main(["accounts", "add", "work", "--host", host, "--port", str(port),
                     "--security", "none", "--allow-plaintext", "--user", "ann",
                     "--password-command", "echo pop-pw", "--deliver", "mbox:~/box"]) == 0
        box = tmp_path / "home" / "box"
        [account] = AccountBook().load()
        assert account.deliver == f"mbox:{box}"  # absolute: cron has another cwd and home
        capsys.readouterr()
        assert main(["accounts", "list"]) == 0
        assert capsys.readouterr().out.split("\t")[3] == f"mbox:{box}"
        assert main(["fetch", "--account", "work", "-q"]) == 0
    assert [m["Subject"] for m in mailbox.mbox(str(box))] == ["into the mbox"]


@pytest.mark.parametrize("url", ["mda:/usr/bin/procmail -d ann", "lmtp:127.0.0.1:24",
                                 "lmtp:/run/dovecot/lmtp"])
def test_deliver_urls_are_kept_as_given(capsys, url):
    assert add("work", "--password-command", "x", "--deliver", url) == 2  # with --maildir
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["accounts", "add", "work", "--host", "h", "--security", "tls", "--user", "u",
                 "--password-command", "x", "--deliver", url]) == 0
    [account] = AccountBook().load()
    assert account.deliver == url and account.target() is not None
    capsys.readouterr()
    main(["accounts", "list"])
    assert capsys.readouterr().out.split("\t")[3] == url


def test_deliver_maildir_is_the_maildir(tmp_path):
    assert main(["accounts", "add", "work", "--host", "h", "--security", "tls", "--user", "u",
                 "--password-command", "x", "--deliver", "maildir:mail/w"]) == 0
    [account] = AccountBook().load()
    assert (account.deliver, account.maildir) == (None, str(tmp_path / "mail" / "w"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [(("--deliver", "pigeon:home"), "unknown kind 'pigeon'"),
     (("--deliver", "imap://imap.example.org/INBOX"), "the user is missing"),
     (("--deliver", "imaps://me:pw@imap.example.org/INBOX"), "no password or options in the URL"),
     (("--deliver", "lmtp:localhost"), "a port is required"),
     (("--deliver", "mbox:/m", "--deliver-password-command", "echo x"),
      "--deliver-password-command is for imap:// and imaps:// targets")],
)
def test_a_bad_deliver_url_is_a_usage_error(capsys, memory_keyring, extra, message):
    assert main(["accounts", "add", "work", "--host", "h", "--security", "tls", "--user", "u",
                 "--password-command", "x", *extra]) == 2
    assert message in capsys.readouterr().err
    assert AccountBook().load() == [] and memory_keyring.passwords == {}


IMAP = "imaps://me@example.com@Imap.Example.org/Archive/POP"


def imap_add(*extra: str) -> int:
    return main(["accounts", "add", "work", "--host", "pop.example.org", "--security", "tls",
                 "--user", "ann", "--deliver", IMAP, *extra])


def test_an_imap_targets_password_command_saves_it_under_the_imap_server(
        capsys, memory_keyring, tmp_path):
    assert imap_add("--password-command", "cat pop-pw",
                    "--deliver-password-command", "printf 'imap pw\\nsecond line'") == 0
    # where fetch --deliver and the app look: USER@HOST:PORT as the URL spells them
    assert memory_keyring.passwords == {(SERVICE, "me@example.com@Imap.Example.org:993"): "imap pw"}
    [account] = AccountBook().load()
    assert account.deliver == IMAP and account.password_command == "cat pop-pw"
    accounts = (tmp_path / "config" / "popfetch" / "accounts.json").read_text()
    assert "imap pw" not in accounts and json.loads(accounts)["accounts"][0]["deliver"] == IMAP


def test_both_passwords_are_asked_before_any_is_saved(capsys, memory_keyring, monkeypatch):
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - closed by pytest
    # the IMAP one from its command, the account's own cannot be asked: nothing is kept
    assert imap_add("--deliver-password-command", "echo imap") == 2
    assert "give --password-command CMD" in capsys.readouterr().err
    assert imap_add("--password-command", "x") == 2
    assert "or give --deliver-password-command CMD" in capsys.readouterr().err
    assert imap_add("--password-command", "x", "--deliver-password-command", "false") == 2
    assert "--deliver-password-command" in capsys.readouterr().err
    assert AccountBook().load() == [] and memory_keyring.passwords == {}
