"""popfetch against real peers, all fetching from one real Dovecot. Run by hand, not by CI.

    python tests/bench/bench_peers.py [--runs 5] [--big-mb 200] [--small 10000] [--tls]

Starts a throw-away Dovecot (tests/support/dovecot.py) with two mailboxes, one message of
``--big-mb`` MB and ``--small`` messages of 4 KB, and times, interleaved run by run (the order
rotates each run), each client fetching everything while keeping mail on the server:

- popfetch:  ``python -m core.cli fetch --keep`` into a fresh Maildir (durable: fsync);
- mpop:      Maildir delivery, ``only_new off``, ``keep on`` (fsyncs each message);
- fetchmail: ``--keep --all`` to an mda writing one file per message into a Maildir-like
             directory (one shell and one ``cat`` per message; no fsync);
- getmail6:  SimplePOP3Retriever to a Maildir, ``read_all``; as ``nobody`` when run as root
             (getmail refuses Maildir delivery as root);
- poplib:    the standard library, messages read into memory and dropped (no storage).

Each client is one child process under GNU ``/usr/bin/time``: wall time from here, peak RSS
and CPU time (user + system, including the children it waited for, so fetchmail's mda
processes count in CPU; the RSS is the largest single process).
Prints medians of ``--runs`` runs, MB/s (wire octets / wall), the worst peak RSS, and
popfetch's speed relative to each peer (>1: popfetch is faster), then the issue's targets.
Plaintext USER/PASS on loopback by default (``--tls``: implicit TLS with the run's CA for all).
Needs root or an ordinary user; the peers are Debian packages mpop, fetchmail, getmail6.
"""

from __future__ import annotations

import argparse
import os
import poplib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.dovecot import Dovecot, dovecot_binary, missing_reason  # noqa: E402

PASSWORD = "bench-password-1"
TIMEOUT = 900.0  # one client run, at most
TIME = "/usr/bin/time"  # GNU time (Debian package "time"): peak RSS of the client process


@dataclass
class Sample:
    wall: float
    rss_mb: float
    cpu: float


@dataclass
class Scenario:
    name: str
    user: str
    count: int
    wire_bytes: int


class Bench:
    def __init__(
        self, server: Dovecot, work: Path, *, tls: bool, popfetch_tree: Path = ROOT
    ) -> None:
        self.popfetch_tree = popfetch_tree
        self.server = server
        self.work = work
        self.tls = tls
        self.port = server.pop3s_port if tls else server.pop3_port
        self.as_root = os.geteuid() == 0

    # ---- running one child ------------------------------------------------------------------
    def timed(
        self, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Sample:
        """Run ``cmd`` under /usr/bin/time: its peak RSS is the client's own (wait4 on our
        direct child would count the pre-exec copy of this Python process)."""
        log = self.work / "client.log"
        stats = self.work / "time.out"
        stats.unlink(missing_ok=True)
        with open(log, "wb") as out:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [TIME, "-f", "%M %U %S", "-o", str(stats), *cmd],
                cwd=cwd or ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            )
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
                raise RuntimeError(f"{' '.join(cmd[:3])} took more than {TIMEOUT} s") from None
            wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:3])} exited with {proc.returncode}:\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
        rss_kb, user, system = stats.read_text().split()[-3:]
        return Sample(wall, int(rss_kb) / 1024, float(user) + float(system))

    def fresh(self, name: str) -> Path:
        path = self.work / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        return path

    # ---- the clients --------------------------------------------------------------------------
    def popfetch(self, sc: Scenario) -> Sample:
        out = self.fresh("popfetch")
        env = dict(os.environ, POPFETCH_PASSWORD=PASSWORD)
        for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
            env[var] = str(out / var.lower())
        security = ["--security", "tls", "--cafile", str(self.server.ca_pem)] if self.tls else [
            "--security", "none", "--allow-plaintext"]
        sample = self.timed(
            [sys.executable, "-m", "core.cli", "fetch", "--host", "127.0.0.1",
             "--port", str(self.port), *security, "--user", sc.user,
             "--maildir", str(out / "Maildir"), "--state-dir", str(out / "state"),
             "--keep", "-q"],
            env=env, cwd=self.popfetch_tree,
        )
        self.check(out / "Maildir", sc, "popfetch")
        return sample

    def mpop(self, sc: Scenario) -> Sample:
        out = self.fresh("mpop")
        maildir = out / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True)
        tls = (f"tls on\ntls_starttls off\ntls_trust_file {self.server.ca_pem}\n" if self.tls
               else "tls off\n")
        rc = out / "mpoprc"
        rc.write_text(
            f"account bench\nhost 127.0.0.1\nport {self.port}\n{tls}auth user\n"
            f"user {sc.user}\npassword {PASSWORD}\ndelivery maildir {maildir}\n"
            f"keep on\nonly_new off\nreceived_header off\npipelining auto\n"
            f"uidls_file {out / 'uidls'}\n"
        )
        rc.chmod(0o600)
        sample = self.timed(["mpop", "-C", str(rc), "-q", "bench"], cwd=out)
        self.check(maildir, sc, "mpop")
        return sample

    def fetchmail(self, sc: Scenario) -> Sample:
        out = self.fresh("fetchmail")
        box = out / "Maildir"
        (box / "new").mkdir(parents=True)
        ssl = (f"ssl sslcertck sslcertfile {self.server.ca_pem}" if self.tls
               else 'sslproto ""')
        mda = f"cat > $(mktemp {box}/new/fm.XXXXXXXXXX)"
        rc = out / "fetchmailrc"
        rc.write_text(
            f"set no syslog\nset no bouncemail\n"
            f"poll 127.0.0.1 service {self.port} protocol pop3 auth password\n"
            f'  user "{sc.user}" there with password "{PASSWORD}" is "{_me()}" here\n'
            f"  {ssl} keep fetchall no rewrite\n"
            f'  mda "{mda}"\n'
        )
        rc.chmod(0o600)
        env = dict(os.environ, HOME=str(out), FETCHMAILHOME=str(out))
        sample = self.timed(
            ["fetchmail", "-f", str(rc), "--nodetach", "--idfile", str(out / "ids"),
             "--pidfile", str(out / "pid"), "--silent", "--nosyslog"],
            env=env, cwd=out,
        )
        self.check(box, sc, "fetchmail")
        return sample

    def getmail(self, sc: Scenario) -> Sample:
        out = self.fresh("getmail")
        maildir = out / "Maildir"
        for sub in ("tmp", "new", "cur"):
            (maildir / sub).mkdir(parents=True)
        retriever = "SimplePOP3SSLRetriever" if self.tls else "SimplePOP3Retriever"
        ssl = f"ca_certs = {self.server.ca_pem}\n" if self.tls else ""
        rc = out / "getmailrc"
        rc.write_text(textwrap.dedent(f"""\
            [retriever]
            type = {retriever}
            server = 127.0.0.1
            port = {self.port}
            timeout = 30
            username = {sc.user}
            password = {PASSWORD}
            {ssl}
            [destination]
            type = Maildir
            path = {maildir}/

            [options]
            verbose = 0
            read_all = true
            delete = false
            delivered_to = false
            received = false
            message_log_syslog = false
            """))
        prefix: list[str] = []
        if self.as_root:
            # getmail refuses Maildir delivery as root.
            _chown_tree(out, "nobody")
            out.chmod(0o755)
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        env = dict(os.environ, HOME=str(out))
        sample = self.timed(
            [*prefix, "getmail", "--getmaildir", str(out), "--rcfile", str(rc), "--quiet"],
            env=env, cwd=out,
        )
        self.check(maildir, sc, "getmail")
        return sample

    def poplib(self, sc: Scenario) -> Sample:
        script = textwrap.dedent("""\
            import poplib, ssl, sys
            host, port, user, password, ca = sys.argv[1:6]
            if ca:
                pop = poplib.POP3_SSL(host, int(port), timeout=120,
                                      context=ssl.create_default_context(cafile=ca))
            else:
                pop = poplib.POP3(host, int(port), timeout=120)
            pop.user(user)
            pop.pass_(password)
            count, _ = pop.stat()
            total = 0
            for i in range(1, count + 1):
                total += pop.retr(i)[2]
            pop.quit()
            if total < int(sys.argv[6]):
                raise SystemExit(f"short: {total}")
            """)
        ca = str(self.server.ca_pem) if self.tls else ""
        return self.timed([sys.executable, "-c", script, "127.0.0.1", str(self.port),
                           sc.user, PASSWORD, ca, str(sc.wire_bytes)])

    def check(self, maildir: Path, sc: Scenario, client: str) -> None:
        files = [p for sub in ("new", "cur") if (maildir / sub).is_dir()
                 for p in (maildir / sub).iterdir()]
        if len(files) != sc.count:
            raise RuntimeError(f"{client}: {len(files)} messages in {maildir}, expected {sc.count}")


def _me() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _chown_tree(top: Path, user: str) -> None:
    import pwd

    entry = pwd.getpwnam(user)
    for dirpath, _dirnames, filenames in os.walk(top):
        os.chown(dirpath, entry.pw_uid, entry.pw_gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def fill_big(server: Dovecot, user: str, megabytes: int) -> None:
    rng = random.Random(7)
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    line = bytes(rng.choice(alphabet) for _ in range(76)) + b"\n"
    server.fill_file(user, megabytes * 1_000_000, line=line)


def fill_small(server: Dovecot, user: str, count: int) -> None:
    rng = random.Random(11)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
    text = "".join(rng.choice(alphabet) for _ in range(75))
    messages = []
    for i in range(count):
        head = (f"From: sender{i}@example.test\nTo: {user}@example.test\n"
                f"Subject: small message {i}\nMessage-ID: <s{i}@example.test>\n\n")
        body = f"{text} {i}\n" * ((4096 - len(head)) // (len(text) + 8))
        messages.append((head + body).encode())
    server.fill(user, messages)


def wire_size(server: Dovecot, user: str) -> tuple[int, int]:
    """STAT (count, octets), and a warm-up: Dovecot indexes and sizes everything once."""
    pop = poplib.POP3(server.host, server.pop3_port, timeout=300)
    pop.user(user)
    pop.pass_(PASSWORD)
    count, octets = pop.stat()
    pop.list()
    pop.uidl()
    pop.quit()
    return count, octets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--tls", action="store_true", help="implicit TLS for every client")
    parser.add_argument("--clients", default="popfetch,mpop,fetchmail,getmail,poplib")
    parser.add_argument("--popfetch-tree", type=Path, default=ROOT,
                        help="run popfetch from this checkout (to compare two versions)")
    args = parser.parse_args()

    if dovecot_binary() is None:
        print(missing_reason(), file=sys.stderr)
        return 2
    if not os.access(TIME, os.X_OK):
        print(f"{TIME} is missing (Debian package time)", file=sys.stderr)
        return 2
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    missing = [c for c in clients if c not in {"popfetch", "poplib"} and not shutil.which(c)]
    if missing:
        print(f"not installed: {', '.join(missing)} (Debian packages mpop, fetchmail, getmail6);"
              " leave them out with --clients", file=sys.stderr)
        return 2

    with Dovecot(users={"big": PASSWORD, "small": PASSWORD}) as server:
        work = Path(tempfile.mkdtemp(prefix="popfetch-bench-peers-"))
        work.chmod(0o755)
        try:
            fill_big(server, "big", args.big_mb)
            fill_small(server, "small", args.small)
            scenarios = []
            for user, name in (("big", f"1 x {args.big_mb} MB"),
                               ("small", f"{args.small} x 4 KB")):
                count, octets = wire_size(server, user)
                scenarios.append(Scenario(name, user, count, octets))
            bench = Bench(server, work, tls=args.tls, popfetch_tree=args.popfetch_tree.resolve())
            runners: dict[str, Callable[[Scenario], Sample]] = {
                name: getattr(bench, name) for name in clients
            }
            results: dict[tuple[str, str], list[Sample]] = {}
            failures: dict[tuple[str, str], list[str]] = {}
            for sc in scenarios:
                runners["poplib" if "poplib" in runners else clients[0]](sc)  # warm caches
            for run in range(args.runs):
                order = clients[run % len(clients):] + clients[: run % len(clients)]
                for sc in scenarios:
                    for client in order:
                        label = f"  run {run + 1}/{args.runs} {sc.name:14} {client:9}"
                        try:
                            sample = runners[client](sc)
                        except RuntimeError as exc:
                            failures.setdefault((sc.name, client), []).append(str(exc))
                            print(f"{label} FAILED: {str(exc).strip()[-300:]}", flush=True)
                            continue
                        results.setdefault((sc.name, client), []).append(sample)
                        print(f"{label} {sample.wall:7.2f} s  {sample.rss_mb:6.0f} MB",
                              flush=True)
            report(scenarios, clients, results, failures, args)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def report(
    scenarios: list[Scenario],
    clients: list[str],
    results: dict[tuple[str, str], list[Sample]],
    failures: dict[tuple[str, str], list[str]],
    args: argparse.Namespace,
) -> None:
    mode = "implicit TLS" if args.tls else "plaintext"
    print(f"\nDovecot {mode} on loopback, medians of {args.runs} interleaved runs")
    print(f"{'scenario':14} {'client':9} {'wall s':>8} {'MB/s':>8} {'msg/s':>8} "
          f"{'CPU s':>7} {'peak RSS MB':>11} {'popfetch speed':>15}")
    medians: dict[tuple[str, str], float] = {}
    for sc in scenarios:
        for client in clients:
            samples = results.get((sc.name, client), [])
            if samples:
                medians[(sc.name, client)] = statistics.median(s.wall for s in samples)
        ours = medians.get((sc.name, "popfetch"))
        for client in clients:
            samples = results.get((sc.name, client), [])
            failed = len(failures.get((sc.name, client), []))
            note = f"  ({failed} of {args.runs} runs failed)" if failed else ""
            if not samples:
                print(f"{sc.name:14} {client:9} {'every run failed':>8}")
                continue
            wall = medians[(sc.name, client)]
            cpu = statistics.median(s.cpu for s in samples)
            rss = max(s.rss_mb for s in samples)
            ratio = "" if ours is None or client == "popfetch" else f"{wall / ours:.2f}x"
            print(f"{sc.name:14} {client:9} {wall:8.2f} {sc.wire_bytes / 1e6 / wall:8.1f} "
                  f"{sc.count / wall:8.0f} {cpu:7.2f} {rss:11.0f} {ratio:>15}{note}")
    wanted = [(sc.name, c) for sc in scenarios for c in ("popfetch", "mpop")]
    if all(key in medians for key in wanted):
        big, small = scenarios
        pf_big, mp_big = medians[(big.name, "popfetch")], medians[(big.name, "mpop")]
        pf_small, mp_small = medians[(small.name, "popfetch")], medians[(small.name, "mpop")]
        rss = max(s.rss_mb for sc in scenarios for s in results[(sc.name, "popfetch")])
        print("\ntargets (issue 3):")
        print(f"  big message no slower than mpop:  {pf_big:.2f} s vs {mp_big:.2f} s  "
              f"{'met' if pf_big <= mp_big else 'MISSED'}")
        print(f"  small ones in half mpop's time:   {pf_small:.2f} s vs {mp_small / 2:.2f} s  "
              f"{'met' if pf_small <= mp_small / 2 else 'MISSED'}")
        print(f"  popfetch peak RSS under 100 MB:   {rss:.0f} MB  "
              f"{'met' if rss < 100 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
