"""AUTHORIZATION state commands: USER/PASS, APOP, AUTH (SASL), STLS, and the login itself.

Login checks credentials first, then takes the maildrop lock, so a wrong password never
reveals that someone else is logged in; [IN-USE] and [LOGIN-DELAY] are RFC 2449/3206 codes
a client uses to decide to wait and retry rather than ask the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.demoserver import auth
from core.demoserver.conn import TRANSACTION, Conn, Handler
from core.demoserver.mailbox import Maildrop


def login(session: Conn, user: str | None) -> None:
    """Credentials were checked (``user`` None: wrong): lock the maildrop, enter TRANSACTION."""
    shared = session.shared
    if user is None:
        session.err("Authentication failed", "AUTH")
        return
    now = time.monotonic()
    with shared.record_lock:
        last = shared.last_login.get(user)
    if shared.login_delay and last is not None and now - last < shared.login_delay:
        session.err(f"Wait {shared.login_delay} seconds between logins", "LOGIN-DELAY")
        return
    if not shared.locks.acquire(shared.lock_key, session):
        session.err("Maildrop is locked by another session", "IN-USE")
        return
    session.locked = True
    shared.warmed.wait()
    try:
        session.drop = Maildrop(shared.maildir, shared.cache, shared.uidls)
    except OSError:
        shared.locks.release(shared.lock_key, session)
        session.locked = False
        session.err("Cannot open the maildrop", "SYS/TEMP")
        return
    with shared.record_lock:
        shared.last_login[user] = now
    session.state = TRANSACTION
    count, size = session.drop.stat()
    session.ok(f"Logged in, {count} messages ({size} octets)")


def _plaintext_refused(session: Conn) -> bool:
    if session.shared.allow_plaintext or session.secure:
        return False
    session.err("Plaintext authentication disallowed on non-secure connections", "AUTH")
    return True


def user(session: Conn, args: list[str], rest: str) -> None:
    if _plaintext_refused(session):
        return
    if len(args) != 1:
        session.err("USER takes one argument")
        return
    session.user = args[0]
    session.ok()


def pass_(session: Conn, args: list[str], rest: str) -> None:
    """PASS takes the rest of the line: a password may contain spaces."""
    if _plaintext_refused(session):
        return
    if session.user is None:
        session.err("No user name given")
        return
    name, session.user = session.user, None
    ok = auth.check_password(session.shared.users, name, rest)
    login(session, name if ok else None)


def apop(session: Conn, args: list[str], rest: str) -> None:
    if not session.shared.apop:
        session.err("APOP not available")
        return
    if len(args) != 2:
        session.err("APOP takes a name and a digest")
        return
    ok = auth.check_apop(session.shared.users, args[0], session.timestamp, args[1])
    login(session, args[0] if ok else None)


def sasl(session: Conn, args: list[str], rest: str) -> None:
    """AUTH (RFC 5034), with an optional initial response ("=" for an empty one)."""
    plaintext = session.shared.allow_plaintext or session.secure
    if not args:
        names = b"".join(m.encode() + b"\r\n" for m in auth.mechanisms(plaintext))
        session.multiline("Mechanisms", names)
        return
    mech = args[0].upper()
    if len(args) > 2:
        session.err("Noise after initial response")
        return
    if mech not in auth.MECHANISMS:
        session.err("Unsupported mechanism")
        return
    if mech in auth.PLAINTEXT_MECHANISMS and _plaintext_refused(session):
        return
    initial = args[1] if len(args) == 2 else None
    if mech == "PLAIN":
        _step(session, initial, "", lambda data: _plain(session, data))
    elif mech == "LOGIN":
        _step(session, initial, auth.b64encode(b"Username:"), lambda data: _login(session, data))
    else:
        challenge = auth.make_timestamp()

        def cram(data: bytes) -> None:
            login(session, auth.check_cram_md5(session.shared.users, challenge, data))

        _step(session, None, auth.b64encode(challenge.encode()), cram)


def _step(
    session: Conn, initial: str | None, prompt: str, then: Callable[[bytes], None]
) -> None:
    """Run ``then`` on the decoded client data: the initial response, or the next line."""

    def received(line: str) -> None:
        if line == "*":
            session.err("Authentication cancelled")
            return
        try:
            then(b"" if line == "=" else auth.b64decode(line))
        except auth.Malformed as exc:
            session.err(str(exc), "AUTH")

    if initial is not None:
        received(initial)
    else:
        session.write(b"+ " + prompt.encode() + b"\r\n")
        session.continuation = received


def _plain(session: Conn, data: bytes) -> None:
    name, password = auth.parse_plain(data)
    login(session, name if auth.check_password(session.shared.users, name, password) else None)


def _login(session: Conn, data: bytes) -> None:
    name = data.decode("utf-8", "replace")

    def password(secret: bytes) -> None:
        ok = auth.check_password(session.shared.users, name, secret.decode("utf-8", "replace"))
        login(session, name if ok else None)

    _step(session, None, auth.b64encode(b"Password:"), password)


def stls(session: Conn, args: list[str], rest: str) -> None:
    if session.shared.tls is None:
        session.err("STLS not available")
        return
    if session.secure:
        session.err("Already secure")
        return
    session.ok("Begin TLS negotiation now")
    session.flush()
    session.start_tls()


HANDLERS: dict[str, Handler] = {
    "USER": user,
    "PASS": pass_,
    "APOP": apop,
    "AUTH": sasl,
    "STLS": stls,
}
