"""Throughput benchmark on loopback, run by hand (not part of CI's pass/fail).

    .venv/bin/python tests/bench/benchmark.py [--runs 3] [--big-mb 200] [--small 10000]

One demo server (a separate process, so it does not share our GIL) serves two mailboxes:
one large message, and many 4 KB ones. Against the same server, interleaved run by run,
it times three clients, each in its own process (wall time and peak RSS from wait4):

- popfetch: ``popfetch fetch --keep`` into a fresh Maildir, durable (fsync) delivery;
- poplib:   the standard library client, messages kept in memory and dropped;
- raw:      a socket that sends every RETR at once and only looks for terminators,
            the ceiling for any client of that server.

and prints medians side by side with popfetch's ratio to each. Nothing is deleted until
the end; do not start it within six minutes of removing many files (see
``Bench.fresh`` in bench_peers.py: ext4 makes the next file creations pay for them).
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.bytecode import compile_tree  # noqa: E402

USER, PASSWORD = "bench", "bench-password"

POPLIB_CLIENT = r"""
import poplib, sys
host, port = sys.argv[1], int(sys.argv[2])
pop = poplib.POP3(host, port, timeout=120)
pop.user(sys.argv[3]); pop.pass_(sys.argv[4])
count, _ = pop.stat()
total = 0
for i in range(1, count + 1):
    _, lines, octets = pop.retr(i)
    total += octets
pop.quit()
print(total)
"""

RAW_CLIENT = Path(__file__).with_name("raw_client.py")


def make_big(maildir: Path, megabytes: int) -> None:
    rng = random.Random(7)
    path = maildir / "new" / "1700000000.big.bench"
    with open(path, "wb") as out:
        out.write(b"From: bench@example.org\nSubject: big\n\n")
        left = megabytes * 1_000_000
        while left > 0:
            raw = rng.randbytes(57 * 20_000)
            text = base64.encodebytes(raw)  # 76-char lines, LF endings
            out.write(text[:left])
            left -= len(text)


def make_small(maildir: Path, count: int) -> None:
    rng = random.Random(11)
    for i in range(count):
        body = base64.encodebytes(rng.randbytes(2900))
        head = f"From: sender{i}@example.org\nSubject: small {i}\n\n".encode()
        (maildir / "new" / f"1700000000.s{i:06d}.bench").write_bytes(head + body)


def new_maildir(root: Path) -> Path:
    for sub in ("tmp", "new", "cur"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def start_server(maildir: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "core.cli", "demo-server", "--port", "0", "--maildir",
         str(maildir), "--user", USER, "--password", PASSWORD],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    port = int(line.split("127.0.0.1:")[1].split(",")[0])
    return proc, port


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:4]} failed with {proc.returncode}")
    return wall, usage.ru_maxrss / 1024


def run_popfetch(port: int, work: Path) -> tuple[float, float]:
    # A fresh directory each run, all removed at the end: deleting 10,000 files on a
    # filesystem mounted with "discard" slows the next run's file creation for seconds.
    target = Path(tempfile.mkdtemp(prefix="popfetch-", dir=work))
    env = dict(os.environ, POPFETCH_PASSWORD=PASSWORD)
    return timed(
        [sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1", "--port", str(port),
         "--security", "none", "--allow-plaintext", "--user", USER, "--maildir",
         str(target / "Maildir"), "--state-dir", str(target / "state"), "--keep", "-q"],
        env,
    )


def run_script(script: str | Path, port: int) -> tuple[float, float]:
    source = [str(script)] if isinstance(script, Path) else ["-c", script]
    return timed([sys.executable, *source, "127.0.0.1", str(port), USER, PASSWORD])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    compile_tree(ROOT)

    with tempfile.TemporaryDirectory(prefix="popfetch-bench-") as tmp:
        work = Path(tmp)
        scenarios = []
        big = new_maildir(work / "big-src")
        make_big(big, args.big_mb)
        scenarios.append((f"1 x {args.big_mb} MB", big, args.big_mb * 1e6, 1))
        small = new_maildir(work / "small-src")
        make_small(small, args.small)
        size = sum(p.stat().st_size for p in (small / "new").iterdir())
        scenarios.append((f"{args.small} x 4 KB", small, size, args.small))

        print(f"{'scenario':16} {'client':9} {'wall s':>8} {'MB/s':>8} {'msg/s':>9} "
              f"{'RSS MB':>7} {'popfetch / this':>16}")
        for name, maildir, nbytes, count in scenarios:
            server, port = start_server(maildir)
            try:
                results: dict[str, list[tuple[float, float]]] = {
                    "popfetch": [], "poplib": [], "raw": []
                }
                run_script(RAW_CLIENT, port)  # warm the server's cache and the page cache
                for _ in range(args.runs):
                    results["popfetch"].append(run_popfetch(port, work))
                    results["poplib"].append(run_script(POPLIB_CLIENT, port))
                    results["raw"].append(run_script(RAW_CLIENT, port))
            finally:
                server.terminate()
                server.wait(10)
            ours = statistics.median(w for w, _ in results["popfetch"])
            for client, runs in results.items():
                wall = statistics.median(w for w, _ in runs)
                rss = max(r for _, r in runs)
                ratio = "" if client == "popfetch" else f"{ours / wall:.2f}x"
                print(f"{name:16} {client:9} {wall:8.2f} {nbytes / 1e6 / wall:8.1f} "
                      f"{count / wall:9.0f} {rss:7.0f} {ratio:>16}")
        print("targets (issue 13): big message within 2x raw; 10,000 small within 4x raw; "
              "RSS < 100 MB")


if __name__ == "__main__":
    main()
