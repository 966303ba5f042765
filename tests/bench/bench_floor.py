"""The floors under any Python mail fetcher on this machine. Run by hand, not by CI.

    python tests/bench/bench_floor.py [--runs 5] [--small 10000] [--big-mb 200]

bench_peers.py and benchmark.py time whole clients; this times the parts no client can
avoid, so that their ratios can be read against what is possible here:

- start:   a Python process that does nothing (``python -c pass``), one that imports
           popfetch's fetch path (``python -m core.cli fetch --help``), and one that imports
           only the socket module: the raw-socket client of benchmark.py;
- durable: ``--small`` files of 4 KB made durable in a Maildir, with no network at all:
           one by one with an fsync each (mpop's way), the same files fsynced by a pool of
           threads (``core.store.maildir``'s way), and popfetch's whole store path
           (:meth:`core.store.local.Store.deliver_batch`: CRLF to LF, the intents and the
           stored UIDLs committed in SQLite, in batches of ``BATCH_COUNT``); on a quiet
           disk, then with another process writing 1 GB beside (as in bench_peers.py);
- convert: CRLF to LF over ``--big-mb`` MB of base64 lines in 256 KB chunks (what a
           Maildir needs; the wire form has CRLF): ``bytes.replace``, ``bytes.translate``
           alone (the lower bound: it cannot keep a bare CR) and popfetch's
           :func:`core.store.maildir.crlf_to_lf`.

Runs are interleaved, figures are medians, and no file is deleted until the end (ext4
will not reuse an inode freed in the last minutes and checks each candidate: deleting
10,000 files slows the next 10,000 creations, see ``Bench.fresh`` in bench_peers.py).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.engine.transfers import BATCH_COUNT  # noqa: E402
from core.store.local import Store  # noqa: E402
from core.store.maildir import crlf_to_lf, fsync_dir  # noqa: E402
from tests.support.bytecode import compile_tree  # noqa: E402

FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC


def start_times(runs: int) -> dict[str, float]:
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import socket' (raw client)": [sys.executable, "-c", "import socket"],
        "python -m core.cli fetch --help": [sys.executable, "-m", "core.cli", "fetch", "--help"],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, cmd in commands.items():
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
            walls[name].append(time.perf_counter() - start)
    return {name: statistics.median(w) for name, w in walls.items()}


def one_by_one(root: Path, payloads: list[bytes]) -> None:
    """Create, write, fsync, rename, one file after the other; fsync new/ at the end."""
    tmp, new = _maildir(root)
    for i, data in enumerate(payloads):
        _create(tmp / str(i), data, sync=True)
        os.rename(tmp / str(i), new / str(i))
    fsync_dir(new)


def pooled(root: Path, payloads: list[bytes]) -> None:
    """Create and write every file, fsync them from a pool of threads, rename, fsync new/."""
    tmp, new = _maildir(root)
    for i, data in enumerate(payloads):
        _create(tmp / str(i), data, sync=False)

    def sync(names: range) -> None:
        for i in names:
            fd = os.open(tmp / str(i), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    threads = 8
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(sync, [range(i, len(payloads), threads) for i in range(threads)]))
    for i in range(len(payloads)):
        os.rename(tmp / str(i), new / str(i))
    fsync_dir(new)


def store_path(root: Path, wire: list[bytes]) -> None:
    """popfetch's own store, batch by batch as the engine hands them over."""
    with Store(root / "Maildir", root / "state") as store:
        for first in range(0, len(wire), BATCH_COUNT):
            batch = wire[first : first + BATCH_COUNT]
            store.deliver_batch([(f"uidl-{first + i}", data) for i, data in enumerate(batch)])


def _create(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, FLAGS, 0o600)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _maildir(root: Path) -> tuple[Path, Path]:
    tmp, new = root / "tmp", root / "new"
    tmp.mkdir(parents=True)
    new.mkdir()
    return tmp, new


def durable_times(work: Path, count: int, runs: int, *, busy: bool) -> dict[str, float]:
    rng = random.Random(11)
    wire = [
        b"From: sender%d@example.org\r\nSubject: small\r\n\r\n" % i
        + base64.encodebytes(rng.randbytes(2900)).replace(b"\n", b"\r\n")
        for i in range(count)
    ]
    lf = [crlf_to_lf(data) for data in wire]
    ways: dict[str, Callable[[Path], None]] = {
        "one by one, fsync each (mpop's way)": lambda root: one_by_one(root, lf),
        "fsync from 8 threads (popfetch's way)": lambda root: pooled(root, lf),
        "popfetch's Store.deliver_batch": lambda root: store_path(root, wire),
    }
    walls: dict[str, list[float]] = {name: [] for name in ways}
    work.mkdir()
    for run in range(runs):
        for n, (name, way) in enumerate(ways.items()):
            root = work / f"{run}-{n}"
            os.sync()
            writer = subprocess.Popen(
                ["dd", "if=/dev/zero", f"of={work / 'dd.out'}", "bs=1M", "count=1024",
                 "conv=fsync", "status=none"],
            ) if busy else None
            start = time.perf_counter()
            way(root)
            walls[name].append(time.perf_counter() - start)
            if writer is not None:
                writer.wait()
                (work / "dd.out").unlink()
    return {name: statistics.median(w) for name, w in walls.items()}


def convert_rates(megabytes: int, runs: int) -> dict[str, float]:
    rng = random.Random(7)
    wire = bytearray()
    while len(wire) < megabytes * 1_000_000:
        wire += base64.encodebytes(rng.randbytes(57 * 20_000)).replace(b"\n", b"\r\n")
    size = 256 * 1024
    chunks = [bytes(wire[i : i + size]) for i in range(0, megabytes * 1_000_000, size)]
    total = sum(map(len, chunks))
    ways: dict[str, Callable[[bytes], bytes]] = {
        "bytes.replace(CRLF, LF)": lambda c: c.replace(b"\r\n", b"\n"),
        "bytes.translate(None, CR) (no bare-CR check)": lambda c: c.translate(None, b"\r"),
        "core.store.maildir.crlf_to_lf": crlf_to_lf,
    }
    rates: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(runs):
        for name, way in ways.items():
            start = time.perf_counter()
            for chunk in chunks:
                way(chunk)
            rates[name].append(total / 1e6 / (time.perf_counter() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big-mb", type=int, default=200)
    args = parser.parse_args()
    compile_tree(ROOT)

    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}; medians of {args.runs}\n")
    print("start-up (wall)")
    for name, wall in start_times(args.runs).items():
        print(f"  {name:48} {wall * 1000:7.0f} ms")

    work = Path(tempfile.mkdtemp(prefix="popfetch-floor-"))
    try:
        for busy in (False, True):
            beside = ", 1 GB dd beside" if busy else ""
            print(f"\n{args.small} x 4 KB made durable in a Maildir{beside} (wall)")
            for name, wall in durable_times(work / str(busy), args.small, args.runs,
                                            busy=busy).items():
                print(f"  {name:48} {wall:7.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nCRLF -> LF over {args.big_mb} MB of base64 lines, 256 KB chunks")
    for name, rate in convert_rates(args.big_mb, args.runs).items():
        print(f"  {name:48} {rate:7.0f} MB/s  ({args.big_mb / rate:5.2f} s)")


if __name__ == "__main__":
    main()
