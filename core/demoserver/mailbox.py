"""The maildrop: a Maildir seen as numbered POP3 messages, its lock, and the Update state.

One ``Maildrop`` lives for one session (RFC 1939 numbers are per session). Deletion is
two-stage: ``mark`` only hides a message from this session; ``commit`` (QUIT from
TRANSACTION) removes the files. A session that ends any other way never calls commit,
so a drop, a cut or a timeout deletes nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.demoserver.wire import Layout, measure, stuff, to_crlf

SMALL = 256 * 1024  # messages up to this size keep their stuffed wire form in memory
CACHE_BUDGET = 512 * 1024 * 1024  # total octets of cached wire forms


_UIDL = re.compile(r"[\x21-\x7e]{1,70}")


def valid_uidl(uidl: str) -> bool:
    """RFC 1939: 1 to 70 characters in 0x21..0x7E."""
    return _UIDL.fullmatch(uidl) is not None


def _fallback_uidl(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()


def default_uidl(path: Path | str) -> str:
    """The Maildir unique name (before ":2,"), or a hash when that is not a valid UIDL."""
    unique = os.path.basename(path).split(":2,", 1)[0]
    return unique if valid_uidl(unique) else _fallback_uidl(unique)


@dataclass(frozen=True, slots=True)
class Message:
    """One message file as POP3 shows it."""

    file: str  # a str, not a Path: building 10,000 Paths per login is measurable
    uidl: str
    layout: Layout
    wire: bytes | None  # stuffed body + terminator, for small messages (fast pipelined RETR)

    @property
    def size(self) -> int:
        return self.layout.size

    @property
    def path(self) -> Path:
        return Path(self.file)


@dataclass(frozen=True, slots=True)
class _Entry:
    stamp: tuple[int, int, int]  # inode, size, mtime_ns: a changed file is measured again
    layout: Layout
    wire: bytes | None


class MessageCache:
    """Server-wide memory of message sizes and small wire forms, shared by sessions.

    Sizing a message means reading it; doing that once per file, not once per login,
    keeps logins to a 10,000-message maildrop fast.
    """

    def __init__(self, budget: int = CACHE_BUDGET) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._gates: dict[str, threading.Lock] = {}  # one measurement of a big file at a time
        self._budget = budget
        self._used = 0

    def lookup(self, file: str) -> tuple[Layout, bytes | None]:
        st = os.stat(file)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._hit(file, stamp)
        if hit is not None:
            return hit
        if st.st_size <= SMALL:
            with open(file, "rb") as f:
                st = os.fstat(f.fileno())  # the stamp of what we actually read
                data = f.read()
            body = to_crlf(data)
            layout = Layout(len(data), len(body), max(len(data), 1), ((0, 0),) if data else ())
            stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
            return self._store(file, _Entry(stamp, layout, stuff(body)))
        with self._lock:
            gate = self._gates.setdefault(file, threading.Lock())
        with gate:  # the warm-up thread and a login may ask at once: read 200 MB only once
            hit = self._hit(file, stamp)
            if hit is not None:
                return hit
            return self._store(file, _Entry(stamp, measure(Path(file)), None))

    def _hit(self, file: str, stamp: tuple[int, int, int]) -> tuple[Layout, bytes | None] | None:
        with self._lock:
            entry = self._entries.get(file)
        if entry is not None and entry.stamp == stamp:
            return entry.layout, entry.wire
        return None

    def _store(self, file: str, entry: _Entry) -> tuple[Layout, bytes | None]:
        with self._lock:
            old = self._entries.pop(file, None)
            if old is not None and old.wire is not None:
                self._used -= len(old.wire)
            wire = entry.wire
            if wire is not None:
                if self._used + len(wire) > self._budget:
                    entry = _Entry(entry.stamp, entry.layout, None)
                else:
                    self._used += len(wire)
            self._entries[file] = entry
        return entry.layout, entry.wire

    def forget(self, file: str) -> None:
        with self._lock:
            self._gates.pop(file, None)
            old = self._entries.pop(file, None)
            if old is not None and old.wire is not None:
                self._used -= len(old.wire)


class LockTable:
    """Exclusive maildrop locks (RFC 1939 section 8): a second session gets [IN-USE]."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, object] = {}

    def acquire(self, key: str, owner: object) -> bool:
        with self._lock:
            if key in self._owners:
                return False
            self._owners[key] = owner
            return True

    def release(self, key: str, owner: object) -> None:
        with self._lock:
            if self._owners.get(key) is owner:
                del self._owners[key]

    def held(self, key: str) -> bool:
        with self._lock:
            return key in self._owners


def scan(root: Path) -> list[str]:
    """Message files of a Maildir (new/ and cur/), in name order, hidden files skipped."""
    found: list[tuple[str, str]] = []
    for sub in ("new", "cur"):
        try:
            with os.scandir(root / sub) as it:
                found.extend(
                    (e.name, e.path) for e in it if not e.name.startswith(".") and e.is_file()
                )
        except FileNotFoundError:
            continue
    found.sort()
    return [file for _, file in found]


class NoSuchMessage(LookupError):
    """The number names no message in this session."""


class MessageDeleted(LookupError):
    """The number names a message marked for deletion in this session."""


class Maildrop:
    """A session's numbered, immutable view of the Maildir plus its deletion marks."""

    def __init__(
        self, root: Path, cache: MessageCache, uidls: Callable[[Path], str] | None = None
    ) -> None:
        self.root = root
        self._cache = cache
        self.messages: list[Message] = []
        for file in scan(root):
            try:
                layout, wire = cache.lookup(file)
            except FileNotFoundError:  # removed while we looked
                continue
            if uidls is None:
                uidl = default_uidl(file)
            else:
                uidl = uidls(Path(file))
                uidl = uidl if valid_uidl(uidl) else _fallback_uidl(uidl)
            self.messages.append(Message(file, uidl, layout, wire))
        self.marked: set[int] = set()
        self._list: bytes | None = None
        self._uidl: bytes | None = None

    def get(self, number: int) -> Message:
        """The message numbered ``number`` (1-based), unless absent or marked."""
        if not 1 <= number <= len(self.messages):
            raise NoSuchMessage(number)
        if number in self.marked:
            raise MessageDeleted(number)
        return self.messages[number - 1]

    def stat(self) -> tuple[int, int]:
        live = [m.size for n, m in enumerate(self.messages, 1) if n not in self.marked]
        return len(live), sum(live)

    def scan_listing(self) -> bytes:
        """LIST lines for every unmarked message, built once per change of the marks."""
        if self._list is None:
            self._list = b"".join(
                b"%d %d\r\n" % (n, m.size)
                for n, m in enumerate(self.messages, 1)
                if n not in self.marked
            )
        return self._list

    def uidl_listing(self) -> bytes:
        if self._uidl is None:
            self._uidl = b"".join(
                b"%d %s\r\n" % (n, m.uidl.encode("ascii"))
                for n, m in enumerate(self.messages, 1)
                if n not in self.marked
            )
        return self._uidl

    def mark(self, number: int) -> None:
        self.get(number)
        self.marked.add(number)
        self._list = self._uidl = None

    def reset(self) -> None:
        self.marked.clear()
        self._list = self._uidl = None

    def commit(self) -> tuple[list[str], list[str]]:
        """The Update state: remove every marked file. Returns (removed, failed) UIDLs.

        A file already gone counts as removed: the message is no longer in the maildrop.
        """
        removed: list[str] = []
        failed: list[str] = []
        for number in sorted(self.marked):
            message = self.messages[number - 1]
            try:
                os.unlink(message.file)
            except FileNotFoundError:
                pass
            except OSError:
                failed.append(message.uidl)
                continue
            self._cache.forget(message.file)
            removed.append(message.uidl)
        self.marked.clear()
        return removed, failed
