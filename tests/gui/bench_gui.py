"""GUI responsiveness benchmark (run by hand, not a test):

    python tests/gui/bench_gui.py [--size-mb 200] [--small 2000 --small-kb 4] [--rounds 3]
                                  [--dir DIR] [--rows 100000] [--list 20000]
                                  [--skip-download] [--skip-rows]

1. A large message (--size-mb; 0 skips it), then many small ones (--small; 0 skips it),
   download at full speed from the demo server (a process of its own) on loopback, in
   the app (the real MainWindow, offscreen) while a 5 ms QTimer on the GUI thread
   measures how late it fires (p50 / p99 / max). The same download runs headless: the
   same Engine with no Qt in the process (``popfetch fetch``'s engine), and the CLI as a
   whole. Rounds alternate engine, CLI, app, each into its own empty Maildir and state
   directory under --dir (the same Store, the same fsyncs; /dev/shm leaves out the
   disk's noise). Each side starts once the list is there (for the app: painted, as the
   user sees it before "Download all") and ends when it learns of the last message
   stored: the engine's listener on its own thread; the app's model showing it on the GUI
   thread (and, for reference, when that event reached the GUI thread). Both ends are
   signals, not polls. The app keeps its protocol log (the transcript) on; the engine
   alone and the CLI have none.
2. A server with 20,000 messages: the time until the list shows, app vs engine alone.
3. A model of 100,000 messages: time to load it into the table, to paint it, to scroll
   through it, to sort it by size, to filter it, and to apply a burst of progress.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def make_mailbox(root: Path, size: int) -> Path:
    from core.demoserver.sample import make_demo_mailbox

    path = root / "mailbox"
    make_demo_mailbox(path, count=0, large_sizes=(size,))
    return path


def make_small_mailbox(root: Path, count: int, size: int) -> Path:
    """``count`` messages of ``size`` octets each (LF form), short lines as mail has."""
    path = root / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True)
    line = b"the quick brown fox jumps over the lazy dog, and again, and again.\n"
    for i in range(count):
        head = (b"From: Sender %d <s@example.org>\nSubject: small message %d\n"
                b"Date: Mon, 01 Sep 2026 10:00:00 +0000\n\n" % (i, i))
        body = (line * (size // len(line) + 1))[: max(0, size - len(head))]
        (path / "new" / f"{1700000000 + i}.M{i}P1.bench").write_bytes(head + body)
    return path


@contextlib.contextmanager
def demo_server(mailbox: Path) -> Iterator[tuple[str, int]]:
    """The demo server in a process of its own, as a real server is: in this process its
    Python would compete for the GIL with the engine's thread and the GUI thread, which
    no real server does."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gui.main", "demo-server", "--port", "0", "--maildir",
         str(mailbox), "--user", "demo", "--password", "demo"],
        cwd=str(ROOT), env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "popfetch demo-server: POP3 on HOST:PORT, ..."
        host, _, port = line.split(" on ", 1)[1].split(",", 1)[0].rpartition(":")
        yield host, int(port)
    finally:
        proc.terminate()
        proc.wait(30)


def headless_engine(account_kwargs: dict[str, object], maildir: Path, state: Path,
                    count: int) -> float:
    """The engine alone, no Qt: seconds from download() to the ``count`` messages stored
    (the listener hears it on the engine's thread)."""
    from core.accounts import Account
    from core.engine.coordinator import Engine
    from core.engine.events import ListLoaded, MessageState, MessageStateChanged
    from core.store.local import Store

    loaded = threading.Event()
    done = threading.Event()
    stored = [0]

    def listener(ev: object) -> None:
        if isinstance(ev, ListLoaded):
            loaded.set()
        elif isinstance(ev, MessageStateChanged) and ev.state is MessageState.STORED:
            stored[0] += 1
            if stored[0] == count:
                done.set()

    account = Account(maildir=str(maildir), **account_kwargs)  # type: ignore[arg-type]
    engine = Engine(account, password=lambda: "demo", listener=listener,
                    store=Store(maildir, state), transcript=False)
    engine.start()
    assert loaded.wait(30)
    t0 = time.perf_counter()
    engine.download()
    assert done.wait(600)
    elapsed = time.perf_counter() - t0
    engine.shutdown()
    return elapsed


def headless_cli(host: str, port: int, maildir: Path, state: Path) -> float:
    env = dict(os.environ, POPFETCH_PASSWORD="demo", PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gui.main", "fetch", "--host", host, "--port", str(port),
         "--security", "none", "--user", "demo", "--maildir", str(maildir), "--allow-plaintext",
         "--state-dir", str(state), "--quiet"],
        check=True, env=env, cwd=str(ROOT), timeout=600,
    )
    return time.perf_counter() - t0


def in_app(host: str, port: int, maildir: Path, tick_ms: int,
           count: int) -> tuple[float, float, list[float]]:
    """Seconds from "Download all" to the ``count`` messages shown as stored in the
    MainWindow's model, and to their last STORED event reaching the GUI thread; the GUI
    timer's lateness samples (ms). Both ends are signals, not polls."""
    from PySide6.QtCore import QElapsedTimer, QEvent, QEventLoop, QObject, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication, QWidget

    from core.accounts import Account
    from core.engine.events import MessageState, MessageStateChanged
    from core.net import Security
    from gui.window.mainwindow import MainWindow

    class PaintSpy(QObject):
        """Calls ``then`` after each paint of ``widget``."""

        def __init__(self, widget: QWidget, then: Callable[[], None]) -> None:
            super().__init__()
            self._widget = widget
            self._then = then
            widget.installEventFilter(self)

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, self._then)  # after the paint
            return False

        def stop(self) -> None:
            self._widget.removeEventFilter(self)

    app = QApplication.instance() or QApplication([])
    settings = QSettings(str(maildir.parent / "gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings)
    window.resize(1280, 800)
    window.show()
    account = Account(host=host, port=port, security=Security.NONE, user="demo",
                      maildir=str(maildir), allow_plaintext=True)
    runner = window.add_runner(account, fixed_password="demo")
    loop = QEventLoop()
    # The clock starts once the list is painted, as the user sees it before "Download
    # all": the table lays out and paints its new rows a few event-loop turns later.
    shown_list: list[bool] = []

    def list_painted() -> None:
        if not shown_list and runner.model.rowCount() == count:
            shown_list.append(True)
            loop.quit()

    painted = PaintSpy(window.table.viewport(), list_painted)
    runner.start()
    loop.exec()
    painted.stop()

    late: list[float] = []
    clock = QElapsedTimer()
    last = [0]
    tick = QTimer()
    tick.setTimerType(Qt.TimerType.PreciseTimer)
    tick.setInterval(tick_ms)

    def on_tick() -> None:
        now = clock.nsecsElapsed()
        late.append(max(0.0, (now - last[0]) / 1e6 - tick_ms))
        last[0] = now

    tick.timeout.connect(on_tick)
    arrived: list[float] = []
    shown: list[float] = []
    stored = [0]
    t0 = time.perf_counter()

    def on_events(events: list[object]) -> None:  # GUI thread: the bridge's drain
        for ev in events:
            if isinstance(ev, MessageStateChanged) and ev.state is MessageState.STORED:
                stored[0] += 1
                if stored[0] == count:
                    arrived.append(time.perf_counter() - t0)

    def on_totals() -> None:  # GUI thread: the model applied a batch of changes
        if not shown and runner.model.totals().stored == count:
            shown.append(time.perf_counter() - t0)
            loop.quit()

    runner.bridge.eventsArrived.connect(on_events)
    runner.model.totalsChanged.connect(on_totals)
    clock.start()
    last[0] = clock.nsecsElapsed()
    if tick_ms > 0:  # --tick-ms 0: no probe, to see what the probe itself costs
        tick.start()
    t0 = time.perf_counter()
    runner.download(None)
    loop.exec()
    tick.stop()
    window.closer.really_close = True
    window.close()
    app.processEvents()
    return shown[0], arrived[0], late[1:]


def bench_download(label: str, mailbox_of: Callable[[Path], Path], count: int, size: int,
                   tick_ms: int, rounds_n: int = 3, cli: bool = True,
                   where: str | None = None) -> None:
    """Rounds of engine, CLI and app in turn (interleaved), the same server and mailbox,
    each into its own empty Maildir and state directory (the same Store, same fsyncs)."""
    from core.net import Security

    with tempfile.TemporaryDirectory(prefix="popfetch-bench-", dir=where) as tmp_s:
        tmp = Path(tmp_s)
        t = time.perf_counter()
        mailbox = mailbox_of(tmp)
        print(f"mailbox with {label} made in {time.perf_counter() - t:.1f} s; "
              f"downloads into {tmp}")
        with demo_server(mailbox) as (host, port):
            kwargs = {"host": host, "port": port, "security": Security.NONE, "user": "demo",
                      "allow_plaintext": True}
            rounds: dict[str, list[float]] = {"engine": [], "cli": [], "app": [],
                                              "arrived": []}
            lateness: list[float] = []
            for i in range(rounds_n):
                rounds["engine"].append(headless_engine(
                    kwargs, tmp / f"e{i}" / "Maildir", tmp / f"e{i}" / "state", count))
                if cli:
                    rounds["cli"].append(headless_cli(
                        host, port, tmp / f"c{i}" / "Maildir", tmp / f"c{i}" / "state"))
                os.environ["XDG_STATE_HOME"] = str(tmp / f"a{i}" / "xdg-state")
                elapsed, arrived, late = in_app(host, port, tmp / f"a{i}" / "Maildir",
                                                tick_ms, count)
                rounds["app"].append(elapsed)
                rounds["arrived"].append(arrived)
                lateness.extend(late)
        best = {k: min(v) for k, v in rounds.items() if v}
        print(f"download of {label} over loopback, best of {len(rounds['app'])}:")
        for k, name in (("engine", "headless engine (no Qt)"),
                        ("cli", "popfetch fetch (CLI, incl. start-up)"),
                        ("app", "in the app (MainWindow), shown"),
                        ("arrived", "  last event on the GUI thread")):
            if not rounds[k]:
                continue
            med = sorted(rounds[k])[len(rounds[k]) // 2]
            print(f"  {name:<38} best {best[k]:5.2f} s ({size / best[k] / 1e6:5.1f} MB/s), "
                  f"median {med:5.2f} s   runs: {', '.join(f'{x:.2f}' for x in rounds[k])}")
        vs_cli = (f";  app vs CLI: {100 * (best['app'] / best['cli'] - 1):+.1f} %"
                  if "cli" in best else "")
        print(f"  app vs headless engine: {100 * (best['app'] / best['engine'] - 1):+.1f} %"
              + vs_cli)
        print(f"GUI-thread {tick_ms} ms timer lateness during the app downloads "
              f"({len(lateness)} ticks): p50 {pct(lateness, 50):.2f} ms, "
              f"p99 {pct(lateness, 99):.2f} ms, max {max(lateness, default=0):.2f} ms")


def bench_list(count: int) -> None:
    """A server with ``count`` small messages: time until the list (with headers) is shown,
    in the app and by the engine alone, and the GUI timer's lateness meanwhile."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from core.accounts import Account
    from core.engine.coordinator import Engine
    from core.engine.events import ListLoaded
    from core.net import Security
    from gui.window.mainwindow import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="popfetch-bench-list-") as tmp_s:
        tmp = Path(tmp_s)
        mb = tmp / "mailbox"
        for sub in ("new", "cur", "tmp"):
            (mb / sub).mkdir(parents=True)
        for i in range(count):
            (mb / "new" / f"{1700000000 + i}.M{i}P1.bench").write_bytes(
                b"From: Sender %d <s@example.org>\nSubject: message %d\n"
                b"Date: Mon, 01 Sep 2026 10:00:00 +0000\n\nhello\n" % (i, i))
        with demo_server(mb) as (host, port):

            def account(name: str) -> Account:
                return Account(host=host, port=port, security=Security.NONE, user="demo",
                               maildir=str(tmp / name), allow_plaintext=True)

            done = threading.Event()
            engine = Engine(account("e"), password=lambda: "demo",
                            listener=lambda ev: done.set() if isinstance(ev, ListLoaded)
                            else None)
            t0 = time.perf_counter()
            engine.start()
            assert done.wait(300)
            t_engine = time.perf_counter() - t0
            engine.shutdown()

            window = MainWindow(QSettings(str(tmp / "g.ini"), QSettings.Format.IniFormat))
            window.show()
            late: list[float] = []
            clock = QElapsedTimer()
            last = [0]
            tick = QTimer()
            tick.setTimerType(Qt.TimerType.PreciseTimer)
            tick.setInterval(5)

            def on_tick() -> None:
                now = clock.nsecsElapsed()
                late.append(max(0.0, (now - last[0]) / 1e6 - 5))
                last[0] = now

            tick.timeout.connect(on_tick)
            runner = window.add_runner(account("a"), fixed_password="demo")
            loop = QEventLoop()
            check = QTimer()
            check.timeout.connect(lambda: loop.quit() if runner.model.rowCount() == count
                                  else None)
            t0 = time.perf_counter()
            clock.start()
            last[0] = clock.nsecsElapsed()
            tick.start()
            runner.start()
            check.start(10)
            loop.exec()
            t_app = time.perf_counter() - t0
            tick.stop()
            check.stop()
            window.closer.really_close = True
            window.close()
            app.processEvents()
    print(f"list of {count:,} messages with headers (TOP), from connect to shown: "
          f"app {t_app:.2f} s, engine alone {t_engine:.2f} s; GUI {5} ms timer lateness "
          f"meanwhile p50 {pct(late, 50):.1f} ms, p99 {pct(late, 99):.1f} ms, "
          f"max {max(late, default=0):.1f} ms")


def bench_rows(rows: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QTableView

    from core.engine.events import ListLoaded, MessageInfo, MessageState, Progress
    from gui import icons
    from gui.models.columns import Column
    from gui.models.filterproxy import MessageFilterProxy
    from gui.models.model import MessageListModel
    from gui.window.delegate import MessageDelegate

    app = QApplication.instance() or QApplication([])
    states = list(MessageState)
    infos = tuple(
        MessageInfo(f"uidl-{i:07d}", i + 1, 500 + (i * 7919) % 5_000_000,
                    f"Sender {i % 997} <s{i % 997}@example.org>", f"Subject number {i}",
                    f"Mon, {1 + i % 28:02d} Sep 2026 {i % 24:02d}:{i % 60:02d}:00 +0000",
                    states[i % 4], 0, i % 50 == 0)
        for i in range(rows)
    )
    model = MessageListModel(icons=icons.state_icons())
    proxy = MessageFilterProxy()
    proxy.setSourceModel(model)
    view = QTableView()
    view.setItemDelegateForColumn(Column.PROGRESS, MessageDelegate(view))
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    view.verticalHeader().setVisible(False)
    view.resize(1200, 700)
    view.show()
    app.processEvents()

    t = time.perf_counter()
    model.apply(ListLoaded(infos))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    view.viewport().repaint()
    app.processEvents()
    t_paint = time.perf_counter() - t
    print(f"{rows:,} rows: loaded into the model and proxy in {t_load * 1000:.0f} ms, "
          f"first paint {t_paint * 1000:.0f} ms (shown after {(t_load + t_paint):.2f} s)")

    bar = view.verticalScrollBar()
    steps = []
    for k in range(200):
        t = time.perf_counter()
        bar.setValue(int(bar.maximum() * k / 199))
        view.viewport().repaint()
        steps.append((time.perf_counter() - t) * 1000)
    print(f"  scroll (200 jumps across the list, each repainted): p50 {pct(steps, 50):.1f} ms, "
          f"p99 {pct(steps, 99):.1f} ms, max {max(steps):.1f} ms")
    pages = []
    bar.setValue(0)
    for _ in range(200):
        t = time.perf_counter()
        bar.triggerAction(bar.SliderAction.SliderPageStepAdd)
        view.viewport().repaint()
        pages.append((time.perf_counter() - t) * 1000)
    print(f"  page down x200: p50 {pct(pages, 50):.1f} ms, p99 {pct(pages, 99):.1f} ms")

    t = time.perf_counter()
    view.sortByColumn(Column.SIZE, Qt.SortOrder.DescendingOrder)
    app.processEvents()
    print(f"  sort by size: {(time.perf_counter() - t) * 1000:.0f} ms")
    t = time.perf_counter()
    proxy.set_filter_text("number 4242")
    app.processEvents()
    print(f"  filter ('number 4242', {proxy.rowCount()} rows match): "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")
    proxy.set_filter_text("")
    view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
    app.processEvents()
    t = time.perf_counter()
    for i in range(0, rows, max(1, rows // 1000)):
        model.apply(Progress(f"uidl-{i:07d}", 100, 1000, 1e6))
    model.flush_changes()
    view.viewport().repaint()
    print(f"  1,000 progress events spread over the list, one flush + repaint: "
          f"{(time.perf_counter() - t) * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tick-ms", type=int, default=5,
                        help="interval of the GUI-thread probe timer; 0: no probe")
    parser.add_argument("--rounds", type=int, default=3, help="downloads of each kind")
    parser.add_argument("--small", type=int, default=2000,
                        help="messages of --small-kb each for the many-small download; 0: skip")
    parser.add_argument("--small-kb", type=int, default=4)
    parser.add_argument("--dir", help="where the downloads go (default: the temp dir); "
                        "/dev/shm takes the disk's noise out of the comparison")
    parser.add_argument("--skip-download", action="store_true")
    parser.add_argument("--skip-rows", action="store_true")
    parser.add_argument("--list", type=int, default=20_000,
                        help="messages on the server for the list benchmark; 0: skip it")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="popfetch-bench-xdg-")
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"):
        os.environ[name] = os.path.join(tmp, name.lower())
    import gui  # noqa: F401 - the PySide6 refcount workaround, before Qt runs
    from tests.support.bytecode import compile_tree

    compile_tree(ROOT)  # the CLI's start-up as installed, not compiling every module

    print(f"Qt platform: {os.environ['QT_QPA_PLATFORM']}, Python {sys.version.split()[0]}")
    if not args.skip_download and args.size_mb:
        size = args.size_mb * 1_000_000
        bench_download(f"one {args.size_mb} MB message", lambda d: make_mailbox(d, size),
                       1, size, args.tick_ms, args.rounds, where=args.dir)
    if not args.skip_download and args.small:
        n, size = args.small, args.small_kb * 1000
        bench_download(f"{n:,} messages of {args.small_kb} KB",
                       lambda d: make_small_mailbox(d, n, size), n, n * size, args.tick_ms,
                       args.rounds, where=args.dir)
    if args.list:
        bench_list(args.list)
    if not args.skip_rows:
        bench_rows(args.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
