"""Real MDAs from Debian as targets: dovecot-lda (dovecot-core) into Dovecot, and procmail
into a Maildir."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from core.errors import PermanentDeliveryError
from core.store.journal import Delivery, journal_for
from core.store.targets import Message, Receipt, open_target, parse_deliver
from tests.interop.targets.conftest import unavailable
from tests.support.dovecot import Dovecot, User, make_messages

pytestmark = pytest.mark.interop

LDA = "/usr/lib/dovecot/dovecot-lda"


def test_dovecot_lda(dovecot_targets: Dovecot, target_user: User, tmp_path: Path) -> None:
    if not os.access(LDA, os.X_OK):
        unavailable("dovecot-lda is not installed (apt-get install dovecot-core)")
    messages = make_messages(5, tag="lda")
    config = dovecot_targets.config_path
    target = open_target(parse_deliver(f"mda:{LDA} -c {config} -d {target_user.name} -e"))
    delivery = Delivery(target, journal_for(tmp_path))
    outcomes = delivery.deliver_many([(f"u{i}", Message(data=m)) for i, m in enumerate(messages)])
    delivery.close()
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert sorted(dovecot_targets.contents(target_user.name)) == sorted(messages)

    nobody = open_target(parse_deliver(f"mda:{LDA} -c {config} -d no-such-user -e"))
    [refused] = nobody.deliver_many([Message(data=messages[0])], [""])
    assert isinstance(refused, PermanentDeliveryError) and "exit 67" in str(refused)


def test_procmail(tmp_path: Path) -> None:
    procmail = shutil.which("procmail")
    if procmail is None:
        unavailable("procmail is not installed (apt-get install procmail)")
    maildir = tmp_path / "Maildir"
    rc = tmp_path / "procmailrc"
    rc.write_text(f"MAILDIR={tmp_path}\nDEFAULT={maildir}/\n")
    messages = make_messages(5, tag="procmail")
    target = open_target(parse_deliver(f"mda:{procmail} -m {rc}"))
    delivery = Delivery(target, journal_for(tmp_path / "state"))
    outcomes = delivery.deliver_many([(f"u{i}", Message(data=m)) for i, m in enumerate(messages)])
    delivery.close()
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert sorted(p.read_bytes() for p in (maildir / "new").iterdir()) == sorted(messages)
