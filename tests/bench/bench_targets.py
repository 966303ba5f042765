"""Delivery throughput by hand: 10,000 small messages into Dovecot over IMAP, beside a Maildir.

    .venv/bin/python tests/bench/bench_targets.py [--count 10000] [--batch 500] [--runs 3]

Both go through :class:`core.store.journal.Delivery` (the in-flight journal, two SQLite
commits per batch) exactly as a fetch would hand them over, so the figures are what the
delivery stage costs per message after the POP3 side has the bytes:

- ``maildir``: the Maildir target (write + fsync each file, rename, one fsync of new/);
- ``imaps``:   a Dovecot started here (dovecot-imapd, loopback, TLS), one connection,
               pipelined APPENDs with LITERAL+, APPENDUID recorded;
- ``imap``:    the same over STARTTLS;
- ``imaps-1``: a second Dovecot that does not offer MULTIAPPEND (as Gmail does not): one
               APPEND per message, pipelined 64 deep.

Then end to end, ``popfetch fetch --keep`` in a child process from the same Dovecot's
POP3 (TLS) with the same messages: ``--maildir`` beside ``--deliver imaps://…``.

Dovecot runs with ``mail_fsync = never`` (as in every test here), so its side is not
durable to disk; popfetch's side (journal, Maildir) is. Medians of ``--runs`` are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.net import TlsPolicy  # noqa: E402
from core.store.imap import ImapTarget  # noqa: E402
from core.store.journal import Delivery, journal_for  # noqa: E402
from core.store.maildirtarget import MaildirTarget  # noqa: E402
from core.store.targets import ImapSpec, Message, Receipt, Target, parse_deliver  # noqa: E402
from tests.support.dovecot import Dovecot, make_messages  # noqa: E402


def run(target: Target, items: list[tuple[str, Message]], batch: int, state: Path) -> float:
    delivery = Delivery(target, journal_for(state))
    start = time.perf_counter()
    for i in range(0, len(items), batch):
        outcomes = delivery.deliver_many(items[i : i + batch])
        bad = [o for o in outcomes if not isinstance(o, Receipt)]
        if bad:
            raise SystemExit(f"{target.url}: {bad[0]}")
    elapsed = time.perf_counter() - start
    delivery.close()
    return elapsed


def fetch_seconds(dovecot: Dovecot, source: str, work: Path, *where: str) -> float:
    """Wall time of one ``popfetch fetch --keep`` from ``source``'s POP3 mailbox."""
    env = dict(os.environ, POPFETCH_PASSWORD="bench-pw")
    cmd = [
        sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1",
        "--port", str(dovecot.pop3s_port), "--user", source, "--cafile", str(dovecot.ca_pem),
        "--state-dir", str(work / "state"), "--keep", "--quiet", *where,
    ]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"fetch failed: {done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    datas = make_messages(args.count, body_lines=40, tag="bench")  # about 1.3 KB each
    octets = sum(map(len, datas))
    items = [(f"bench-{i}", Message(data=d)) for i, d in enumerate(datas)]
    times: dict[str, list[float]] = {"maildir": [], "imaps": [], "imap": [], "imaps-1": []}
    single = Dovecot(
        users={}, protocols=("pop3", "imap"), imap_capability="IMAP4rev1 LITERAL+ UIDPLUS BINARY"
    )
    with Dovecot(users={}, protocols=("pop3", "imap", "lmtp")) as dovecot, single, \
            tempfile.TemporaryDirectory(prefix="popfetch-bench-") as tmp:
        for r in range(args.runs):
            run_dir = Path(tmp) / f"run{r}"
            times["maildir"].append(
                run(MaildirTarget(run_dir / "Mail"), items, args.batch, run_dir / "s-maildir")
            )
            for name, server, scheme, port in (
                ("imaps", dovecot, "imaps", dovecot.imaps_port),
                ("imap", dovecot, "imap", dovecot.imap_port),
                ("imaps-1", single, "imaps", single.imaps_port),
            ):
                user = server.add_user(f"bench{scheme}{r}", "bench-pw")
                spec = parse_deliver(f"{scheme}://{user.name}@127.0.0.1:{port}/INBOX")
                assert isinstance(spec, ImapSpec)
                target = ImapTarget(
                    spec, password=lambda: "bench-pw", tls=TlsPolicy(cafile=str(server.ca_pem))
                )
                times[name].append(run(target, items, args.batch, run_dir / f"s-{name}"))
                stored = len(server.files(user.name))
                if stored != args.count:
                    raise SystemExit(f"{name}: {stored} messages in Dovecot, not {args.count}")
        ends: dict[str, list[float]] = {"fetch --maildir": [], "fetch --deliver imaps": []}
        dovecot.add_user("source", "bench-pw")
        dovecot.fill("source", datas)
        for r in range(args.runs):
            work = Path(tmp) / f"e2e{r}"
            ends["fetch --maildir"].append(
                fetch_seconds(dovecot, "source", work / "m", "--maildir", str(work / "Mail"))
            )
            user = dovecot.add_user(f"e2e{r}", "bench-pw")
            url = f"imaps://{user.name}@127.0.0.1:{dovecot.imaps_port}/INBOX"
            ends["fetch --deliver imaps"].append(fetch_seconds(
                dovecot, "source", work / "i", "--deliver", url,
                "--deliver-password-command", "echo bench-pw",
            ))
            if len(dovecot.files(user.name)) != args.count:
                raise SystemExit(f"end to end: {len(dovecot.files(user.name))} messages")
    print(f"{args.count} messages, {octets / 1e6:.1f} MB, batches of {args.batch}, "
          f"median of {args.runs} runs")
    for table in (times, ends):
        for name, values in table.items():
            t = statistics.median(values)
            print(f"  {name:22s} {t:7.2f} s  {args.count / t:8.0f} msg/s  "
                  f"{octets / t / 1e6:6.1f} MB/s")


if __name__ == "__main__":
    main()
