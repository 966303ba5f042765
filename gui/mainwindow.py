"""The main window: accounts on the left, the message list on the right, status below."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from core.accounts import Account, AccountBook
from core.events import (
    CommitFinished,
    ConnectionChanged,
    ConnectionState,
    ErrorOccurred,
    MessageState,
)
from gui import fmt, icons
from gui.accountdialog import AccountDialog, PasswordDialog, with_pin
from gui.certdialog import CertificateDialog
from gui.columns import Column, PathRole, StateRole, UidlRole
from gui.delegate import MessageDelegate
from gui.demo import DEMO_PASSWORD, DemoService
from gui.filterproxy import MessageFilterProxy
from gui.keyring_access import KeychainAccess
from gui.logdock import LogDock
from gui.runner import AccountRunner, EngineFactory, PasswordRequest, default_engine_factory
from gui.statusbar import StatusPanel
from gui.tasks import BackgroundTask, serial
from gui.welcome import WelcomePage

ACTIVE = (MessageState.QUEUED, MessageState.DOWNLOADING, MessageState.STALLED)
RESUMABLE = (MessageState.PAUSED, MessageState.FAILED, MessageState.REMOTE)
DEFAULT_WIDTHS = {Column.STATE: 28, Column.FROM: 200, Column.SUBJECT: 340,
                  Column.DATE: 130, Column.SIZE: 80, Column.PROGRESS: 260}


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
        self.demo: DemoService | None = None
        self.runners: list[AccountRunner] = []
        self.current: AccountRunner | None = None
        self.last_report: str = ""  # the last commit report shown (tests read it)
        self._closing_after_commit: set[AccountRunner] = set()
        self._really_close = False
        self._dialogs: list[QDialog] = []
        self._header_state: Any = None

        self.setObjectName("mainWindow")
        self.setWindowTitle("popfetch")
        self.setWindowIcon(icons.app_icon())
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._restore_settings()
        self._update_actions()
        self.keychain.saved.connect(self._password_saved)
        self.keychain.probe()

    # ================================================================== construction

    def _action(self, text: str, icon: str | None, shortcut: str | QKeySequence | None,
                tip: str, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self)
        if icon:
            action.setIcon(icons.icon(icon))
        if shortcut:
            seq = QKeySequence(shortcut)
            action.setShortcut(seq)
            tip = f"{tip} ({seq.toString(QKeySequence.SequenceFormat.NativeText)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.act_check = a("&Check for mail", "refresh", "F5",
                           "Connect and load the list of messages", self.check)
        self.act_download = a("&Download", "download", "Ctrl+D",
                              "Download the selected messages", self.download_selected)
        self.act_download_all = a("Download &all", "download-all", "Ctrl+Shift+D",
                                  "Download every message not stored yet", self.download_all)
        self.act_toggle = a("&Pause / resume", "pause", "Space",
                            "Pause the selected downloads, or resume them", self.toggle_selected)
        self.act_pause_all = a("Pause all", "pause", "Ctrl+Shift+P",
                               "Pause every download; partial bytes are kept", self.pause_all)
        self.act_resume_all = a("Resume all", "resume", "Ctrl+Shift+R",
                                "Resume every paused download", self.resume_all)
        self.act_cancel = a("&Cancel download", "cancel", "Ctrl+Backspace",
                            "Stop the selected downloads and discard their partial bytes",
                            self.cancel_selected)
        self.act_mark = a("&Mark for deletion", "marked", QKeySequence.StandardKey.Delete,
                          "Mark the selected messages; they are deleted on the server only "
                          "when you commit", self.mark_selected)
        self.act_unmark = a("&Unmark", "unmark", "Shift+Del",
                            "Keep the selected messages on the server", self.unmark_selected)
        self.act_unmark_all = a("Unmark all", "unmark", "Ctrl+Shift+U",
                                "Keep every message on the server", self.unmark_all)
        self.act_mark_stored = a("Mark all stored", "marked", "Ctrl+Shift+Del",
                                 "Mark every message that is safely stored here",
                                 self.mark_stored)
        self.act_commit = a("C&ommit deletions…", "commit", "Ctrl+Return",
                            "Tell the server to delete the marked messages (QUIT)", self.commit)
        self.act_disconnect = a("Disconnect without committing", "disconnect", "Ctrl+Shift+X",
                                "Close the connection; nothing is deleted on the server",
                                self.disconnect)
        self.act_retry = a("&Retry now", "refresh", "Ctrl+R",
                           "Reconnect now instead of waiting", self.retry_now)
        self.act_open = a("&Open message", None, "Return",
                          "Show the selected stored message", self.open_selected)
        self.act_open.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.act_filter = a("&Filter", None, "Ctrl+F",
                            "Narrow the list by sender or subject", self.focus_filter)
        self.act_add = a("&Add account…", "account", "Ctrl+N",
                         "Add a POP3 account", self.add_account)
        self.act_edit = a("&Edit account…", None, "Ctrl+E",
                          "Change the selected account's settings", self.edit_account)
        self.act_remove = a("&Remove account…", None, None,
                            "Remove the selected account (its Maildir stays)",
                            self.remove_account)
        self.act_demo = a("Try the &demo mailbox", None, None,
                          "Start a local demo server with sample mail", self.start_demo)
        self.act_about = a("&About popfetch", None, None, "Version and licence", self.about)
        self.act_quit = a("&Quit", None, QKeySequence.StandardKey.Quit, "Quit popfetch",
                          self.close)

    def _build_ui(self) -> None:
        # --- left: accounts
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 0, 4)
        title = QLabel("<b>Accounts</b>")
        lv.addWidget(title)
        self.account_list = QListWidget()
        self.account_list.setObjectName("accountList")
        self.account_list.setIconSize(self.account_list.iconSize().expandedTo(
            self.account_list.iconSize()))
        self.account_list.setToolTip("Your accounts and their connection state")
        self.account_list.currentRowChanged.connect(self._account_selected)
        self.account_list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        for act in (self.act_check, self.act_disconnect, self.act_edit, self.act_remove):
            self.account_list.addAction(act)
        lv.addWidget(self.account_list, 1)
        add = QPushButton(icons.icon("account"), "Add account…")
        add.setToolTip(self.act_add.toolTip())
        add.clicked.connect(self.add_account)
        lv.addWidget(add)

        # --- right: welcome page or messages page
        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome_add = self.welcome.add_button
        self.welcome_demo = self.welcome.demo_button
        self.welcome_add.clicked.connect(self.add_account)
        self.welcome_demo.clicked.connect(self.start_demo)
        self.stack.addWidget(self.welcome)
        page = QWidget()
        pv = QVBoxLayout(page)
        pv.setContentsMargins(0, 4, 4, 0)

        self.error_banner = self._banner("errorBanner", "#fdecea", "#b3261e")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_retry = QPushButton("Retry")
        self.error_retry.clicked.connect(self.retry_now)
        self.error_banner.layout().addWidget(self.error_label, 1)
        self.error_banner.layout().addWidget(self.error_retry)
        pv.addWidget(self.error_banner)

        self.marks_banner = self._banner("marksBanner", "#fff4e5", "#8a4b00")
        trash = QLabel()
        trash.setPixmap(icons.icon("marked").pixmap(22, 22))
        self.marks_label = QLabel()
        self.marks_label.setObjectName("marksLabel")
        self.marks_label.setWordWrap(True)
        commit_btn = QPushButton(icons.icon("commit"), "Commit…")
        commit_btn.setToolTip(self.act_commit.toolTip())
        commit_btn.clicked.connect(self.commit)
        unmark_btn = QPushButton("Unmark all")
        unmark_btn.setToolTip(self.act_unmark_all.toolTip())
        unmark_btn.clicked.connect(self.unmark_all)
        for w in (trash, self.marks_label):
            self.marks_banner.layout().addWidget(w)
        self.marks_banner.layout().setStretch(1, 1)
        self.marks_banner.layout().addWidget(commit_btn)
        self.marks_banner.layout().addWidget(unmark_btn)
        pv.addWidget(self.marks_banner)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setPlaceholderText("Filter by sender or subject (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only messages whose sender or subject contains this")
        pv.addWidget(self.filter_edit)

        self.proxy = MessageFilterProxy(self)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.table = QTableView()
        self.table.setObjectName("messageTable")
        self.table.setModel(self.proxy)
        self.table.setItemDelegateForColumn(Column.PROGRESS, MessageDelegate(self.table))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(
            self.table.fontMetrics().height() + 10)
        self.table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setMinimumSectionSize(24)
        self.table.doubleClicked.connect(self._double_clicked)
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
        for act in (self.act_check, self.act_download, self.act_download_all):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.act_toggle, self.act_pause_all, self.act_resume_all, self.act_cancel):
            tb.addAction(act)
        tb.addSeparator()
        for act in (self.act_mark, self.act_unmark, self.act_commit, self.act_disconnect):
            tb.addAction(act)
        for act in (self.act_pause_all, self.act_resume_all, self.act_cancel, self.act_unmark,
                    self.act_disconnect):
            w = tb.widgetForAction(act)
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
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
        self.status.retry_button.clicked.connect(self.retry_now)
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

    def _default_columns(self) -> None:
        header = self.table.horizontalHeader()
        for col, width in DEFAULT_WIDTHS.items():
            header.resizeSection(col, width)
        header.setSectionResizeMode(Column.SUBJECT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.STATE, QHeaderView.ResizeMode.Fixed)

    def _banner(self, name: str, bg: str, fg: str) -> QFrame:
        frame = QFrame()
        frame.setObjectName(name)
        frame.setStyleSheet(f"QFrame#{name} {{ background: {bg}; border: 1px solid {fg}; "
                            f"border-radius: 4px; }} QFrame#{name} QLabel {{ color: {fg}; }}")
        layout = QHBoxLayout(frame)
        layout.setContentsMargins(8, 4, 8, 4)
        frame.hide()
        return frame

    def _build_menus(self) -> None:
        mb = self.menuBar()
        m = mb.addMenu("&Account")
        for act in (self.act_check, self.act_retry, self.act_disconnect):
            m.addAction(act)
        m.addSeparator()
        for act in (self.act_add, self.act_edit, self.act_remove, self.act_demo):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_quit)
        m = mb.addMenu("&Messages")
        for act in (self.act_open, self.act_download, self.act_download_all, self.act_toggle,
                    self.act_pause_all, self.act_resume_all, self.act_cancel):
            m.addAction(act)
        m.addSeparator()
        for act in (self.act_mark, self.act_unmark, self.act_mark_stored, self.act_unmark_all,
                    self.act_commit):
            m.addAction(act)
        m.addSeparator()
        m.addAction(self.act_filter)
        m = mb.addMenu("&View")
        m.addAction(self.act_log)
        m.addAction(self.toolbar.toggleViewAction())
        m = mb.addMenu("&Help")
        m.addAction(self.act_about)

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
        header = s.value("table/header")
        self._header_state = header if header is not None else None

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.splitter.saveState())
        if self.proxy.columnCount() > 0:
            self._header_state = self.table.horizontalHeader().saveState()
        if self._header_state is not None:
            s.setValue("table/header", self._header_state)
        if self.current is not None and not self.current.demo:
            s.setValue("accounts/current", self.current.account.key)
        s.sync()

    # ================================================================== accounts

    def load_accounts(self) -> None:
        """Read the accounts file and connect each account (the file is small)."""
        try:
            accounts = self.book.load()
        except (OSError, ValueError) as exc:
            QMessageBox.warning(self, "popfetch", f"Cannot read the accounts file: {exc}")
            accounts = []
        wanted = self.settings.value("accounts/current", "")
        for account in accounts:
            runner = self.add_runner(account)
            if account.key == wanted:
                self.select_runner(runner)
        if self.runners and self.current is None:
            self.select_runner(self.runners[0])
        for runner in self.runners:
            runner.start()

    def add_runner(self, account: Account, *, demo: bool = False,
                   fixed_password: str | None = None,
                   engine_factory: EngineFactory | None = None) -> AccountRunner:
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
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, id(runner))
        self.account_list.addItem(item)
        runner.summaryChanged.connect(self._refresh_account_items)
        runner.connectionChanged.connect(self._on_connection)
        runner.errorOccurred.connect(self._on_error)
        runner.commitFinished.connect(self._on_commit_finished)
        runner.passwordNeeded.connect(self._ask_password)
        runner.bridge.transcriptLines.connect(
            lambda lines, r=runner: self.log.add(r.name, lines))
        runner.model.totalsChanged.connect(self._schedule_totals)
        runner.model.marksChanged.connect(self._update_marks_banner)
        runner.model.modelReset.connect(self._update_actions)
        runner.model.rowsInserted.connect(self._update_actions)
        self._refresh_account_items()
        if self.current is None:
            self.select_runner(runner)
        return runner

    def select_runner(self, runner: AccountRunner) -> None:
        self.account_list.setCurrentRow(self.runners.index(runner))

    @Slot(int)
    def _account_selected(self, row: int) -> None:
        runner = self.runners[row] if 0 <= row < len(self.runners) else None
        if runner is self.current:
            return
        self.current = runner
        header = self.table.horizontalHeader()
        if self.proxy.columnCount() > 0:
            self._header_state = header.saveState()
        self.proxy.setSourceModel(runner.model if runner else None)
        if self.proxy.columnCount() > 0 and (
            self._header_state is None or not header.restoreState(self._header_state)
        ):
            self._default_columns()
        if runner is not None:
            runner.model.sort(header.sortIndicatorSection() if header.isSortIndicatorShown()
                              else -1, header.sortIndicatorOrder())
        self.stack.setCurrentWidget(self.messages_page if runner else self.welcome)
        self.setWindowTitle(f"{runner.name} — popfetch" if runner else "popfetch")
        self._update_marks_banner()
        self._update_connection_ui()
        self._update_totals()
        self._update_error_banner()
        self._update_actions()

    @Slot()
    def _refresh_account_items(self) -> None:
        for i, runner in enumerate(self.runners):
            item = self.account_list.item(i)
            if item is None:
                continue
            item.setText(f"{runner.name}\n{runner.status_text()}")
            item.setIcon(icons.icon(runner.state_icon_name()))
            item.setToolTip(f"{runner.account.key}\n{runner.status_text()}")
        if not self.runners:
            self.stack.setCurrentWidget(self.welcome)

    def runner_by_key(self, key: str) -> AccountRunner | None:
        return next((r for r in self.runners if r.account.key == key and not r.demo), None)

    @Slot()
    def add_account(self) -> None:
        dialog = AccountDialog(keychain_available=self.keychain.available,
                               keychain_problem=self.keychain.problem, parent=self)
        dialog.accepted.connect(lambda: self._account_added(dialog))
        self._show_dialog(dialog)

    def _account_added(self, dialog: AccountDialog) -> None:
        account = dialog.account
        if account is None:
            return
        if self.runner_by_key(account.key) is not None:
            QMessageBox.warning(self, "popfetch", f"The account {account.key} exists already.")
            return
        book = self.book
        BackgroundTask(lambda: book.add(account), self, executor=serial).start()
        if dialog.password and dialog.save_password:
            self.keychain.set_password(account.key, dialog.password)
        runner = self.add_runner(account)
        if dialog.password:
            runner.set_password(dialog.password)
        self.select_runner(runner)
        runner.start()

    @Slot()
    def edit_account(self) -> None:
        runner = self.current
        if runner is None or runner.demo:
            return
        dialog = AccountDialog(runner.account, keychain_available=self.keychain.available,
                               keychain_problem=self.keychain.problem, parent=self)
        dialog.accepted.connect(lambda: self._account_edited(runner, dialog))
        self._show_dialog(dialog)

    def _account_edited(self, old: AccountRunner, dialog: AccountDialog) -> None:
        account = dialog.account
        if account is None:
            return
        old_key = old.account.key
        book = self.book
        BackgroundTask(lambda: book.update(account, old_key=old_key), self,
                       executor=serial).start()
        password = dialog.password
        if password and dialog.save_password:
            self.keychain.set_password(account.key, password)
        if account.key != old_key:
            if not password:  # move the stored password to the new key
                def move() -> None:
                    pw, _ = self.keychain.get_password_blocking(old_key)
                    if pw:
                        from core.keychain import Keychain
                        Keychain().set(account.key, pw)
                BackgroundTask(move, self, executor=serial).start()
            self.keychain.delete_password(old_key)
        self._replace_runner(old, account, password)

    def _replace_runner(self, old: AccountRunner, account: Account, password: str | None) -> None:
        """Settings changed: stop the old engine (off the GUI thread), then start a new one."""
        index = self.runners.index(old)
        self._detach(old)
        runner = self.add_runner(account)
        # keep the order in the side list
        self.runners.remove(runner)
        self.runners.insert(index, runner)
        item = self.account_list.takeItem(self.account_list.count() - 1)
        self.account_list.insertItem(index, item)
        if not password and account.key == old.account.key:
            password = old.cached_password()  # unchanged: no need to ask or read it again
        if password:
            runner.set_password(password)
        self.select_runner(runner)
        self._refresh_account_items()
        stopper = BackgroundTask(lambda: old.shutdown(5.0), self, name="stop engine")
        stopper.finished.connect(runner.start)
        stopper.finished.connect(old.deleteLater)
        stopper.start()

    def _detach(self, runner: AccountRunner) -> None:
        index = self.runners.index(runner)
        for sig in (runner.summaryChanged, runner.connectionChanged, runner.errorOccurred,
                    runner.commitFinished, runner.passwordNeeded):
            sig.disconnect()
        runner.bridge.close()
        self.runners.pop(index)
        if self.current is runner:
            self.current = None
            self.proxy.setSourceModel(None)
        self.account_list.blockSignals(True)
        self.account_list.takeItem(index)
        self.account_list.blockSignals(False)
        if self.runners:
            self.account_list.setCurrentRow(min(index, len(self.runners) - 1))
            self._account_selected(self.account_list.currentRow())
        else:
            self._account_selected(-1)

    @Slot()
    def remove_account(self) -> None:
        runner = self.current
        if runner is None:
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Remove account",
                          f"Remove the account “{runner.name}”?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                          self)
        box.setInformativeText("Mail already downloaded stays in its Maildir; nothing is "
                               "deleted on the server. The saved password is removed.")
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")
        if box.exec() != QMessageBox.StandardButton.Yes:
            return
        self._detach(runner)
        if not runner.demo:
            key = runner.account.key
            book = self.book
            BackgroundTask(lambda: book.remove(key), self, executor=serial).start()
            self.keychain.delete_password(key)
        else:
            self._stop_demo_later()
        stopper = BackgroundTask(lambda: runner.shutdown(5.0), self, name="stop engine")
        stopper.finished.connect(runner.deleteLater)
        stopper.start()

    # ================================================================== demo

    @Slot()
    def start_demo(self) -> None:
        existing = next((r for r in self.runners if r.demo), None)
        if existing is not None:
            self.select_runner(existing)
            return
        if self.demo is not None:
            return  # starting
        self.demo = self.demo_factory()
        demo = self.demo
        self.statusBar().showMessage("Preparing the demo mailbox…")
        self.welcome_demo.setEnabled(False)
        self.act_demo.setEnabled(False)
        task = BackgroundTask(demo.start, self, name="demo server")
        task.done.connect(self._demo_started)
        task.failed.connect(self._demo_failed)
        task.start()

    @Slot(object)
    def _demo_started(self, account: Account) -> None:
        assert self.demo is not None
        self.statusBar().showMessage(
            f"Demo server on {account.host}:{account.port}: throttled to "
            f"{fmt.rate(self.demo.rate or 0)}, with an occasional dropped connection", 8000)
        runner = self.add_runner(account, demo=True, fixed_password=DEMO_PASSWORD,
                                 engine_factory=self.demo.engine_factory)
        self.select_runner(runner)
        runner.start()

    @Slot(object)
    def _demo_failed(self, exc: BaseException) -> None:
        self.demo = None
        self.welcome_demo.setEnabled(True)
        self.act_demo.setEnabled(True)
        QMessageBox.warning(self, "popfetch", f"The demo server could not start: {exc}")

    def _stop_demo_later(self) -> None:
        demo, self.demo = self.demo, None
        self.welcome_demo.setEnabled(True)
        self.act_demo.setEnabled(True)
        if demo is not None:
            BackgroundTask(demo.stop, self, name="stop demo").start()

    # ================================================================== selection helpers

    def selected_uidls(self) -> list[str]:
        rows = self.table.selectionModel().selectedRows()
        return [str(self.proxy.data(ix, UidlRole)) for ix in rows]

    def _selected_states(self) -> list[tuple[str, MessageState]]:
        out = []
        for ix in self.table.selectionModel().selectedRows():
            out.append((str(self.proxy.data(ix, UidlRole)), self.proxy.data(ix, StateRole)))
        return out

    # ================================================================== commands

    @Slot()
    def check(self) -> None:
        """F5: connect if not connected (that loads the list), else reload the list."""
        runner = self.current
        if runner is None:
            return
        if runner.connection.state in (ConnectionState.DISCONNECTED, ConnectionState.FAILED):
            runner.retry_now()
        else:
            runner.refresh()

    @Slot()
    def retry_now(self) -> None:
        if self.current is not None:
            self.current.retry_now()

    @Slot()
    def download_selected(self) -> None:
        if self.current is None:
            return
        uidls = [u for u, st in self._selected_states()
                 if st not in (MessageState.STORED, MessageState.GONE)]
        if uidls:
            self.current.download(uidls)

    @Slot()
    def download_all(self) -> None:
        if self.current is not None:
            self.current.download(None)

    @Slot()
    def toggle_selected(self) -> None:
        """Space: pause what moves in the selection; else resume what is paused in it."""
        if self.current is None:
            return
        states = self._selected_states()
        active = [u for u, st in states if st in ACTIVE]
        if active:
            self.current.pause(active)
            return
        waiting = [u for u, st in states if st in RESUMABLE]
        if waiting:
            self.current.resume(waiting)

    @Slot()
    def pause_all(self) -> None:
        if self.current is not None:
            self.current.pause(None)

    @Slot()
    def resume_all(self) -> None:
        """Every paused message, by UIDL: also those paused in an earlier session (the
        engine's resume(None) covers only what was paused since it started)."""
        if self.current is None:
            return
        model = self.current.model
        paused = [u for u in model.uidls() if model.state_of(u) == MessageState.PAUSED]
        if paused:
            self.current.resume(paused)

    @Slot()
    def cancel_selected(self) -> None:
        if self.current is None:
            return
        uidls = [u for u, st in self._selected_states()
                 if st in ACTIVE or st == MessageState.PAUSED]
        if uidls:
            self.current.cancel(uidls)

    @Slot()
    def mark_selected(self) -> None:
        if self.current is None:
            return
        uidls = [u for u, st in self._selected_states() if st != MessageState.GONE]
        if uidls:
            self.current.mark(uidls)

    @Slot()
    def unmark_selected(self) -> None:
        if self.current is not None and self.selected_uidls():
            self.current.unmark(self.selected_uidls())

    @Slot()
    def unmark_all(self) -> None:
        if self.current is not None:
            marked = self.current.model.marked_uidls()
            if marked:
                self.current.unmark(marked)

    @Slot()
    def mark_stored(self) -> None:
        if self.current is None:
            return
        model = self.current.model
        stored = [u for u in model.uidls() if model.state_of(u) == MessageState.STORED]
        if stored:
            self.current.mark(stored)

    @Slot()
    def commit(self) -> None:
        runner = self.current
        if runner is None:
            return
        t = runner.model.totals()
        if t.marked == 0:
            self.statusBar().showMessage("No message is marked for deletion.", 5000)
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning, "Delete on the server",
            f"Delete {_messages(t.marked)} ({fmt.size(t.marked_bytes)}) from the server "
            f"“{runner.name}”?",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("commitConfirm")
        not_stored = [u for u in runner.model.marked_uidls()
                      if runner.model.state_of(u) != MessageState.STORED]
        extra = ""
        if not_stored:
            extra = (f"\n\n{_messages(len(not_stored)).capitalize()} of them "
                     f"{'is' if len(not_stored) == 1 else 'are'} not downloaded: "
                     "they will be gone for good.")
        box.setInformativeText("popfetch ends the session with QUIT and the server removes "
                               "them. This cannot be undone." + extra)
        box.button(QMessageBox.StandardButton.Ok).setText("Delete on server")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        if box.exec() != QMessageBox.StandardButton.Ok:
            return
        self.statusBar().showMessage("Committing: the server deletes the marked messages…")
        runner.commit()

    @Slot()
    def disconnect(self) -> None:
        if self.current is not None:
            self.current.disconnect()
            self.statusBar().showMessage(
                "Disconnected without committing: nothing was deleted on the server.", 8000)

    @Slot()
    def focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    @Slot()
    def open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self._open_index(rows[0])

    @Slot(QModelIndex)
    def _double_clicked(self, index: QModelIndex) -> None:
        self._open_index(index)

    def _open_index(self, index: QModelIndex) -> None:
        if self.current is None:
            return
        state = self.proxy.data(index, StateRole)
        uidl = str(self.proxy.data(index, UidlRole))
        if state == MessageState.STORED:
            path = str(self.proxy.data(index, PathRole) or "")
            if path:
                from gui.viewer import MessageViewer

                subject = str(self.proxy.data(index.siblingAtColumn(Column.SUBJECT)) or "")
                self._show_dialog(MessageViewer(path, subject, self))
            else:
                self.statusBar().showMessage(
                    "This message was stored in an earlier session; open it from the "
                    "Maildir with your mail program.", 6000)
        elif state in RESUMABLE:
            self.current.download([uidl])

    def _table_menu(self, pos: Any) -> None:
        menu = QMenu(self)
        for act in (self.act_open, self.act_download, self.act_toggle, self.act_cancel):
            menu.addAction(act)
        menu.addSeparator()
        for act in (self.act_mark, self.act_unmark, self.act_commit):
            menu.addAction(act)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    @Slot()
    def about(self) -> None:
        QMessageBox.about(
            self, "About popfetch",
            f"<h3>popfetch {__version__}</h3>"
            "<p>A desktop POP3 mail fetcher that pauses, resumes and survives dropped "
            "connections. Mail is stored in a Maildir; nothing is deleted on the server "
            "until you commit.</p><p>MIT licence.</p>")

    def _show_dialog(self, dialog: QDialog) -> None:
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
            self._show_certificate(runner, event)
        elif event.auth and runner.asks_password and "no password was entered" not in (
            event.message
        ):
            runner.retry_now()  # asks again, saying the server refused it
        # A non-fatal error always comes with a reconnect: the connection label says so,
        # with the reason in its tooltip, and the log keeps it.
        if runner is self.current:
            self._update_error_banner()

    def _show_certificate(self, runner: AccountRunner, event: ErrorOccurred) -> None:
        info = event.certificate
        assert info is not None
        dialog = CertificateDialog(info, runner.name, self)

        def trusted() -> None:
            account = with_pin(runner.account, info.sha256)
            if not runner.demo:
                book = self.book
                BackgroundTask(lambda: book.update(account), self, executor=serial).start()
            runner.update_account(account)
            runner.retry_now()

        dialog.accepted.connect(trusted)
        self._show_dialog(dialog)

    @Slot(object)
    def _ask_password(self, request: PasswordRequest) -> None:
        dialog = PasswordDialog(request.account, request.reason, request.keychain_available,
                                self)
        dialog.accepted.connect(lambda: request.reply(dialog.edit.text(),
                                                      dialog.remember.isChecked()))
        dialog.rejected.connect(lambda: request.reply(None))
        self._show_dialog(dialog)

    @Slot(object)
    def _password_saved(self, result: tuple[str, bool, str]) -> None:
        key, ok, problem = result
        if ok:
            self.statusBar().showMessage(f"Password for {key} saved in the keychain.", 5000)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Password not saved",
                          f"The password for {key} could not be saved in the keychain.",
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("keychainProblem")
        box.setInformativeText(problem + " It is kept in memory until popfetch quits; after "
                               "that popfetch asks for it each time it connects.")
        self._show_dialog(box)

    @Slot(object)
    def _on_commit_finished(self, event: CommitFinished) -> None:
        runner = self.sender()
        name = runner.name if isinstance(runner, AccountRunner) else "the server"
        answer = event.text.strip() or ("OK" if event.ok else "no answer")
        if event.ok:
            text = (f"The server “{name}” deleted {_messages(len(event.deleted))}. "
                    f"It answered: “{answer}”")
        else:
            text = (f"The server “{name}” could not delete every marked message. It answered: "
                    f"“{answer}”. The messages stay marked; commit again later.")
        self.last_report = text
        self.log.note(name, text)
        if isinstance(runner, AccountRunner) and runner in self._closing_after_commit:
            self._closing_after_commit.discard(runner)
            if not self._closing_after_commit:
                self._really_close = True
                QTimer.singleShot(0, self.close)
            return
        box = QMessageBox(QMessageBox.Icon.Information if event.ok else QMessageBox.Icon.Warning,
                          "Commit finished", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("commitReport")
        self._show_dialog(box)
        self.statusBar().showMessage(text, 10000)

    # ================================================================== status

    def _update_connection_ui(self) -> None:
        self.status.show_connection(self.current)

    def _update_error_banner(self) -> None:
        runner = self.current
        err = runner.last_error if runner is not None else None
        show = runner is not None and err is not None and (
            runner.connection.state is ConnectionState.FAILED or runner.needs_password)
        if show and err is not None:
            self.error_label.setText(err.message)
        self.error_banner.setVisible(bool(show))

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
        if runner is None:
            self.marks_banner.hide()
            return
        t = runner.model.totals()
        if t.marked:
            self.marks_label.setText(
                f"<b>{_messages(t.marked).capitalize()} ({fmt.size(t.marked_bytes)}) marked "
                "for deletion.</b> They are deleted on the server only when you commit "
                "(Ctrl+Return); until then nothing changes there.")
        self.marks_banner.setVisible(t.marked > 0)
        self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        runner = self.current
        has = runner is not None
        states = [st for _, st in self._selected_states()] if has else []
        t = runner.model.totals() if runner is not None else None
        connected = has and runner is not None and runner.connection.state in (
            ConnectionState.CONNECTED, ConnectionState.RECONNECTING, ConnectionState.CONNECTING)
        self.act_check.setEnabled(has)
        self.act_download.setEnabled(any(s in RESUMABLE for s in states))
        self.act_download_all.setEnabled(bool(t and t.count > t.stored))
        self.act_toggle.setEnabled(any(s in ACTIVE or s in RESUMABLE for s in states))
        self.act_pause_all.setEnabled(bool(t and t.active))
        self.act_resume_all.setEnabled(bool(t and t.paused))
        self.act_cancel.setEnabled(any(s in ACTIVE or s == MessageState.PAUSED for s in states))
        self.act_mark.setEnabled(any(s != MessageState.GONE for s in states))
        self.act_unmark.setEnabled(bool(states))
        self.act_unmark_all.setEnabled(bool(t and t.marked))
        self.act_mark_stored.setEnabled(bool(t and t.stored))
        self.act_commit.setEnabled(bool(t and t.marked))
        self.act_disconnect.setEnabled(bool(connected))
        self.act_retry.setEnabled(has)
        self.act_open.setEnabled(bool(states))
        self.act_edit.setEnabled(has and runner is not None and not runner.demo)
        self.act_remove.setEnabled(has)
        if any(s in ACTIVE for s in states):
            self.act_toggle.setIcon(icons.icon("pause"))
            self.act_toggle.setText("&Pause")
        else:
            self.act_toggle.setIcon(icons.icon("resume"))
            self.act_toggle.setText("&Resume")

    # ================================================================== closing

    def pending_summary(self) -> tuple[int, int, int]:
        """(marked messages, their octets, active transfers) over every account."""
        marked = octets = active = 0
        for runner in self.runners:
            t = runner.model.totals()
            marked += t.marked
            octets += t.marked_bytes
            active += t.active
        return marked, octets, active

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._really_close:
            marked, octets, active = self.pending_summary()
            if marked or active:
                choice = self._ask_close(marked, octets, active)
                if choice == QMessageBox.StandardButton.Cancel:
                    event.ignore()
                    return
                if choice == QMessageBox.StandardButton.Save and marked:
                    event.ignore()
                    self._closing_after_commit = {
                        r for r in self.runners if r.model.totals().marked}
                    for runner in self._closing_after_commit:
                        runner.commit()
                    self.statusBar().showMessage("Committing before quitting…")
                    QTimer.singleShot(30_000, self._force_close)
                    return
        self.save_settings()
        self.shutdown()
        event.accept()

    def _force_close(self) -> None:
        if self._closing_after_commit:
            self._closing_after_commit.clear()
            self._really_close = True
            self.close()

    def _ask_close(self, marked: int, octets: int, active: int) -> QMessageBox.StandardButton:
        parts = []
        if marked:
            parts.append(f"{_messages(marked)} ({fmt.size(octets)}) marked for deletion")
        if active:
            parts.append(f"{active} download{'s' if active != 1 else ''} in progress")
        box = QMessageBox(QMessageBox.Icon.Question, "Quit popfetch",
                          "You have " + " and ".join(parts) + ".", parent=self)
        box.setObjectName("closeQuestion")
        info = []
        if marked:
            info.append("Marked messages are deleted on the server only when you commit. "
                        "If you quit without committing, they stay on the server and stay "
                        "marked for next time.")
        if active:
            info.append("Downloads stop; their partial bytes are kept and they resume next "
                        "time.")
        box.setInformativeText(" ".join(info))
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if marked:
            buttons |= QMessageBox.StandardButton.Save
        box.setStandardButtons(buttons)
        if marked:
            box.button(QMessageBox.StandardButton.Save).setText("Commit and quit")
        box.button(QMessageBox.StandardButton.Discard).setText(
            "Quit without committing" if marked else "Quit")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return QMessageBox.StandardButton(box.exec())

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
        if self.demo is not None:
            self.demo.stop()
            self.demo = None


def _messages(n: int) -> str:
    return f"{n} message" if n == 1 else f"{n} messages"
