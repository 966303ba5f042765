"""New-mail notifications through the desktop's ``org.freedesktop.Notifications`` service.

Sender and subject, one notification per message, or one for the lot when many arrive at
once; nothing while the popfetch window has focus (the user sees the list already). A
click on one (the daemon's ``ActionInvoked``) comes back as :attr:`Notifier.activated`
carrying the :class:`NewMail`, so the window can open at that message.

The D-Bus side uses jeepney (already installed with keyring's Secret Service backend),
not QtDBus: PySide6 cannot marshal a D-Bus ``uint32``, and ``Notify``'s second argument
is one, so every strict daemon (dunst, xfce4-notifyd: GDBus) refuses a QtDBus-made call
with "Type of message (sisssasa{sv}i) does not match expected type (susssasa{sv}i)".
Calls run on one worker thread, so the GUI thread never waits for the bus; the daemon's
signals arrive on jeepney's receiver thread and reach the GUI thread as queued signals.
"""

from __future__ import annotations

import html
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

# jeepney ships no type information (no py.typed): its names are Any to mypy.
from jeepney import (  # type: ignore[import-untyped]
    DBusAddress,
    HeaderFields,
    MatchRule,
    Message,
    message_bus,
    new_method_call,
)
from jeepney.io.threading import (  # type: ignore[import-untyped]
    DBusRouter,
    open_dbus_connection,
)
from jeepney.wrappers import unwrap_msg  # type: ignore[import-untyped]
from PySide6.QtCore import QObject, Signal, Slot

from core.text import sanitize

__all__ = ["GROUP_OVER", "NewMail", "Note", "Notifier", "compose"]

SERVICE = DBusAddress(
    "/org/freedesktop/Notifications",
    bus_name="org.freedesktop.Notifications",
    interface="org.freedesktop.Notifications",
)
GROUP_OVER = 3  # more new messages than this at once: one notification for them all
LISTED = 4  # lines of "sender: subject" in a grouped notification
CALL_TIMEOUT = 5.0
ICON = "mail-message-new"  # freedesktop icon name


@dataclass(frozen=True, slots=True)
class NewMail:
    """One new message; ``account`` is whatever the app uses to find its runner."""

    account: str
    uidl: str
    sender: str
    subject: str


@dataclass(frozen=True, slots=True)
class Note:
    """One Notify call: what it says, and the message a click on it opens."""

    summary: str
    body: str
    opens: NewMail


def compose(mails: Sequence[NewMail], *, markup: bool, group_over: int = GROUP_OVER
            ) -> list[Note]:
    """The notifications for ``mails`` (server text escaped; markup-escaped where the
    daemon reads markup, so a subject like ``<b>`` stays text)."""

    def text(value: str, fallback: str, limit: int) -> str:
        shown = sanitize(value.strip(), limit) or fallback
        return html.escape(shown, quote=False) if markup else shown

    def summary_text(value: str, fallback: str, limit: int) -> str:
        return sanitize(value.strip(), limit) or fallback  # the summary is never markup

    if len(mails) <= group_over:
        return [Note(summary_text(m.sender, "(no sender)", 80),
                     text(m.subject, "(no subject)", 160), m) for m in mails]
    lines = [f"{text(m.sender, '(no sender)', 40)}: {text(m.subject, '(no subject)', 60)}"
             for m in mails[:LISTED]]
    if len(mails) > LISTED:
        lines.append(f"and {len(mails) - LISTED} more")
    return [Note(f"{len(mails)} new messages", "\n".join(lines), mails[0])]


class Notifier(QObject):
    """Sends :class:`Note`\\ s; :attr:`unavailable` says why it could not (once per outage)."""

    activated = Signal(object)  # NewMail: the user clicked its notification
    unavailable = Signal(str)  # no notification service (reason, to show in the log)
    sent = Signal(object, object)  # (notification id, Note): for the log and for tests

    _delivered = Signal(object, object)  # worker thread -> GUI thread
    _invoked = Signal(object, str)
    _closed = Signal(object)
    _failed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        quiet: Callable[[], bool] = lambda: False,
        group_over: int = GROUP_OVER,
        app_name: str = "popfetch",
    ) -> None:
        super().__init__(parent)
        self._quiet = quiet
        self._group_over = group_over
        self._app_name = app_name
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="popfetch-notify")
        self._shown: dict[int, NewMail] = {}  # GUI thread only
        self._down = False  # GUI thread only: unavailable was said for this outage
        self._shut = False
        # Worker-thread state:
        self._router: DBusRouter | None = None
        self._signals: queue.Queue[Message | None] = queue.Queue()
        self._listener: threading.Thread | None = None
        self._markup = False
        self._delivered.connect(self._on_delivered)
        self._invoked.connect(self._on_invoked)
        self._closed.connect(self._on_closed)
        self._failed.connect(self._on_failed)

    def announce(self, mails: Sequence[NewMail]) -> bool:
        """Notify about ``mails``, unless the window has focus. Returns at once; False if
        nothing was sent (quiet, or nothing new)."""
        if not mails or self._shut or self._quiet():
            return False
        self._pool.submit(self._send, list(mails))
        return True

    def close(self) -> None:
        """Stop listening and drop the bus connection (without waiting for the worker).
        Later calls, and announcements after it, do nothing."""
        if self._shut:
            return
        self._shut = True
        self._pool.submit(self._disconnect)
        self._pool.shutdown(wait=False)

    # -- worker thread ---------------------------------------------------------------------

    def _send(self, mails: list[NewMail]) -> None:
        try:
            router = self._connect()
            for note in compose(mails, markup=self._markup, group_over=self._group_over):
                call = new_method_call(SERVICE, "Notify", "susssasa{sv}i", (
                    self._app_name, 0, ICON, note.summary, note.body, ["default", "Open"],
                    {"category": ("s", "email.arrived"), "desktop-entry": ("s", "popfetch")},
                    -1,
                ))
                nid = unwrap_msg(router.send_and_get_reply(call, timeout=CALL_TIMEOUT))[0]
                self._delivered.emit(int(nid), note)
        except Exception as exc:  # whatever the bus did, the user hears of it once
            self._disconnect()
            self._failed.emit(f"desktop notifications unavailable: {exc}")

    def _connect(self) -> DBusRouter:
        if self._router is not None:
            return self._router
        conn = open_dbus_connection("SESSION")
        router = DBusRouter(conn)
        try:
            for member in ("ActionInvoked", "NotificationClosed"):
                rule = MatchRule(type="signal", interface=SERVICE.interface, member=member,
                                 path=SERVICE.object_path)
                unwrap_msg(router.send_and_get_reply(message_bus.AddMatch(rule),
                                                     timeout=CALL_TIMEOUT))
                router.filter(rule, queue=self._signals)
            caps = unwrap_msg(router.send_and_get_reply(
                new_method_call(SERVICE, "GetCapabilities"), timeout=CALL_TIMEOUT))
            self._markup = "body-markup" in caps[0]
        except BaseException:
            router.close()
            conn.close()
            raise
        self._router = router
        self._listener = threading.Thread(target=self._listen, name="popfetch-notify-signals",
                                          daemon=True)
        self._listener.start()
        return router

    def _listen(self) -> None:
        while (msg := self._signals.get()) is not None:
            member = msg.header.fields.get(HeaderFields.member)
            if member == "ActionInvoked":
                self._invoked.emit(int(msg.body[0]), str(msg.body[1]))
            elif member == "NotificationClosed":
                self._closed.emit(int(msg.body[0]))

    def _disconnect(self) -> None:
        router, self._router = self._router, None
        if router is not None:
            router.close()  # stops its receiver thread; the connection is ours to close
            router.conn.close()
        if self._listener is not None:
            self._signals.put(None)
            self._listener.join(CALL_TIMEOUT)
            self._listener = None

    # -- GUI thread ------------------------------------------------------------------------

    @Slot(object, object)
    def _on_delivered(self, nid: int, note: Note) -> None:
        self._down = False
        self._shown[nid] = note.opens
        self.sent.emit(nid, note)

    @Slot(object, str)
    def _on_invoked(self, nid: int, action: str) -> None:
        mail = self._shown.get(nid)
        if mail is not None and action in ("default", "Open"):
            self.activated.emit(mail)

    @Slot(object)
    def _on_closed(self, nid: int) -> None:
        self._shown.pop(nid, None)

    @Slot(str)
    def _on_failed(self, reason: str) -> None:
        if not self._down:
            self._down = True
            self.unavailable.emit(reason)
