"""The Maildir behind the delivery-target interface (core.store.targets)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.errors import StorageError, TemporaryDeliveryError
from core.store.maildir import Maildir
from core.store.targets import Message, Outcome, Receipt, Target

__all__ = ["MaildirTarget"]


# -- the Maildir target ----------------------------------------------------------------------


class MaildirTarget(Target):
    """Today's Maildir delivery (:class:`core.store.maildir.Maildir`) behind the interface.

    The hint is the name the file gets in ``new/``, chosen before delivery, so
    :meth:`find` looks for exactly that file (a reader may have moved it to ``cur/``).
    """

    can_look = True

    def __init__(self, path: Path) -> None:
        self.maildir = Maildir(path)
        self.url = f"maildir:{self.maildir.root}"

    def prepare(self, messages: Sequence[Message]) -> list[str]:
        return [self.maildir.unique_name() for _ in messages]

    def deliver_many(self, messages: Sequence[Message], hints: Sequence[str]) -> list[Outcome]:
        """Each file into ``tmp/`` (fsynced), renamed to ``new/<hint>``; one fsync of
        ``new/`` makes the renames durable, so receipts come only after it."""
        outcomes: list[Outcome] = []
        for message, hint in zip(messages, hints, strict=True):
            try:
                if message.path is not None:
                    tmp = self.maildir.copy_to_tmp(message.path, sync=True)
                else:
                    assert message.data is not None
                    tmp = self.maildir.write_tmp(message.data, sync=True)
                try:
                    self.maildir.publish(hint, self.maildir.tmp / tmp)
                except StorageError:
                    self.maildir.remove_tmp(tmp)
                    raise
            except StorageError as exc:
                outcomes.append(TemporaryDeliveryError(self.url, str(exc)))
                continue
            outcomes.append(Receipt(self.url, f"new/{hint}"))
        try:
            self.maildir.sync_new()
        except StorageError as exc:
            return [TemporaryDeliveryError(self.url, str(exc)) for _ in messages]
        return outcomes

    def find(self, message: Message, hint: str) -> Receipt | None:
        found = self.maildir.locate(hint)
        return None if found is None else Receipt(self.url, f"{found.parent.name}/{found.name}")


