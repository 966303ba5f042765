"""The main window: accounts on the left, the message list on the right, status below.

The window lays out the widgets and wires each account's runner to them; the pieces
with a job of their own are small objects it owns: the actions (gui.window.actions), the
message commands (gui.window.commands), account management (gui.window.accountmanager),
the message table (gui.window.messagetable), the banners (gui.window.banners), the
engine's dialogs (gui.dialogs.prompts) and the quit question (gui.window.closing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from core.accounts import Account, AccountBook
from core.engine.events import CommitFinished, ConnectionChanged, ConnectionState, ErrorOccurred
from gui import icons
from gui.demo import DemoService
from gui.dialogs.prompts import Prompts
from gui.keyring_access import KeychainAccess
from gui.models.filterproxy import MessageFilterProxy
from gui.runner import AccountRunner, EngineFactory, default_engine_factory
from gui.window.accountlist import AccountList
from gui.window.accountmanager import AccountManager
from gui.window.actions import WindowActions
from gui.window.banners import ErrorBanner, MarksBanner
from gui.window.closing import CloseGuard
from gui.window.commands import MessageCommands, commit_report
from gui.window.logdock import LogDock
from gui.window.messagetable import MessageTable
from gui.window.statusbar import StatusPanel
from gui.window.welcome import WelcomePage


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: QSettings,
        *,
        book: AccountBook | None = None,
        keychain: KeychainAccess | None = None,
        engine_factory: EngineFactory = default_engine_factory,
        engine_kwargs: dict[str, Any] | None = None,
        demo_factory: Callable[[], DemoService] = DemoService,
    ):
        super().__init__()
        self.settings = settings
        self.book = book if book is not None else AccountBook()
        self.keychain = keychain if keychain is not None else KeychainAccess(self)
        self.engine_factory = engine_factory
        self.engine_kwargs = engine_kwargs or {}
        self.demo_factory = demo_factory
        self.runners: list[AccountRunner] = []
        self.current: AccountRunner | None = None
        self.last_report: str = ""  # the last commit report shown (tests read it)
        self._dialogs: list[QDialog] = []

        self.setObjectName("mainWindow")
        self.setWindowTitle("popfetch")
        self.setWindowIcon(icons.app_icon())
        self.commands = MessageCommands(self)
        self.accounts = AccountManager(self)
        self.closer = CloseGuard(self)
        self.prompts = Prompts(self)
        self.acts = WindowActions(self)
        self._name_actions()
        self._build_ui()
        self.acts.fill_menus(self.menuBar(), (self.act_log, self.toolbar.toggleViewAction()))
        self._restore_settings()
        self._update_actions()
        self.keychain.saved.connect(self.prompts.password_saved)
        self.keychain.probe()

    # ================================================================== construction

    def _name_actions(self) -> None:
        """The actions under their window names (tests and the screenshot script use them)."""
        a = self.acts
        self.act_check = a.check
        self.act_download = a.download
        self.act_download_all = a.download_all
        self.act_toggle = a.toggle
        self.act_pause_all = a.pause_all
        self.act_resume_all = a.resume_all
        self.act_cancel = a.cancel
        self.act_mark = a.mark
        self.act_unmark = a.unmark
        self.act_unmark_all = a.unmark_all
        self.act_mark_stored = a.mark_stored
        self.act_commit = a.commit
        self.act_disconnect = a.disconnect
        self.act_retry = a.retry
        self.act_open = a.open
        self.act_filter = a.filter
        self.act_add = a.add
        self.act_edit = a.edit
        self.act_remove = a.remove
        self.act_demo = a.demo
        self.act_about = a.about
        self.act_quit = a.quit

    def _build_ui(self) -> None:
        # --- left: accounts
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 0, 4)
        lv.addWidget(QLabel("<b>Accounts</b>"))
        self.account_list = AccountList()
        self.account_list.currentRowChanged.connect(self._account_selected)
        for act in self.acts.account_actions():
            self.account_list.addAction(act)
        lv.addWidget(self.account_list, 1)
        add = QPushButton(icons.icon("account"), "Add account…")
        add.setToolTip(self.act_add.toolTip())
        add.clicked.connect(self.accounts.add_account)
        lv.addWidget(add)

        # --- right: welcome page or messages page
        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome_add = self.welcome.add_button
        self.welcome_demo = self.welcome.demo_button
        self.welcome_add.clicked.connect(self.accounts.add_account)
        self.welcome_demo.clicked.connect(self.accounts.start_demo)
        self.stack.addWidget(self.welcome)
        page = QWidget()
        pv = QVBoxLayout(page)
        pv.setContentsMargins(0, 4, 4, 0)

        self.error_banner = ErrorBanner()
        self.error_banner.retry.clicked.connect(self.commands.retry_now)
        pv.addWidget(self.error_banner)
        self.marks_banner = MarksBanner(self.act_commit.toolTip(), self.act_unmark_all.toolTip())
        self.marks_banner.commit.clicked.connect(self.commands.commit)
        self.marks_banner.unmark.clicked.connect(self.commands.unmark_all)
        self.marks_label = self.marks_banner.label
        pv.addWidget(self.marks_banner)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setPlaceholderText("Filter by sender or subject (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only messages whose sender or subject contains this")
        pv.addWidget(self.filter_edit)

        self.proxy = MessageFilterProxy(self)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.table = MessageTable(self.proxy)
        self.table.doubleClicked.connect(self.commands.open_index)
        self.table.addAction(self.act_open)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        pv.addWidget(self.table, 1)
        self.stack.addWidget(page)
        self.messages_page = page

        self.splitter = QSplitter()
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.stack)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([220, 980])
        self.setCentralWidget(self.splitter)

        # --- toolbar
        tb = QToolBar("Main toolbar")
        tb.setObjectName("mainToolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.acts.fill_toolbar(tb)
        self.addToolBar(tb)
        self.toolbar = tb

        # --- log dock
        self.log = LogDock(self)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log)
        self.log.hide()
        self.act_log = self.log.toggleViewAction()
        self.act_log.setShortcut(QKeySequence("Ctrl+L"))
        self.act_log.setToolTip("Show the protocol log (Ctrl+L)")

        # --- status bar
        self.status = StatusPanel(self.statusBar(), self.act_retry, self)
        self.status.retry_button.clicked.connect(self.commands.retry_now)
        # short names for the pieces (tests and the screenshot script read them)
        self.conn_label = self.status.conn_label
        self.secure_label = self.status.secure_label
        self.resume_label = self.status.resume_label
        self.retry_button = self.status.retry_button
        self.overall = self.status.overall
        self._totals_timer = QTimer(self)  # status bar figures at most 4 times a second
        self._totals_timer.setSingleShot(True)
        self._totals_timer.setInterval(250)
        self._totals_timer.timeout.connect(self._update_totals)
        self._update_connection_ui()

    def _table_menu(self, pos: QPoint) -> None:
        self.acts.message_menu(self).popup(self.table.viewport().mapToGlobal(pos))

    # ================================================================== settings

    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 720)
        state = s.value("window/state")
        if state is not None:
            self.restoreState(state)
        splitter = s.value("window/splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.table.restore_header(s.value("table/header"))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        header = self.table.header_state()
        if header is not None:
            s.setValue("table/header", header)
        if self.current is not None and not self.current.demo:
            s.setValue("accounts/current", self.current.account.key)
        s.sync()

    # ================================================================== accounts

    # the account commands app.py and the tests call on the window
    def load_accounts(self) -> None:
        self.accounts.load_accounts()

    def add_account(self) -> None:
        self.accounts.add_account()

    def start_demo(self) -> None:
        self.accounts.start_demo()

    def add_runner(self, account: Account, *, demo: bool = False,
                   fixed_password: str | None = None,
                   engine_factory: EngineFactory | None = None) -> AccountRunner:
        """Create the account's runner, list it and wire its signals to the window."""
        runner = AccountRunner(
            account,
            keychain=None if demo else self.keychain,
            fixed_password=fixed_password,
            engine_factory=engine_factory or self.engine_factory,
            engine_kwargs=self.engine_kwargs,
            demo=demo,
            parent=self,
        )
        self.runners.append(runner)
        self.account_list.append(runner)
        runner.summaryChanged.connect(self.refresh_account_items)
        runner.connectionChanged.connect(self._on_connection)
        runner.errorOccurred.connect(self._on_error)
        runner.commitFinished.connect(self._on_commit_finished)
        runner.passwordNeeded.connect(self.prompts.password)
        runner.bridge.transcriptLines.connect(
            lambda lines, r=runner: self.log.add(r.name, lines))
        runner.model.totalsChanged.connect(self._schedule_totals)
        runner.model.marksChanged.connect(self._update_marks_banner)
        runner.model.modelReset.connect(self._update_actions)
        runner.model.rowsInserted.connect(self._update_actions)
        self.refresh_account_items()
        if self.current is None:
            self.select_runner(runner)
        return runner

    def select_runner(self, runner: AccountRunner) -> None:
        self.account_list.setCurrentRow(self.runners.index(runner))

    def move_runner(self, runner: AccountRunner, index: int) -> None:
        """Put ``runner`` at ``index`` in the side list (it was added last)."""
        self.runners.remove(runner)
        self.runners.insert(index, runner)
        self.account_list.move_last_to(index)

    def detach_runner(self, runner: AccountRunner) -> None:
        """Unlist the runner and cut its signals; stopping it is the caller's job."""
        index = self.runners.index(runner)
        for sig in (runner.summaryChanged, runner.connectionChanged, runner.errorOccurred,
                    runner.commitFinished, runner.passwordNeeded):
            sig.disconnect()
        runner.bridge.close()
        self.runners.pop(index)
        if self.current is runner:
            self.current = None
            self.proxy.setSourceModel(None)
        self.account_list.remove_quietly(index)
        if self.runners:
            self.account_list.setCurrentRow(min(index, len(self.runners) - 1))
            self._account_selected(self.account_list.currentRow())
        else:
            self._account_selected(-1)

    @Slot(int)
    def _account_selected(self, row: int) -> None:
        runner = self.runners[row] if 0 <= row < len(self.runners) else None
        if runner is self.current:
            return
        self.current = runner
        self.table.show_model(runner.model if runner else None)
        self.stack.setCurrentWidget(self.messages_page if runner else self.welcome)
        self.setWindowTitle(f"{runner.name} — popfetch" if runner else "popfetch")
        self._update_marks_banner()
        self._update_connection_ui()
        self._update_totals()
        self._update_error_banner()
        self._update_actions()

    @Slot()
    def refresh_account_items(self) -> None:
        self.account_list.refresh(self.runners)
        if not self.runners:
            self.stack.setCurrentWidget(self.welcome)

    # ================================================================== small commands

    @Slot()
    def focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    @Slot()
    def about(self) -> None:
        QMessageBox.about(
            self, "About popfetch",
            f"<h3>popfetch {__version__}</h3>"
            "<p>A desktop POP3 mail fetcher that pauses, resumes and survives dropped "
            "connections. Mail is stored in a Maildir; nothing is deleted on the server "
            "until you commit.</p><p>MIT licence.</p>")

    def show_dialog(self, dialog: QDialog) -> None:
        """Non-blocking: the event loop (and so the transfers' progress) keeps running."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _=0, d=dialog: self._dialogs.remove(d)
                                if d in self._dialogs else None)
        dialog.open()

    def open_dialogs(self) -> list[QDialog]:
        return list(self._dialogs)

    # ================================================================== events

    @Slot(object)
    def _on_connection(self, event: ConnectionChanged) -> None:
        runner = self.sender()
        if isinstance(runner, AccountRunner):
            self.log.note(runner.name, f"{event.state.value}: {event.detail}")
        if runner is self.current:
            if event.state is ConnectionState.RECONNECTING:
                self.status.reconnect_at(time.monotonic() + event.retry_in)
            self._update_connection_ui()
            self._update_error_banner()
            self._update_actions()

    @Slot(object)
    def _on_error(self, event: ErrorOccurred) -> None:
        runner = self.sender()
        if not isinstance(runner, AccountRunner):
            return
        self.log.note(runner.name, f"error: {event.message}")
        if event.certificate is not None:
            self.prompts.certificate(runner, event)
        elif event.auth and runner.asks_password and "no password was entered" not in (
            event.message
        ):
            runner.retry_now()  # asks again, saying the server refused it
        # A non-fatal error always comes with a reconnect: the connection label says so,
        # with the reason in its tooltip, and the log keeps it.
        if runner is self.current:
            self._update_error_banner()

    @Slot(object)
    def _on_commit_finished(self, event: CommitFinished) -> None:
        runner = self.sender()
        name = runner.name if isinstance(runner, AccountRunner) else "the server"
        text = commit_report(name, event)
        self.last_report = text
        self.log.note(name, text)
        if self.closer.commit_finished(runner):
            return  # quitting: no report box
        box = QMessageBox(QMessageBox.Icon.Information if event.ok else QMessageBox.Icon.Warning,
                          "Commit finished", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("commitReport")
        self.show_dialog(box)
        self.statusBar().showMessage(text, 10000)

    # ================================================================== status

    def _update_connection_ui(self) -> None:
        self.status.show_connection(self.current)

    def _update_error_banner(self) -> None:
        self.error_banner.show_for(self.current)

    @Slot()
    def _schedule_totals(self) -> None:
        if not self._totals_timer.isActive():
            self._totals_timer.start()

    @Slot()
    def _update_totals(self) -> None:
        self.status.show_totals(self.current.model.totals() if self.current else None)
        self._update_actions()

    @Slot()
    def _update_marks_banner(self) -> None:
        runner = self.current
        self.marks_banner.show_totals(runner.model.totals() if runner is not None else None)
        if runner is not None:
            self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        runner = self.current
        states = [st for _, st in self.table.selected_states()] if runner is not None else []
        self.acts.update(runner, states)

    # ================================================================== closing

    @property
    def _really_close(self) -> bool:
        """Close without asking (tests set it; so does the commit-before-quit flow)."""
        return self.closer.really_close

    @_really_close.setter
    def _really_close(self, value: bool) -> None:
        self.closer.really_close = value

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.closer.may_close(event):
            return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every engine (no QUIT: nothing deleted) and the demo server, in parallel."""
        for dialog in list(self._dialogs):
            dialog.close()
        threads = []
        for runner in self.runners:
            runner.bridge.close()
            t = threading.Thread(target=runner.shutdown, args=(timeout,), daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + timeout + 1
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.accounts.stop_demo()
