"""The IMAP delivery target: APPEND each message to a mailbox (RFC 3501, no imaplib).

Why our own client: imaplib gathers whole responses in memory, cannot stream a literal
from a file, knows neither LITERAL+ nor BINARY, and hides the APPENDUID code.

- :class:`~core.store.imapreader.ImapReader` is sans-IO: feed it bytes in chunks of any
  size, take whole responses out (a response is its lines plus the literals between
  them). Lines and literals are capped.
- :class:`~core.store.imapclient.ImapSession` drives one connection: greeting, STARTTLS
  (required for ``imap://``) or implicit TLS, certificates verified by :mod:`core.net`
  (system store or ``--cafile``), AUTHENTICATE PLAIN (SASL-IR where offered) or LOGIN,
  then APPENDs.
- :class:`ImapTarget` keeps one session per run and reconnects after a drop; a message
  whose APPEND went out whole but whose answer was lost is looked for
  (:meth:`ImapTarget.find`) before it is appended again; one cut short is appended again
  at once (the server cannot have committed it).

APPEND details (RFC 3501 6.3.11; RFC 7888 LITERAL+/LITERAL-; RFC 3516 BINARY; RFC 4315
UIDPLUS): no flag list, so the message arrives unread; INTERNALDATE from the Date header
(else the first Received); non-synchronizing literals where offered (LITERAL- only up to
4096 octets), so appends are pipelined without a round trip each; a message with NUL
octets goes as a ``~{n}`` literal where BINARY is offered and is undeliverable otherwise
(a plain literal cannot carry NUL: Dovecot stores it as 0x80). Where MULTIAPPEND (RFC
3502) is offered, messages go in groups, one transaction each (into Dovecot about 30
times faster than one APPEND per message); a refused group is retried one by one, so
only the message at fault fails.

The hint journalled before delivery is ``"UIDVALIDITY UIDNEXT"``: a lower bound of the UID
the message gets. After a crash, :meth:`ImapTarget.find` searches only UIDs from that bound
on (by Message-ID where there is one), then checks RFC822.SIZE and the exact header block,
so an older copy of the same message never counts as this delivery.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence

from core.errors import (
    CertificateError,
    ConnectionLost,
    PermanentDeliveryError,
    SecurityError,
    TargetUnavailable,
    TemporaryDeliveryError,
)
from core.net import TlsPolicy
from core.store.imapclient import ImapSession, astring
from core.store.imapreader import Response
from core.store.targets import ImapSpec, Message, MessageFacts, Outcome, Receipt, Target, shown

__all__ = ["ImapTarget"]

WINDOW_MESSAGES = 64  # APPENDs sent before their answers are read
WINDOW_OCTETS = 4 << 20
RECONNECTS = 3
SETTLE = 2.0  # at most this long after a drop for an APPEND sent whole to show up
SETTLE_POLL = 0.1
# Codes after which the same APPEND may well succeed later (RFC 5530).
_TEMPORARY_CODES = {"UNAVAILABLE", "INUSE", "OVERQUOTA", "SERVERBUG", "LIMIT"}


def _windows(indices: list[int], facts: dict[int, MessageFacts]) -> Iterator[list[int]]:
    """Consecutive groups of at most WINDOW_MESSAGES messages and WINDOW_OCTETS octets
    (a single larger message is a group of its own)."""
    group: list[int] = []
    octets = 0
    for i in indices:
        size = facts[i].crlf_size
        if group and (len(group) >= WINDOW_MESSAGES or octets + size > WINDOW_OCTETS):
            yield group
            group, octets = [], 0
        group.append(i)
        octets += size
    if group:
        yield group


def _uid_set(text: str) -> list[int]:
    """``"4,7:9"`` -> [4, 7, 8, 9]; [] if it is not a plain uid-set."""
    uids: list[int] = []
    try:
        for part in text.split(","):
            low, _, high = part.partition(":")
            first, last = int(low), int(high or low)
            step = 1 if last >= first else -1
            uids.extend(range(first, last + step, step))
    except ValueError:
        return []
    return uids


# -- the target --------------------------------------------------------------------------------


class ImapTarget(Target):
    """APPEND to one mailbox over one connection per run; see the module docstring."""

    can_look = True

    def __init__(
        self,
        spec: ImapSpec,
        *,
        password: Callable[[], str],
        tls: TlsPolicy,
        timeout: float = 60.0,
        reconnect_delay: float = 2.0,
        settle: float = SETTLE,
        settled: Callable[[], None] | None = None,
    ) -> None:
        self.spec = spec
        self.url = spec.url
        self._ask_password = password
        self._password: str | None = None
        self.tls = tls
        self.timeout = timeout
        self.reconnect_delay = reconnect_delay
        # After a drop: how long a message whose APPEND went out whole may take to show up
        # (see _look_for), unless ``settled`` says when the server is done with the broken
        # session (the tests read Dovecot's log for it).
        self.settle = settle
        self._settled = settled
        self._session: ImapSession | None = None
        self._uidvalidity = 0
        self._uidnext = 1
        self.connections = 0  # sessions opened (one per run unless the link drops)

    def _secret(self) -> str:
        if self._password is None:
            self._password = self._ask_password()
        return self._password

    def _connected(self) -> ImapSession:
        """The session, opened (with up to RECONNECTS retries after a broken link)."""
        if self._session is not None:
            return self._session
        delay = self.reconnect_delay
        for attempt in range(RECONNECTS + 1):
            session = ImapSession(self.spec, self._secret, self.tls, self.timeout)
            try:
                self._open(session)
            except ConnectionLost as exc:
                if attempt == RECONNECTS:
                    raise TargetUnavailable(self.url, f"cannot reach the server: {exc}") from exc
                time.sleep(delay)
                delay *= 2
                continue
            self._session = session
            self.connections += 1
            return session
        raise AssertionError("unreachable")

    def _open(self, session: ImapSession) -> None:
        """Log in and read the mailbox's UIDVALIDITY and UIDNEXT; aborted on any error."""
        try:
            session.open()
            self._uidvalidity, self._uidnext = session.status()
        except SecurityError as exc:
            # The IMAP server's TLS, not the POP3 server's: the app must not offer to pin
            # this certificate for the POP3 account.
            session.abort()
            why = (f"its certificate is not trusted: {exc.info.error} (SHA-256 "
                   f"{exc.info.sha256})" if isinstance(exc, CertificateError)
                   else Exception.__str__(exc))
            raise TargetUnavailable(self.url, why) from exc
        except BaseException:
            session.abort()
            raise

    def check(self) -> str:
        """The app's "Test connection": log in and look at the mailbox, once, no retries,
        then LOGOUT. What was found, in words; TargetUnavailable or ConnectionLost else."""
        session = ImapSession(self.spec, self._secret, self.tls, self.timeout)
        self._open(session)
        secure = "STARTTLS" if not self.spec.implicit_tls else "TLS"
        session.logout()
        return (f"Logged in to {self.spec.host} as {self.spec.user} ({secure}); the mailbox "
                f"{self.spec.mailbox!r} is there (next UID {self._uidnext}).")

    def _drop(self) -> None:
        if self._session is not None:
            self._session.abort()
            self._session = None

    def prepare(self, messages: Sequence[Message]) -> list[str]:
        self._connected()
        hint = f"{self._uidvalidity} {self._uidnext}"
        return [hint for _ in messages]

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        """APPEND each message; after a drop, reconnect, look for the messages whose APPEND
        went out whole but whose answer was lost, and append only those not found."""
        outcomes: list[Outcome | None] = [None] * len(messages)
        sent: set[int] = set()  # an APPEND went out whole (final CRLF written); answer unknown
        lost: ConnectionLost | None = None
        for attempt in range(RECONNECTS + 1):
            try:
                if sent:
                    self._look_for(messages, hints, sorted(sent), outcomes)
                    sent.clear()
                todo = [i for i in range(len(messages)) if outcomes[i] is None]
                self._append_all(messages, todo, outcomes, sent)
                break
            except ConnectionLost as exc:
                lost = exc
                self._drop()
                sent = {i for i in sent if outcomes[i] is None}
                if attempt == RECONNECTS:
                    for i, outcome in enumerate(outcomes):
                        if outcome is None:
                            outcomes[i] = TemporaryDeliveryError(
                                self.url, f"connection lost: {lost}"
                            )
        return [o for o in outcomes if o is not None]

    def _look_for(self, messages: Sequence[Message], hints: Sequence[str],
                  indices: list[int], outcomes: list[Outcome | None]) -> None:
        """Find the messages whose APPEND went out whole before the link broke.

        The server may still be committing them: the broken session's process outlives
        the link, and IMAP cannot tell a client when it is done. So: with ``settled``,
        wait for that (a positive signal) and look once. Otherwise look at once (found:
        no wait at all); while some are missing, look again each time the mailbox's
        UIDNEXT moves, for at most ``settle`` seconds. A message whose APPEND was cut
        short is never in this list: the server cannot have committed it."""
        if self._settled is not None:
            self._settled()
        session = self._connected()
        deadline = time.monotonic() + (0.0 if self._settled is not None else self.settle)
        missing = indices
        uidnext = session.status()[1]
        while True:
            for i in missing:
                outcomes[i] = self.find(messages[i], hints[i])
            missing = [i for i in missing if outcomes[i] is None]
            while missing and time.monotonic() < deadline:
                now = session.status()[1]
                if now != uidnext:
                    uidnext = now
                    break  # something was committed since the last look: look again
                time.sleep(SETTLE_POLL)
            else:
                return

    def _append_all(
        self,
        messages: Sequence[Message],
        todo: list[int],
        outcomes: list[Outcome | None],
        sent: set[int],
    ) -> None:
        """APPEND ``todo``, filling ``outcomes``: in MULTIAPPEND groups where the server
        offers it (one transaction per group, measured ~30x faster into Dovecot), else one
        APPEND each, pipelined in windows when literals need no round trip."""
        session = self._connected()
        facts = {i: messages[i].scan() for i in todo}
        singly: list[int] = []
        for i in todo:
            if facts[i].has_nul and "BINARY" not in session.caps:
                outcomes[i] = PermanentDeliveryError(
                    self.url,
                    "the message contains NUL octets and the server does not offer BINARY "
                    "(RFC 3516); kept on the POP3 server",
                )
            elif "MULTIAPPEND" in session.caps and session._nonsync(facts[i].crlf_size):
                continue
            else:
                singly.append(i)
        grouped = [i for i in todo if outcomes[i] is None and i not in singly]
        for group in _windows(grouped, facts):
            tag = session.send_multiappend([(messages[i], facts[i]) for i in group])
            sent.update(group)
            done = session.result(tag)
            if done.status == "OK":
                for i, receipt in zip(group, self._receipts(done, len(group)), strict=True):
                    outcomes[i] = receipt
            else:
                self._refusal(done)  # raises for a missing mailbox
                singly.extend(group)  # one refused message fails its group: find which
        self._append_singly(session, messages, sorted(singly), facts, outcomes, sent)

    def _append_singly(
        self,
        session: ImapSession,
        messages: Sequence[Message],
        todo: list[int],
        facts: dict[int, MessageFacts],
        outcomes: list[Outcome | None],
        sent: set[int],
    ) -> None:
        pending: list[tuple[int, bytes]] = []
        octets = 0
        for i in todo:
            answer = session.send_append(messages[i], facts[i])
            if isinstance(answer, Response):  # refused before the literal
                outcomes[i] = self._outcome(answer)
                continue
            sent.add(i)
            pending.append((i, answer))
            octets += facts[i].crlf_size
            if len(pending) >= WINDOW_MESSAGES or octets >= WINDOW_OCTETS:
                self._collect(session, pending, outcomes)
                pending, octets = [], 0
        self._collect(session, pending, outcomes)

    def _collect(
        self, session: ImapSession, pending: list[tuple[int, bytes]], outcomes: list[Outcome | None]
    ) -> None:
        for i, tag in pending:
            outcomes[i] = self._outcome(session.result(tag))

    def _receipts(self, done: Response, count: int) -> list[Receipt]:
        """Receipts from a tagged OK: APPENDUID's UIDs in append order (RFC 4315)."""
        code = (done.code or "").split()
        if len(code) == 3 and code[0].upper() == "APPENDUID":
            uids = _uid_set(code[2])
            if len(uids) == count:
                self._uidnext = max(self._uidnext, max(uids) + 1)
                return [Receipt(self.url, f"UID {uid} UIDVALIDITY {code[1]}") for uid in uids]
        return [Receipt(self.url, "appended") for _ in range(count)]

    def _refusal(self, done: Response) -> Outcome:
        name = (done.code or "").split(" ", 1)[0].upper()
        reason = f"APPEND {done.status} {'[' + name + '] ' if name else ''}{shown(done.text)}"
        if name in ("TRYCREATE", "NONEXISTENT"):
            raise TargetUnavailable(self.url, f"mailbox {self.spec.mailbox!r}: {reason}")
        if name in _TEMPORARY_CODES:
            return TemporaryDeliveryError(self.url, reason)
        return PermanentDeliveryError(self.url, reason)

    def _outcome(self, done: Response) -> Outcome:
        if done.status == "OK":
            return self._receipts(done, 1)[0]
        return self._refusal(done)

    def find(self, message: Message, hint: str) -> Receipt | None:
        """Is the message at UID >= the hint's UIDNEXT (same UIDVALIDITY), with the same
        RFC822.SIZE and header block? Its receipt, or None."""
        try:
            validity, uidnext = (int(x) for x in hint.split())
        except ValueError:
            return None
        session = self._connected()
        if session.examine() != validity:
            session.close_mailbox()
            return None  # the mailbox was recreated: nothing of ours can be in it
        try:
            criteria = b"UID %d:*" % uidnext
            message_id = message.header("Message-ID")
            quoted = astring(message_id) if message_id else None
            if quoted is not None:
                criteria += b" HEADER Message-ID " + quoted
            uids = [u for u in session.uid_search(criteria) if u >= uidnext]
            facts = message.scan()
            want = message.head().replace(b"\n", b"\r\n") + b"\r\n"
            for uid in uids:
                got = session.uid_fetch_header(uid)
                if got is not None and got == (facts.crlf_size, want):
                    return Receipt(self.url, f"UID {uid} UIDVALIDITY {validity}")
            return None
        finally:
            session.close_mailbox()

    def close(self) -> None:
        if self._session is not None:
            self._session.logout()
            self._session = None
