"""The MDA target with small shell commands: exit 0, 75 (kept, delivered by the next run),
other statuses with their stderr, a hang killed after the timeout, a command that cannot run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import PermanentDeliveryError, TargetUnavailable, TemporaryDeliveryError
from core.store.journal import Delivery, journal_for
from core.store.mda import MdaTarget
from core.store.targets import Message, Receipt

# Delivers stdin into OUT/<n>, except messages saying "later" while OUT/../busy exists.
FLAKY = (
    'm=$(cat; echo x); m=${{m%x}}; '
    'case "$m" in *later*) if [ -e {dir}/busy ]; then '
    'echo "busy, try later" >&2; exit 75; fi;; esac; '
    'printf %s "$m" > {dir}/out/$(date +%s%N)'
)


def test_exit_75_keeps_the_message_and_the_next_run_delivers_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "busy").touch()
    datas = [b"Subject: now %d\n\n.\nFrom x\n" % i for i in range(3)]
    datas += [b"Subject: later %d\n\nbody\n" % i for i in range(2)]
    items = [(f"u{i}", Message(data=d)) for i, d in enumerate(datas)]
    command = FLAKY.format(dir=tmp_path)

    first = Delivery(MdaTarget(command, timeout=30), journal_for(tmp_path / "state"))
    outcomes = first.deliver_many(items)
    first.close()
    assert [type(o) for o in outcomes] == [Receipt] * 3 + [TemporaryDeliveryError] * 2
    assert "busy, try later" in str(outcomes[3])
    assert len(list((tmp_path / "out").iterdir())) == 3

    (tmp_path / "busy").unlink()
    second = Delivery(MdaTarget(command, timeout=30), journal_for(tmp_path / "state"))
    assert all(isinstance(o, Receipt) for o in second.deliver_many(items))
    second.close()
    delivered = sorted(p.read_bytes() for p in (tmp_path / "out").iterdir())
    assert delivered == sorted(datas)  # each once: the first three were not run again


def test_other_status_fails_that_message_with_its_stderr_sanitized_and_cut(tmp_path: Path) -> None:
    command = (
        "cat >/dev/null; printf 'bad \\033[31m thing\\n' >&2; "
        "head -c 20000 /dev/zero | tr '\\0' y >&2; exit 3"
    )
    target = MdaTarget(command, timeout=30)
    [outcome] = target.deliver_many([Message(data=b"Subject: x\n\ny\n")], [""])
    assert isinstance(outcome, PermanentDeliveryError)
    assert "exit 3" in str(outcome)
    assert "\033" not in str(outcome) and len(outcome.reason) < 400


def test_a_hanging_command_is_killed_after_the_timeout(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    target = MdaTarget(f"echo $$ > {pidfile}; exec sleep 120", timeout=0.5)
    [outcome] = target.deliver_many([Message(data=b"Subject: x\n\ny\n")], [""])
    assert isinstance(outcome, TemporaryDeliveryError) and "killed" in str(outcome)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pidfile.read_text()), 0)


def test_a_command_that_cannot_run_stops_the_target(tmp_path: Path) -> None:
    target = MdaTarget(str(tmp_path / "no-such-mda"), timeout=30)
    with pytest.raises(TargetUnavailable, match="exit 127"):
        target.deliver_many([Message(data=b"Subject: x\n\ny\n")], [""])


def test_a_large_message_from_a_file_reaches_the_command_whole(tmp_path: Path) -> None:
    source = tmp_path / "big"
    source.write_bytes(b"Subject: big\n\n" + b"0123456789abcdef\n" * 400_000)  # 6.8 MB
    out = tmp_path / "out"
    [outcome] = MdaTarget(f"cat > {out}", timeout=60).deliver_many([Message(path=source)], [""])
    assert outcome == Receipt(f"mda:cat > {out}", "exit 0")
    assert out.read_bytes() == source.read_bytes()
