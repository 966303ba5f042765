"""What the message table shows: its columns, their headers and the item-data roles.

Shared by the model, the proxy, the delegate and the window, so that none of them needs
the model module only to name a column or a role.
"""

from __future__ import annotations

from enum import Enum, IntEnum

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt

from core.engine.events import MessageState

Index = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    STATE = 0
    FROM = 1
    SUBJECT = 2
    DATE = 3
    SIZE = 4
    SERVER = 5
    PROGRESS = 6


# Plain ints for the model's hot paths (an IntEnum member costs an attribute lookup).
NCOLS = len(Column)
SIZE_COL = int(Column.SIZE)
PROGRESS_COL = int(Column.PROGRESS)


class ServerState(Enum):
    """Whether the server still holds a message, as far as the last list tells."""

    UNKNOWN = "not checked"  # listed from the local store; the server was not asked yet
    PRESENT = "on the server"
    GONE = "not on the server"  # deleted by a commit, or by another client

HEADERS = {
    Column.STATE: "",
    Column.FROM: "From",
    Column.SUBJECT: "Subject",
    Column.DATE: "Date",
    Column.SIZE: "Size",
    Column.SERVER: "Server",
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

# One size convention everywhere (list, viewer, status bar, dialogs): octets as the server
# counts them (LIST: CRLF line ends), in decimal units.
SIZE_CONVENTION = ("Size as the server counts it (CRLF line ends), in decimal units: "
                   "1 MB = 1,000,000 octets. The stored file, with Unix line ends, is a "
                   "little smaller.")
