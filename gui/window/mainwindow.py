"""The main window: accounts on the left, the message list on the right, status below.

The window lays out the widgets and composes the parts, each given only what it needs:
the runner registry (gui.registry), the actions bound to command functions of (runner,
selection, host) (gui.window.actions, gui.window.commands), account management
(gui.window.accountmanager), the engine's dialogs (gui.dialogs.prompts) and the quit
question (gui.window.closing). The window is their Host: it shows dialogs and messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, QSettings, Qt, QTimer, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
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
from core.accounts import Account, AccountBook, data_dir
from core.engine.events import CommitFinished, ConnectionChanged, ConnectionState, ErrorOccurred
from core.text import sanitize
from gui import icons
from gui.demo import DemoService
from gui.desktop.presence import DesktopPresence
from gui.dialogs.help import files_box, shortcuts_box
from gui.dialogs.prompts import Prompts
from gui.dialogs.settings import SettingsDialog
from gui.keyring_access import KeychainAccess
from gui.models.allaccounts import AllAccountsModel
from gui.models.filterproxy import MessageFilterProxy
from gui.registry import RunnerRegistry
from gui.runner import AccountRunner, EngineFactory, default_engine_factory
from gui.settings import AppSettings
from gui.window.accountlist import AccountList
from gui.window.accountmanager import AccountManager
from gui.window.actions import WindowActions
from gui.window.banners import BannerArea, ErrorBanner, MarksBanner
from gui.window.closing import CloseGuard
from gui.window.commands import Command, commit_report
from gui.window.logdock import LogDock
from gui.window.messagetable import MessageTable
from gui.window.statusbar import StatusPanel, login_delay_text
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
        self.app_settings = AppSettings(settings)
        self.book = book if book is not None else AccountBook()
        self.keychain = keychain if keychain is not None else KeychainAccess(self)
        self.engine_factory = engine_factory
        self.engine_kwargs = engine_kwargs or {}
        self.registry = RunnerRegistry(self)
        self.all_model = AllAccountsModel(self.registry, self)  # "All accounts"
        self.all_view = False
        self.last_report: str = ""  # the last commit report shown
        self._dialogs: list[QDialog] = []

        self.setObjectName("mainWindow")
        self.setWindowTitle("popfetch")
        self.setWindowIcon(icons.app_icon())
        self.accounts = AccountManager(self.registry, self, self.book, self.keychain,
                                       self.make_runner, demo_factory, self)
        self.closer = CloseGuard(self.registry, self, self.close, self)
        self.prompts = Prompts(self, self.book, self)
        self.acts = WindowActions(self, self._bind)
        self._build_ui()
        self._connect_actions()
        self.acts.fill_menus(self.menuBar(), (self.toolbar.toggleViewAction(),))
        self._restore_settings()
        self.registry.added.connect(self._runner_added)
        self.registry.removed.connect(self._runner_removed)
        self.registry.currentChanged.connect(self._current_changed)
        self.registry.changed.connect(self._runner_changed)
        self.accounts.demoAvailable.connect(self._demo_available)
        self._current_changed(None)
        self.keychain.saved.connect(self.prompts.password_saved)
        self.keychain.failed.connect(lambda text: self.report_error("Keychain", text))
        self.keychain.probe()
        # Tray, notifications and scheduled checks (gui/desktop), fed by the registry.
        self.desktop = DesktopPresence(self.registry, self, open_message=self.show_message,
                                       note=self.log.note, report=self.report_error,
                                       settings=settings)

    # ================================================================== Host

    def widget(self) -> QWidget:
        return self

    def show_dialog(self, dialog: QDialog) -> None:
        """Non-blocking: the event loop (and so the transfers' progress) keeps running."""
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs.append(dialog)
        dialog.finished.connect(lambda _=0, d=dialog: self._dialogs.remove(d)
                                if d in self._dialogs else None)
        dialog.open()

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def report_error(self, title: str, text: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, title, sanitize(text, 2000),
                          QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorReport")
        self.show_dialog(box)

    def open_dialogs(self) -> list[QDialog]:
        return list(self._dialogs)

    # ================================================================== construction

    @property
    def current(self) -> AccountRunner | None:
        return self.registry.current

    @property
    def runners(self) -> list[AccountRunner]:
        return self.registry.runners()

    @property
    def demo_factory(self) -> Callable[[], DemoService]:
        return self.accounts.demo_factory

    @demo_factory.setter
    def demo_factory(self, factory: Callable[[], DemoService]) -> None:
        self.accounts.demo_factory = factory

    def _bind(self, command: Command) -> Callable[[], None]:
        """A slot that runs ``command`` on the current account and the selection."""
        def run() -> None:
            runner = self.registry.current
            if runner is not None:
                command(runner, self.table.selected_states(), self)
        return run

    def _build_ui(self) -> None:
        # --- left: accounts
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(4, 4, 0, 4)
        lv.addWidget(QLabel("<b>Accounts</b>"))
        self.account_list = AccountList()
        self.account_list.currentRowChanged.connect(self._account_clicked)
        for act in self.acts.account_actions():
            self.account_list.addAction(act)
        lv.addWidget(self.account_list, 1)
        add = QPushButton(icons.icon("account"), "Add account…")
        add.setToolTip(self.acts.add.toolTip())
        add.clicked.connect(self.acts.add.trigger)
        lv.addWidget(add)

        # --- right: welcome page or messages page
        self.stack = QStackedWidget()
        self.welcome = WelcomePage()
        self.welcome.add_button.clicked.connect(self.acts.add.trigger)
        self.welcome.demo_button.clicked.connect(self.acts.demo.trigger)
        self.stack.addWidget(self.welcome)
        page = QWidget()
        pv = QVBoxLayout(page)
        pv.setContentsMargins(0, 4, 4, 0)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("filterEdit")
        self.filter_edit.setPlaceholderText("Filter by sender or subject (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Show only messages whose sender or subject contains this")
        pv.addWidget(self.filter_edit)

        self.proxy = MessageFilterProxy(self)
        self.filter_edit.textChanged.connect(self.proxy.set_filter_text)
        self.table = MessageTable(self.proxy)
        self.table.doubleClicked.connect(self.acts.open.trigger)
        self.table.addAction(self.acts.open)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._table_menu)
        self.table.selectionModel().selectionChanged.connect(self._update_actions)
        pv.addWidget(self.table, 1)

        self.error_banner = ErrorBanner()
        self.error_banner.retry.clicked.connect(self.acts.retry.trigger)
        self.error_banner.sign_in.clicked.connect(self.accounts.sign_in_again)
        self.accounts.signingIn.connect(lambda busy: self.error_banner.sign_in.setDisabled(busy))
        self.marks_banner = MarksBanner(self.acts.commit.toolTip(),
                                        self.acts.unmark_all.toolTip())
        self.marks_banner.commit.clicked.connect(self.acts.commit.trigger)
        self.marks_banner.unmark.clicked.connect(self.acts.unmark_all.trigger)
        self.banners = BannerArea([self.error_banner, self.marks_banner])
        self.table.keep_bottom(self.banners)
        self.banners.heightChanged.connect(self.table.reserve)
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
        self.log.visibilityChanged.connect(self.acts.log.setChecked)

        # --- status bar
        self.status = StatusPanel(self.statusBar(), self.acts.retry, self)
        self.status.retry_button.clicked.connect(self.acts.retry.trigger)
        self._totals_timer = QTimer(self)  # status bar figures at most 4 times a second
        self._totals_timer.setSingleShot(True)
        self._totals_timer.setInterval(250)
        self._totals_timer.timeout.connect(self._update_totals)

    def _connect_actions(self) -> None:
        a = self.acts
        a.filter.triggered.connect(self.focus_filter)
        a.log.toggled.connect(self.log.setVisible)
        a.add.triggered.connect(self.accounts.add_account)
        a.edit.triggered.connect(self.accounts.edit_account)
        a.remove.triggered.connect(self.accounts.remove_account)
        a.demo.triggered.connect(self.accounts.start_demo)
        a.settings.triggered.connect(self.open_settings)
        a.shortcuts.triggered.connect(
            lambda: self.show_dialog(shortcuts_box(self.acts.shortcut_table(), self)))
        a.files.triggered.connect(lambda: self.show_dialog(files_box(self)))
        a.about.triggered.connect(self.about)
        a.about_qt.triggered.connect(QApplication.aboutQt)
        a.quit.triggered.connect(self.close)

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
        current = self.registry.current
        if current is not None and not current.demo:
            self.app_settings.current_account = current.account.key
        s.sync()

    @Slot()
    def open_settings(self) -> None:
        demo = self.accounts.demo
        root = demo.root if demo is not None else data_dir() / "demo"
        self.show_dialog(SettingsDialog(self.app_settings, Path(root), demo is not None, self))

    # ================================================================== accounts

    def load_accounts(self) -> None:
        self.accounts.load_accounts(self.app_settings.current_account,
                                    connect=self.app_settings.connect_at_start)

    def add_account(self) -> None:
        self.accounts.add_account()

    def start_demo(self) -> None:
        self.accounts.start_demo()

    def make_runner(self, account: Account, *, demo: bool = False,
                    fixed_password: str | None = None,
                    engine_factory: EngineFactory | None = None,
                    state_dir: Path | None = None) -> AccountRunner:
        return AccountRunner(
            account,
            keychain=None if demo else self.keychain,
            fixed_password=fixed_password,
            engine_factory=engine_factory or self.engine_factory,
            engine_kwargs=self.engine_kwargs,
            demo=demo,
            state_dir=state_dir,
            parent=self,
        )

    def add_runner(self, account: Account, **kwargs: Any) -> AccountRunner:
        """Create an account's runner and list it (not started)."""
        runner = self.make_runner(account, **kwargs)
        self.registry.add(runner)
        return runner

    def select_runner(self, runner: AccountRunner) -> None:
        self.registry.set_current(runner)

    def show_message(self, runner: AccountRunner, uidl: str) -> None:
        """Show ``runner``'s list with ``uidl`` selected (a notification was clicked)."""
        self.registry.set_current(runner)
        row = runner.model.row_of(uidl)
        if row is None:
            return
        index = self.proxy.mapFromSource(runner.model.index(row, 0))
        if index.isValid():
            self.table.setCurrentIndex(index)
            self.table.scrollTo(index)

    @Slot(object, int)
    def _runner_added(self, runner: AccountRunner, index: int) -> None:
        self.account_list.insert_quietly(index)
        runner.connectionChanged.connect(self._on_connection)
        runner.errorOccurred.connect(self._on_error)
        runner.commitFinished.connect(self._on_commit_finished)
        runner.passwordNeeded.connect(self.prompts.password)
        runner.bridge.transcriptLines.connect(self._transcript)
        runner.model.totalsChanged.connect(self._schedule_totals)
        runner.model.marksChanged.connect(self._update_marks_banner)
        runner.model.modelReset.connect(self._update_actions)
        runner.model.rowsInserted.connect(self._update_actions)
        self._refresh_account_items()

    @Slot(object, int)
    def _runner_removed(self, runner: AccountRunner, index: int) -> None:
        for sig in (runner.connectionChanged, runner.errorOccurred, runner.commitFinished,
                    runner.passwordNeeded, runner.bridge.transcriptLines,
                    runner.model.totalsChanged, runner.model.marksChanged):
            sig.disconnect()
        self.account_list.remove_quietly(index)
        self._refresh_account_items()

    @Slot(int)
    def _account_clicked(self, row: int) -> None:
        runners = self.registry.runners()
        if 0 <= row < len(runners):
            self.registry.set_current(runners[row])
        elif row == len(runners) and len(runners) >= 2:
            self.show_all_accounts()

    def show_all_accounts(self) -> None:
        """Every account's messages in one list; no account is current, so the commands
        (which act on one account) are off, and the status bar sums every account."""
        self.registry.set_current(None)
        self.all_view = True
        self.account_list.select_quietly(len(self.registry))
        self.table.show_model(self.all_model)
        self.stack.setCurrentWidget(self.messages_page)
        self.setWindowTitle("All accounts — popfetch")
        self._update_totals()

    @Slot(object)
    def _current_changed(self, runner: AccountRunner | None) -> None:
        self.all_view = False
        if runner is not None:
            self.account_list.select_quietly(self.registry.index(runner))
        self.table.show_model(runner.model if runner else None)
        self.stack.setCurrentWidget(self.messages_page if runner else self.welcome)
        self.setWindowTitle(f"{runner.name} — popfetch" if runner else "popfetch")
        self._update_marks_banner()
        self._update_connection_ui()
        self._update_totals()
        self._update_error_banner()
        self._update_actions()

    @Slot(object)
    def _runner_changed(self, runner: AccountRunner) -> None:
        self._refresh_account_items()
        if runner is self.registry.current:
            self._update_connection_ui()
            self._update_error_banner()

    def _refresh_account_items(self) -> None:
        self.account_list.refresh(self.registry.runners())
        self.account_list.show_all_item(len(self.registry) >= 2, len(self.registry))

    @Slot(bool)
    def _demo_available(self, available: bool) -> None:
        self.welcome.demo_button.setEnabled(available)
        self.acts.demo.setEnabled(available)

    # ================================================================== small commands

    @Slot()
    def focus_filter(self) -> None:
        self.filter_edit.setFocus()
        self.filter_edit.selectAll()

    @Slot()
    def about(self) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information, "About popfetch",
            f"<h3>popfetch {__version__}</h3>"
            "<p>A desktop POP3 mail fetcher that pauses, resumes and survives dropped "
            "connections. Mail is stored in a Maildir; nothing is deleted on the server "
            "until you commit.</p><p>MIT licence.</p>", QMessageBox.StandardButton.Ok, self)
        box.setIconPixmap(icons.app_icon().pixmap(64, 64))
        box.setObjectName("aboutBox")
        self.show_dialog(box)

    # ================================================================== events

    def _runner_of(self, obj: object) -> AccountRunner | None:
        return obj if isinstance(obj, AccountRunner) else None

    @Slot(object)
    def _transcript(self, lines: list[Any]) -> None:
        bridge = self.sender()
        runner = next((r for r in self.registry if r.bridge is bridge), None)
        if runner is not None:
            self.log.add(runner.name, lines)

    @Slot(object)
    def _on_connection(self, event: ConnectionChanged) -> None:
        runner = self._runner_of(self.sender())
        if runner is None:
            return
        self.log.note(runner.name, f"{event.state.value}: {event.detail}")
        if event.login_delay is not None and event.state is ConnectionState.CONNECTED:
            self.log.note(runner.name, login_delay_text(event.login_delay))
        if runner is self.registry.current:
            if event.state is ConnectionState.RECONNECTING:
                self.status.reconnect_at(time.monotonic() + event.retry_in)
            self._update_connection_ui()
            self._update_error_banner()
            self._update_actions()

    @Slot(object)
    def _on_error(self, event: ErrorOccurred) -> None:
        runner = self._runner_of(self.sender())
        if runner is None:
            return
        if event.left_on_server:
            self.log.note(runner.name, f"left on the server: {event.message}")
            if runner is self.registry.current:
                self.show_status(f"Left on the server (not downloaded, not deleted): "
                                 f"{sanitize(event.message, 200)}", 30000)
            return
        self.log.note(runner.name, f"error: {event.message}")
        if event.certificate is not None:
            self.prompts.certificate(runner, event)
        elif event.auth and runner.asks_password and "no password was entered" not in (
            event.message
        ):
            runner.retry_now()  # asks again, saying the server refused it
        # A non-fatal error comes with a reconnect: the connection label shows its reason.
        if runner is self.registry.current:
            self._update_connection_ui()
            self._update_error_banner()

    @Slot(object)
    def _on_commit_finished(self, event: CommitFinished) -> None:
        runner = self._runner_of(self.sender())
        name = runner.name if runner is not None else "the server"
        text = commit_report(name, event)
        self.last_report = text
        self.log.note(name, text)
        if runner is not None and self.closer.commit_finished(runner):
            return  # quitting: no report box
        box = QMessageBox(QMessageBox.Icon.Information if event.ok else QMessageBox.Icon.Warning,
                          "Commit finished", text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("commitReport")
        self.show_dialog(box)
        self.show_status(text, 10000)

    # ================================================================== status

    def _update_connection_ui(self) -> None:
        self.status.show_connection(self.registry.current)

    def _update_error_banner(self) -> None:
        self.error_banner.show_for(self.registry.current)

    @Slot()
    def _schedule_totals(self) -> None:
        if not self._totals_timer.isActive():
            self._totals_timer.start()

    @Slot()
    def _update_totals(self) -> None:
        runner = self.registry.current
        if self.all_view:
            self.status.show_totals(self.all_model.totals())
        else:
            self.status.show_totals(runner.model.totals() if runner else None)
        self._update_actions()

    @Slot()
    def _update_marks_banner(self) -> None:
        runner = self.registry.current
        self.marks_banner.show_totals(runner.model.totals() if runner is not None else None)
        if runner is not None:
            self._update_actions()

    @Slot()
    def _update_actions(self) -> None:
        runner = self.registry.current
        states = [st for _, st in self.table.selected_states()] if runner is not None else []
        self.acts.update(runner, states)

    # ================================================================== closing

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.closer.really_close and self.desktop.keep_running_in_tray():
            self.hide()  # popfetch goes on in the tray
            event.ignore()
            return
        if not self.app_settings.ask_before_quit:
            self.closer.really_close = True
        if not self.closer.may_close():
            event.ignore()
            return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every engine (no QUIT: nothing deleted) and the demo server, in parallel."""
        for dialog in list(self._dialogs):
            dialog.close()
        self.desktop.close()
        threads = []
        for runner in self.registry:
            runner.bridge.close()
            t = threading.Thread(target=runner.shutdown, args=(timeout,), daemon=True)
            t.start()
            threads.append(t)
        deadline = time.monotonic() + timeout + 1
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.accounts.stop_demo()
