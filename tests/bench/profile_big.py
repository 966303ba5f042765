"""Where the time of one large message goes: popfetch under py-spy. Run by hand, not by CI.

    pip install py-spy
    python tests/bench/profile_big.py [--big-mb 200] [--tls] [--popfetch-tree PATH]

Starts a throw-away Dovecot with one message of ``--big-mb`` MB (the base64-like lines of
bench_peers.py), fetches it once to warm the caches, then once more under
``py-spy record`` (sampling every thread that runs, native frames left out), and prints the
functions and the source lines holding most samples. ``--popfetch-tree`` profiles another
checkout (say, an older commit unpacked with ``git archive``) against the same server.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.bench.bench_peers import PASSWORD, fill_big, wire_size  # noqa: E402
from tests.support.bytecode import compile_tree  # noqa: E402
from tests.support.dovecot import Dovecot, dovecot_binary, missing_reason  # noqa: E402


def fetch_command(server: Dovecot, out: Path, tls: bool) -> list[str]:
    security = (["--security", "tls", "--cafile", str(server.ca_pem)] if tls
                else ["--security", "none", "--allow-plaintext"])
    port = server.pop3s_port if tls else server.pop3_port
    return [sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1", "--port", str(port),
            *security, "--user", "big", "--maildir", str(out / "Maildir"),
            "--state-dir", str(out / "state"), "--keep", "-q"]


def summarize(raw: Path, top: int) -> None:
    """py-spy's raw format: one stack per line, frames joined by ';', then a sample count."""
    own: collections.Counter[str] = collections.Counter()
    within: collections.Counter[str] = collections.Counter()
    lines: collections.Counter[str] = collections.Counter()
    total = 0
    for row in raw.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if " (" in f]
        if not frames:
            continue
        names = [f.split(" (")[0] + " (" + f.split(" (")[1].split(":")[0].rsplit("/", 1)[-1] + ")"
                 for f in frames]
        own[names[-1]] += n
        lines[frames[-1]] += n
        for name in set(names):
            within[name] += n
    print(f"{total} samples (threads running or in a system call; idle waits left out)")
    for title, counter in (("self", own), ("inclusive", within), ("hottest lines", lines)):
        print(f"\n{title}:")
        for name, n in counter.most_common(top):
            print(f"  {100 * n / total:5.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--rate", type=int, default=500, help="samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--popfetch-tree", type=Path, default=ROOT)
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.access(spy, os.X_OK):
        print("py-spy is missing: pip install py-spy", file=sys.stderr)
        return 2
    if dovecot_binary() is None:
        print(missing_reason(), file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="popfetch-profile-"))
    env = dict(os.environ, POPFETCH_PASSWORD=PASSWORD, XDG_CONFIG_HOME=str(work / "config"),
               XDG_STATE_HOME=str(work / "state"))
    try:
        with Dovecot(users={"big": PASSWORD}) as server:
            fill_big(server, "big", args.big_mb)
            wire_size(server, "big")
            tree = args.popfetch_tree.resolve()
            compile_tree(tree)
            for attempt in ("warm-up", "profiled"):
                out = work / attempt
                cmd = fetch_command(server, out, args.tls)
                if attempt == "profiled":
                    cmd = [spy, "record", "-r", str(args.rate), "-f", "raw",
                           "-o", str(work / "profile.raw"), "--", *cmd]
                subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            mode = "implicit TLS" if args.tls else "plaintext"
            print(f"popfetch fetch of 1 x {args.big_mb} MB from Dovecot ({mode}), tree {tree}")
            summarize(work / "profile.raw", args.top)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
