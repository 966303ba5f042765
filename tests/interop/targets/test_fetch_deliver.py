"""``popfetch fetch --deliver URL`` end to end: Dovecot's POP3 as the source, and Dovecot's IMAP
(or an MDA) as the target, with ``--delete``: the source loses only what the target has."""

from __future__ import annotations

import mailbox
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.dovecot import Dovecot, User, make_messages

pytestmark = pytest.mark.interop

ROOT = Path(__file__).resolve().parents[3]


def fetch(
    dovecot: Dovecot, source: User, work: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """``popfetch fetch`` from ``source`` over POP3/TLS in a child process, state in work/."""
    env = dict(os.environ, POPFETCH_PASSWORD=source.password)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[var] = str(work / "xdg" / var.lower())
    cmd = [
        sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1",
        "--port", str(dovecot.pop3s_port), "--security", "tls", "--user", source.name,
        "--cafile", str(dovecot.ca_pem), "--state-dir", str(work / "state"), "--timeout", "30",
        *args,
    ]
    return subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL, check=False,
    )


def said(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"


@pytest.mark.parametrize("scheme", ["imap", "imaps"])
def test_imap_target_with_delete_empties_the_source_only_after_the_appends(
    dovecot_targets: Dovecot, target_user: User, tmp_path: Path, scheme: str
) -> None:
    source = dovecot_targets.add_user(f"source-{scheme}", "source-pw")
    messages = make_messages(40, tag=scheme)
    dovecot_targets.fill(source.name, messages)
    big = dovecot_targets.fill_file(source.name, 3_000_000).read_bytes()  # a partial, whole
    port = dovecot_targets.imaps_port if scheme == "imaps" else dovecot_targets.imap_port
    url = f"{scheme}://{target_user.name}@127.0.0.1:{port}/INBOX"
    secret = tmp_path / "imap-password"
    secret.write_text(target_user.password + "\n")
    deliver = ["--deliver", url, "--deliver-password-command", f"cat {secret}"]

    # A target that refuses the login: the run stops, and nothing leaves the source.
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    refused = fetch(dovecot_targets, source, tmp_path / "w1", "--deliver", url,
                    "--deliver-password-command", f"cat {wrong}", "--delete")
    assert refused.returncode == 2, said(refused)
    assert "login as" in refused.stderr
    assert len(dovecot_targets.files(source.name)) == len(messages) + 1
    assert dovecot_targets.files(target_user.name) == []

    done = fetch(dovecot_targets, source, tmp_path / "w2", *deliver, "--delete")
    assert done.returncode == 0, said(done)
    assert "41 messages" in done.stdout and "41 deleted" in done.stdout
    assert sorted(dovecot_targets.contents(target_user.name)) == sorted([*messages, big])
    assert dovecot_targets.files(source.name) == []

    again = fetch(dovecot_targets, source, tmp_path / "w2", *deliver, "--delete")
    assert again.returncode == 0, said(again)
    assert "0 messages" in again.stdout
    assert len(dovecot_targets.files(target_user.name)) == len(messages) + 1


# Delivers into OUT, except messages saying "later" while BUSY exists: those get exit 75.
FLAKY = (
    'm=$(cat; echo x); m=${{m%x}}; '
    'case "$m" in *later*) if [ -e {busy} ]; then echo "mailbox busy" >&2; exit 75; fi;; esac; '
    'printf %s "$m" > {out}/$(date +%s%N)'
)


def test_failing_mda_keeps_deferred_messages_and_the_next_run_delivers_them(
    dovecot_targets: Dovecot, tmp_path: Path
) -> None:
    source = dovecot_targets.add_user("source-mda", "source-pw")
    now = make_messages(6, tag="now")
    later = make_messages(3, start=100, tag="later")
    dovecot_targets.fill(source.name, [*now, *later])
    out = tmp_path / "out"
    out.mkdir()
    busy = tmp_path / "busy"
    busy.touch()
    mda = "mda:" + FLAKY.format(busy=busy, out=out)

    first = fetch(dovecot_targets, source, tmp_path, "--deliver", mda, "--delete")
    assert first.returncode == 1, said(first)  # some messages failed
    assert "mailbox busy" in first.stderr and "next run" in first.stderr
    assert sorted(p.read_bytes() for p in out.iterdir()) == sorted(now)
    assert sorted(dovecot_targets.contents(source.name)) == sorted(later)  # kept, undeleted

    busy.unlink()
    second = fetch(dovecot_targets, source, tmp_path, "--deliver", mda, "--delete")
    assert second.returncode == 0, said(second)
    assert sorted(p.read_bytes() for p in out.iterdir()) == sorted([*now, *later])
    assert dovecot_targets.files(source.name) == []


def test_mbox_target_through_the_scheduled_path(dovecot_targets: Dovecot, tmp_path: Path) -> None:
    """--max-size takes the accounts path (core.headless): --deliver reaches it as well."""
    source = dovecot_targets.add_user("source-mbox", "source-pw")
    small = make_messages(5, tag="mbox")
    dovecot_targets.fill(source.name, small)
    big = dovecot_targets.fill_file(source.name, 2_000_000)
    box = tmp_path / "box"
    done = fetch(dovecot_targets, source, tmp_path, "--deliver", f"mbox:{box}",
                 "--max-size", "1M", "--delete")
    assert done.returncode == 0, said(done)
    mbox = mailbox.mbox(str(box))
    assert sorted(mbox.get_bytes(k) for k in mbox.iterkeys()) == sorted(
        re.sub(rb"(?m)^(>*From )", rb">\1", m) for m in small
    )
    assert dovecot_targets.files(source.name) == [big]  # over the size limit: left there
