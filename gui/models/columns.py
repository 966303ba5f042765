"""What the message table shows: its columns, their headers and the item-data roles.

Shared by the model, the proxy, the delegate and the window, so that none of them needs
the model module only to name a column or a role.
"""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from core.engine.events import MessageState

Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):  # keep NCOLS, SIZE_COL, PROGRESS_COL below in step
    STATE = 0
    FROM = 1
    SUBJECT = 2
    DATE = 3
    SIZE = 4
    PROGRESS = 5


# Plain ints for the model's hot paths (an IntEnum member costs an attribute lookup).
NCOLS = 6
SIZE_COL = 4
PROGRESS_COL = 5

HEADERS = {
    Column.STATE: "",
    Column.FROM: "From",
    Column.SUBJECT: "Subject",
    Column.DATE: "Date",
    Column.SIZE: "Size",
    Column.PROGRESS: "Progress",
}

# Raw value of a cell: STATE -> MessageState, FROM/SUBJECT -> str, DATE -> float (POSIX time),
# SIZE -> int octets, PROGRESS -> float fraction 0..1.
RawRole = Qt.ItemDataRole.UserRole + 1
# A value Qt can compare natively (ints, floats, strings) for the proxy.
SortRole = Qt.ItemDataRole.UserRole + 2
# "sender\nsubject" on every column: what the filter box matches.
FilterRole = Qt.ItemDataRole.UserRole + 3
UidlRole = Qt.ItemDataRole.UserRole + 4
StateRole = Qt.ItemDataRole.UserRole + 5
ReceivedRole = Qt.ItemDataRole.UserRole + 6
TotalRole = Qt.ItemDataRole.UserRole + 7
RateRole = Qt.ItemDataRole.UserRole + 8
DetailRole = Qt.ItemDataRole.UserRole + 9
MarkedRole = Qt.ItemDataRole.UserRole + 10
PathRole = Qt.ItemDataRole.UserRole + 11

STATE_TEXT = {
    MessageState.REMOTE: "On the server",
    MessageState.QUEUED: "Queued",
    MessageState.DOWNLOADING: "Downloading",
    MessageState.PAUSED: "Paused",
    MessageState.STALLED: "Stalled: waiting for the connection",
    MessageState.STORED: "Stored in the Maildir",
    MessageState.FAILED: "Failed",
    MessageState.GONE: "Deleted on the server",
}
