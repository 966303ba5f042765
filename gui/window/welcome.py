"""What the window shows before there is any account."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui import icons


class WelcomePage(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        v = QVBoxLayout(self)
        v.addStretch(2)
        logo = QLabel()
        logo.setPixmap(icons.app_icon().pixmap(96, 96))
        logo.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(logo)
        head = QLabel("<h2>Welcome to popfetch</h2>")
        head.setAlignment(Qt.AlignmentFlag.AlignCenter)
        v.addWidget(head)
        text = QLabel(
            "popfetch downloads mail from POP3 servers into a local Maildir. Downloads can be "
            "paused and resumed, survive dropped connections, and nothing is deleted on the "
            "server until you say so."
        )
        text.setWordWrap(True)
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setMaximumWidth(520)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(text)
        row.addStretch(1)
        v.addLayout(row)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.add_button = QPushButton(icons.icon("account"), "Add account…")
        self.add_button.setObjectName("welcomeAdd")
        self.add_button.setToolTip("Set up a POP3 account (Ctrl+N)")
        self.demo_button = QPushButton(icons.app_icon(), "Try the demo mailbox")
        self.demo_button.setObjectName("welcomeDemo")
        self.demo_button.setToolTip("A local server with sample mail, a slow link and the "
                                    "occasional dropped connection; user/password demo/demo")
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        v.addLayout(buttons)
        v.addStretch(3)
