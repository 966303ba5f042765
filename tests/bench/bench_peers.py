"""popfetch against real peers, all fetching from one real Dovecot. Run by hand, not by CI.

    python tests/bench/bench_peers.py [--runs 5] [--big-mb 200] [--small 10000]
                                      [--cases plain,tls,busy]
                                      [--clients popfetch,mpop,poplib,raw]

Starts a throw-away Dovecot (tests/support/dovecot.py) with two mailboxes, one message of
``--big-mb`` MB and ``--small`` messages of 4 KB, and times each client fetching everything
while keeping mail on the server, in three cases:

- plain: plaintext USER/PASS on loopback;
- tls:   implicit TLS (port 995 style) with the run's CA, for every client;
- busy:  plaintext, while another process writes 1 GB to the same filesystem beside each
         client run (``dd bs=1M count=1024 conv=fsync``, started just before the client;
         the next run waits until it has finished): durability that flushes other
         programs' writes pays for them here.

Within a case the clients run interleaved, run by run (the order rotates each run), and
each figure is the median of ``--runs`` runs. The clients:

- popfetch:  ``python -m core.cli fetch --keep`` into a fresh Maildir (durable: fsync);
- mpop:      Maildir delivery, ``only_new off``, ``keep on`` (fsyncs each message);
- poplib:    the standard library, messages read into memory and dropped (no storage);
- raw:       tests/bench/raw_client.py, every RETR sent at once, terminators counted, nothing
             parsed or stored: the ceiling for any client of this server (wall time below it
             is the server's, or the link's);
- fetchmail: (on request) ``--keep --all`` to an mda writing one file per message into a
             Maildir-like directory (one shell and one ``cat`` per message; no fsync);
- getmail:   (on request) getmail6's SimplePOP3Retriever to a Maildir, ``read_all``; as
             ``nobody`` when run as root (getmail refuses Maildir delivery as root).

Each client is one child process under GNU ``/usr/bin/time``: wall time from here, peak RSS
and CPU time (user + system, including the children it waited for, so fetchmail's mda
processes count in CPU; the RSS is the largest single process). Printed per case: wall,
MB/s, CPU and peak RSS of every client side by side, popfetch's wall and CPU as a ratio
of each peer's (<1: popfetch needs less), then the targets of issue 13.
Needs root or an ordinary user; the peers are Debian packages mpop, fetchmail, getmail6,
and ``time``.
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

from tests.support.bytecode import compile_tree  # noqa: E402
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


@dataclass(frozen=True)
class Case:
    name: str
    tls: bool
    busy: bool  # a 1 GB dd beside each client run


CASES = {
    "plain": Case("plaintext", tls=False, busy=False),
    "tls": Case("implicit TLS", tls=True, busy=False),
    "busy": Case("plaintext, 1 GB dd beside", tls=False, busy=True),
}


class Bench:
    def __init__(self, server: Dovecot, work: Path, *, popfetch_tree: Path = ROOT) -> None:
        self.popfetch_tree = popfetch_tree
        self.server = server
        self.work = work
        self.runs = 0  # client runs so far (each gets its own directory, see fresh())
        self.as_root = os.geteuid() == 0
        self.case = CASES["plain"]

    @property
    def tls(self) -> bool:
        return self.case.tls

    @property
    def port(self) -> int:
        return self.server.pop3s_port if self.tls else self.server.pop3_port

    # ---- running one child ------------------------------------------------------------------
    def timed(
        self, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> Sample:
        """Run ``cmd`` under /usr/bin/time: its peak RSS is the client's own (wait4 on our
        direct child would count the pre-exec copy of this Python process)."""
        log = self.work / "client.log"
        stats = self.work / "time.out"
        stats.unlink(missing_ok=True)
        writer = self.start_disk_writer() if self.case.busy else None
        try:
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
                    raise RuntimeError(
                        f"{' '.join(cmd[:3])} took more than {TIMEOUT} s"
                    ) from None
                wall = time.perf_counter() - start
        finally:
            if writer is not None:
                self.finish_disk_writer(writer)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd[:3])} exited with {proc.returncode}:\n"
                f"{log.read_text(errors='replace')[-3000:]}"
            )
        rss_kb, user, system = stats.read_text().split()[-3:]
        return Sample(wall, int(rss_kb) / 1024, float(user) + float(system))

    def start_disk_writer(self) -> subprocess.Popen[bytes]:
        """Another program writing 1 GB to the clients' filesystem, and syncing it."""
        return subprocess.Popen(
            ["dd", "if=/dev/zero", f"of={self.work / 'dd.out'}", "bs=1M", "count=1024",
             "conv=fsync", "status=none"],
            stdin=subprocess.DEVNULL,
        )

    def finish_disk_writer(self, writer: subprocess.Popen[bytes]) -> None:
        """Let dd finish (the next run starts on a quiet disk), then drop its file."""
        try:
            writer.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.wait(10)
        (self.work / "dd.out").unlink(missing_ok=True)

    def fresh(self, name: str) -> Path:
        """A new, empty directory for one client run. Nothing is deleted until the whole
        benchmark has ended: ext4 will not reuse an inode freed in the last minute (six,
        while its inode-table block is not yet written back) and looks each candidate up
        (``recently_deleted``), so removing the previous run's 10,000 files made the next
        run's file creation cost ~0.8 s more system time, whichever client it was. For
        the same reason, do not start a benchmark within six minutes of removing many
        files (another benchmark's, say)."""
        self.runs += 1
        path = self.work / "runs" / f"{self.runs:03d}-{name}"
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
        # fetchmail checks DNS names only, not the certificate's 127.0.0.1 address
        ssl = (f"ssl sslcertck sslcertfile {self.server.ca_pem} sslcommonname localhost"
               if self.tls else 'sslproto ""')
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

    def raw(self, sc: Scenario) -> Sample:
        ca = [str(self.server.ca_pem)] if self.tls else []
        return self.timed([sys.executable, str(Path(__file__).with_name("raw_client.py")),
                           "127.0.0.1", str(self.port), sc.user, PASSWORD, *ca])

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
    parser.add_argument("--cases", default="plain,tls,busy",
                        help=f"comma-separated, of: {', '.join(CASES)}")
    parser.add_argument("--clients", default="popfetch,mpop,poplib,raw",
                        help="comma-separated, of: popfetch, mpop, poplib, raw, fetchmail, "
                        "getmail")
    parser.add_argument("--popfetch-tree", type=Path, default=ROOT,
                        help="run popfetch from this checkout (to compare two versions)")
    args = parser.parse_args()

    if dovecot_binary() is None:
        print(missing_reason(), file=sys.stderr)
        return 2
    if not os.access(TIME, os.X_OK):
        print(f"{TIME} is missing (Debian package time)", file=sys.stderr)
        return 2
    cases = [CASES[c.strip()] for c in args.cases.split(",") if c.strip()]
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    missing = [c for c in clients if c not in {"popfetch", "poplib", "raw"}
               and not shutil.which(c)]
    if missing:
        print(f"not installed: {', '.join(missing)} (Debian packages mpop, fetchmail, getmail6);"
              " leave them out with --clients", file=sys.stderr)
        return 2

    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}, popfetch tree {args.popfetch_tree}", flush=True)
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
            bench = Bench(server, work, popfetch_tree=args.popfetch_tree.resolve())
            compile_tree(bench.popfetch_tree)
            runners: dict[str, Callable[[Scenario], Sample]] = {
                name: getattr(bench, name) for name in clients
            }
            tables: list[Table] = []
            for case in cases:
                bench.case = case
                print(f"\n{case.name}:", flush=True)
                for sc in scenarios:
                    runners["poplib" if "poplib" in runners else clients[0]](sc)  # warm caches
                table = Table(case, {}, {})
                for run in range(args.runs):
                    order = clients[run % len(clients):] + clients[: run % len(clients)]
                    for sc in scenarios:
                        for client in order:
                            label = f"  run {run + 1}/{args.runs} {sc.name:14} {client:9}"
                            try:
                                sample = runners[client](sc)
                            except RuntimeError as exc:
                                table.failures.setdefault((sc.name, client), []).append(str(exc))
                                print(f"{label} FAILED: {str(exc).strip()[-300:]}", flush=True)
                                continue
                            table.results.setdefault((sc.name, client), []).append(sample)
                            print(f"{label} {sample.wall:7.2f} s  {sample.cpu:6.2f} s CPU  "
                                  f"{sample.rss_mb:5.0f} MB", flush=True)
                tables.append(table)
            for table in tables:
                report(table, scenarios, clients, args.runs)
            targets(tables, scenarios)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return 0


@dataclass
class Table:
    case: Case
    results: dict[tuple[str, str], list[Sample]]
    failures: dict[tuple[str, str], list[str]]

    def median(self, scenario: str, client: str, what: str) -> float | None:
        samples = self.results.get((scenario, client), [])
        if not samples:
            return None
        return float(statistics.median(getattr(s, what) for s in samples))


def report(table: Table, scenarios: list[Scenario], clients: list[str], runs: int) -> None:
    print(f"\nDovecot 2.3, {table.case.name}, loopback; medians of {runs} interleaved runs")
    print(f"{'scenario':14} {'client':9} {'wall s':>7} {'MB/s':>7} {'CPU s':>7} "
          f"{'RSS MB':>7} {'popfetch/peer wall':>19} {'CPU':>6}")
    for sc in scenarios:
        our_wall = table.median(sc.name, "popfetch", "wall")
        our_cpu = table.median(sc.name, "popfetch", "cpu")
        for client in clients:
            samples = table.results.get((sc.name, client), [])
            failed = len(table.failures.get((sc.name, client), []))
            note = f"  ({failed} of {runs} runs failed)" if failed else ""
            if not samples:
                print(f"{sc.name:14} {client:9} {'every run failed':>16}")
                continue
            wall = statistics.median(s.wall for s in samples)
            cpu = statistics.median(s.cpu for s in samples)
            rss = max(s.rss_mb for s in samples)
            ratios = ""
            if client != "popfetch" and our_wall is not None and our_cpu is not None:
                cpu_ratio = f"{our_cpu / cpu:5.2f}x" if cpu > 0 else "    -"
                ratios = f"{our_wall / wall:18.2f}x {cpu_ratio}"
            print(f"{sc.name:14} {client:9} {wall:7.2f} {sc.wire_bytes / 1e6 / wall:7.1f} "
                  f"{cpu:7.2f} {rss:7.0f} {ratios:>26}{note}")


def _ratio(table: Table, sc: Scenario, what: str, client: str = "popfetch") -> float | None:
    """``client``'s median over mpop's, in one case."""
    ours = table.median(sc.name, client, what)
    theirs = table.median(sc.name, "mpop", what)
    return ours / theirs if ours is not None and theirs else None


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _wall_target(table: Table, sc: Scenario, bound: float) -> list[str]:
    r = _ratio(table, sc, "wall")
    if r is None:
        return []
    raw = _ratio(table, sc, "wall", "raw")
    ceiling = f" (raw socket, nothing stored: {raw:.2f}x)" if raw is not None else ""
    return [f"  {table.case.name}: {sc.name} wall at most {bound}x mpop's: "
            f"{r:.2f}x  {_verdict(r <= bound)}{ceiling}"]


def targets(tables: list[Table], scenarios: list[Scenario]) -> None:
    """The targets of issue 13, each a ratio to mpop measured in the same case; beside each
    wall target, the raw socket's ratio: no client of that server can go below it."""
    big, small = scenarios
    lines: list[str] = []
    for table in tables:
        if not table.case.busy:
            lines += _wall_target(table, big, 0.9)
            r = _ratio(table, big, "cpu")
            if r is not None:
                lines.append(f"  {table.case.name}: {big.name} CPU at most 1.5x mpop's:  "
                             f"{r:.2f}x  {_verdict(r <= 1.5)}")
        lines += _wall_target(table, small, 0.5)
    rss = [s.rss_mb for t in tables for sc in scenarios
           for s in t.results.get((sc.name, "popfetch"), [])]
    if rss:
        lines.append(f"  popfetch peak RSS below 100 MB: {max(rss):.0f} MB  "
                     f"{_verdict(max(rss) < 100)}")
    if lines:
        print("\ntargets (issue 13; ratios of medians, same case, same server):")
        print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
