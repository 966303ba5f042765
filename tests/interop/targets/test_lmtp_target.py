"""The LMTP target against Dovecot's LMTP (dovecot-lmtpd), over TCP and a Unix socket."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import PermanentDeliveryError
from core.store.journal import Delivery, journal_for
from core.store.targets import Message, Receipt, open_target, parse_deliver
from tests.support.dovecot import Dovecot, User, make_messages

pytestmark = pytest.mark.interop


def _body(stored: bytes) -> bytes:
    """Dovecot's LMTP puts Return-Path, Delivered-To and Received on top: cut them off."""
    lines = stored.splitlines(keepends=True)
    start = 0
    while start < len(lines) and (
        lines[start].startswith((b"Return-Path:", b"Delivered-To:", b"Received:"))
        or lines[start][:1] in (b" ", b"\t")
    ):
        start += 1
    return b"".join(lines[start:])


@pytest.mark.parametrize("via", ["tcp", "socket"])
def test_dovecot_lmtp(
    dovecot_targets: Dovecot, target_user: User, tmp_path: Path, via: str
) -> None:
    tcp = f"127.0.0.1:{dovecot_targets.lmtp_port}"
    address = tcp if via == "tcp" else str(dovecot_targets.lmtp_socket)
    messages = make_messages(6, tag="lmtp")  # with ".", ".." and "." lines to stuff
    messages.append(b"Subject: no final newline\n\n.last")
    target = open_target(parse_deliver(f"lmtp:{address}"), recipients=[target_user.name])
    delivery = Delivery(target, journal_for(tmp_path))
    outcomes = delivery.deliver_many([(f"u{i}", Message(data=m)) for i, m in enumerate(messages)])
    delivery.close()
    assert all(isinstance(o, Receipt) for o in outcomes), outcomes
    assert f"<{target_user.name}> 250" in str(outcomes[0])
    stored = sorted(_body(b) for b in dovecot_targets.contents(target_user.name))
    assert stored == sorted(m if m.endswith(b"\n") else m + b"\n" for m in messages)


def test_an_unknown_recipient_is_permanent_and_nothing_is_delivered(
    dovecot_targets: Dovecot, target_user: User
) -> None:
    target = open_target(
        parse_deliver(f"lmtp:127.0.0.1:{dovecot_targets.lmtp_port}"),
        recipients=[target_user.name, "no-such-user"],
    )
    with target:
        [outcome] = target.deliver_many([Message(data=b"Subject: x\n\ny\n")], [""])
    assert isinstance(outcome, PermanentDeliveryError) and "550" in str(outcome)
    assert dovecot_targets.files(target_user.name) == []
