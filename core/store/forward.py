"""The account's store when mail goes to a delivery target instead of a Maildir.

:class:`TargetStore` is a :class:`core.store.local.Store` without a Maildir: partial
downloads, marks and stored UIDLs live in the state directory exactly as before, and a
complete message is handed to a :class:`core.store.journal.Delivery` (the target plus
its in-flight journal) instead of being renamed into ``new/``:

- a large message is delivered whole from its partial file once it is complete; the
  partial is dropped only after the receipt, so a temporary failure keeps it (the next
  run delivers it without fetching it again where the server can resume);
- a batch of small messages goes to the target together (one journal commit, one mbox
  fsync, pipelined IMAP APPENDs); each has its own outcome.

A message counts as stored (and only then may ``--delete`` mark it) once the target's
receipt is journalled; then the UIDL is recorded stored with the receipt as its place.
A crash between the two is harmless: the journal hands back the receipt next time.

:func:`open_store` and :func:`open_account_store` are the one way the command line, the
headless checks and the app open a store for a target.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from core.auth.passwords import target_password
from core.errors import DeliveryError, PasswordUnavailable, TargetUnavailable
from core.explain import detail
from core.net import TlsPolicy
from core.store.journal import Delivery, journal_for
from core.store.local import Store
from core.store.partial import PartialDownload
from core.store.state import StoredMessage
from core.store.targets import (
    ImapSpec,
    MaildirSpec,
    Message,
    Receipt,
    Target,
    TargetSpec,
    open_target,
)

if TYPE_CHECKING:
    from core.accounts import Account

__all__ = ["TargetStore", "keychain_target_password", "open_account_store", "open_store"]


class TargetStore(Store):
    """Partials and bookkeeping in ``state_dir``; complete messages go to ``target``."""

    def __init__(
        self, target: Target, state_dir: Path, *, checkpoint_every: int = 32 << 20
    ) -> None:
        super().__init__(None, state_dir, checkpoint_every=checkpoint_every)
        try:
            self.delivery = Delivery(target, journal_for(self.state_dir))
        except BaseException:
            super().close()
            raise

    def close(self) -> None:
        try:
            self.delivery.close()
        finally:
            super().close()

    def complete(self, partial: PartialDownload, *, exact: bool) -> Path | Receipt:
        """Check the size (as :meth:`Store.complete`), deliver the partial file whole,
        record the UIDL stored. Raises the target's DeliveryError; the partial then
        stays recorded, complete, for the next run.

        The store's lock is not held while the target works (an IMAP server may take
        seconds): other threads' reads of the store do not wait for the network."""
        with self._lock:
            received = self._check_complete(partial, exact=exact)
            uidl = partial.uidl
            if self.state.is_stored(uidl):
                self.discard(partial)
                return self._where(uidl)
            partial._sync_final()
            partial._close_fd()
        receipt = self.delivery.deliver(uidl, Message(path=partial.path))
        with self._lock:
            self._record([(uidl, receipt, received)])
            self.discard(partial)
        return receipt

    def deliver_batch(
        self, items: list[tuple[str, bytes]]
    ) -> Sequence[Path | Receipt | DeliveryError]:
        """Deliver whole small messages ``(uidl, wire bytes)`` together; an outcome each
        (a receipt, or the DeliveryError of that message). TargetUnavailable is raised.
        Runs on the engine's writer thread; the state has its own lock."""
        results: list[Path | Receipt | DeliveryError | None] = [None] * len(items)
        todo: list[int] = []
        for i, (uidl, _) in enumerate(items):
            if self.state.is_stored(uidl):
                results[i] = self._where(uidl)
            else:
                todo.append(i)
        batch = [(items[i][0], Message.from_wire(items[i][1])) for i in todo]
        outcomes = self.delivery.deliver_many(batch) if batch else []
        delivered = [
            (items[i][0], outcome, len(items[i][1]))
            for i, outcome in zip(todo, outcomes, strict=True)
            if isinstance(outcome, Receipt)
        ]
        self._record(delivered)
        with self._lock:  # a part kept from an earlier, broken read is no longer needed
            kept = {rec.uidl for rec in self.state.partials()}
            for uidl in (u for u, _, _ in delivered if u in kept):
                self._close_open(uidl)
                rec = self.state.drop_partial(uidl)
                if rec is not None:
                    self._unlink_partial_file(rec)
        for i, outcome in zip(todo, outcomes, strict=True):
            results[i] = outcome
        return [r for r in results if r is not None]

    def _record(self, delivered: Iterable[tuple[str, Receipt, int]]) -> None:
        now = time.time()
        self.state.record_stored(
            StoredMessage(uidl, str(receipt), size, now) for uidl, receipt, size in delivered
        )

    def _where(self, uidl: str) -> Receipt:
        entry = self.state.stored(uidl)
        if entry is None:
            raise ValueError(f"message {uidl!r} is not stored")
        return Receipt.parse(entry.name)

    def stored_path(self, uidl: str) -> Path | None:
        """No local copy: the message is at its target (see :meth:`receipt`)."""
        return None

    def has_copy(self, uidl: str) -> bool:
        """A target cannot say whether the user has deleted its copy since: count it as
        there, so "delete when the local copy is gone" never deletes on a guess."""
        return self.state.is_stored(uidl)

    def receipt(self, uidl: str) -> Receipt | None:
        """Where a stored message went."""
        return self._where(uidl) if self.state.is_stored(uidl) else None

    def forget(self, uidls: Iterable[str]) -> None:
        keys: Sequence[str] = list(uidls)
        super().forget(keys)
        self.delivery.journal.forget(keys)


def open_store(
    spec: TargetSpec,
    state_dir: Path,
    *,
    password: Callable[[], str] | None = None,
    tls: TlsPolicy | None = None,
    timeout: float = 60.0,
) -> Store:
    """The store for a delivery target: a plain :class:`Store` for a Maildir, else a
    :class:`TargetStore`. ``password`` is the IMAP target's, asked for when it logs in."""
    if isinstance(spec, MaildirSpec):
        return Store(spec.path, state_dir)
    target = open_target(spec, password=password, tls=tls, timeout=timeout)
    return TargetStore(target, state_dir)


def open_account_store(
    account: Account,
    state_dir: Path,
    *,
    timeout: float = 60.0,
    password: Callable[[], str] | None = None,
) -> Store:
    """The store an account's "Deliver to" names (:meth:`Account.target`). An IMAP
    target's password is asked for when it logs in (on the engine's writer thread, never
    the app's GUI thread): ``password``, else the keychain (:func:`keychain_target_password`)."""
    spec = account.target()
    if isinstance(spec, ImapSpec) and password is None:
        password = partial(keychain_target_password, spec)
    # The account's CA file applies to every server the account talks to; its pinned
    # certificate is the POP3 server's alone.
    return open_store(spec, state_dir, password=password,
                      tls=TlsPolicy(cafile=account.cafile), timeout=timeout)


def keychain_target_password(spec: TargetSpec) -> str:
    """The IMAP target's keychain entry; none there (or no keychain) stops delivery for
    this run with words saying where to put it."""
    if not isinstance(spec, ImapSpec):
        raise ValueError(f"{spec}: only an IMAP target has a password")
    try:
        return target_password(spec)
    except PasswordUnavailable as exc:
        raise TargetUnavailable(spec.url, detail(exc)) from None
