"""A throw-away Dovecot 2.3 POP3 server on loopback, for interop tests and benchmarks.

``Dovecot`` writes a config file into a fresh temporary directory, starts ``dovecot -F -c CONFIG``
(foreground, so the process we hold *is* the master), waits until both listeners greet, and
stops it by its PID (SIGTERM, then SIGKILL; lingering children by their PIDs). It serves:

* ``pop3`` (STLS offered) and ``pop3s`` (implicit TLS) on free ports of 127.0.0.1 only,
  with a CA and server certificate made for the run (``tests/support/certs.py``);
* ``auth_mechanisms = plain login cram-md5 apop scram-sha-256`` from ``passwd-file``
  (``scheme=PLAIN``),
  one file per user (``passwd.d/%u``): Dovecot looks at a changed file at most once a second
  but opens a new one at once, so ``add_user`` works while it runs and every test can have
  a mailbox of its own;
* ``mail_location = maildir:~/Maildir``, or any Maildir given per user (``userdb_mail``).

Facts this relies on (found by trying them on Debian 12, Dovecot 2.3.19):

* As root, Dovecot needs its ``dovecot`` / ``dovenull`` users (the package creates them), a mail
  uid/gid of its own (61234 here: no passwd entry needed) with ``first_valid_uid`` at or below it,
  and every parent of its directories enterable by those users. pytest's ``tmp_path`` lives
  under a 0700 directory and fails with ``-ERR [SYS/TEMP]``, hence a ``mkdtemp`` made 0755.
  As an ordinary user (tried as ``nobody``) everything runs as that user, with
  ``default_internal_group`` set to the user's group and the login and anvil chroots off.
* Child processes inherit stdout/stderr: they go to ``stdio.log``, or a capturing caller hangs.
* ``auth_failure_delay = 0`` and an anvil penalty listener nobody can open make a wrong
  password cost about 0.5 s instead of 2 s and more.
* ``pop3_no_flag_updates = yes`` keeps Dovecot from renaming files on RETR; it may still move
  them from ``new/`` to ``cur/``, so ``files()`` looks in both.
* ``pop3_lock_session = yes``: a second session on a mailbox in use waits about 10 s for the
  lock, then gets ``-ERR [IN-USE] Mailbox is locked by another POP3 session.`` (Dovecot's
  default ``no`` would let both in).
* Its log line at disconnect says ``del=N/M`` with N the messages *expunged*: after DELEs and a
  dropped connection it says ``del=0/M``.
* ``RETR n offset`` -> ``-ERR Noise after message number:  offset``; CAPA lists no EXT-RETR.

``POPFETCH_KEEP_DOVECOT=1`` keeps the temporary directory (config, log, Maildirs) for a look.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.support.certs import CertPaths, make_ca_and_server_cert

DOVECOT = "/usr/sbin/dovecot"
PACKAGE = "dovecot-pop3d"
ROOT_MAIL_UID = 61234  # as root: mail files belong to this uid/gid (no passwd entry needed)


def dovecot_binary() -> str | None:
    """The path of the dovecot binary, or None when the package is not installed."""
    found = shutil.which("dovecot") or (DOVECOT if os.access(DOVECOT, os.X_OK) else None)
    if found is None:
        return None
    # The pop3 service itself ships in dovecot-pop3d, not dovecot-core.
    for libexec in ("/usr/lib/dovecot/pop3", "/usr/libexec/dovecot/pop3"):
        if os.access(libexec, os.X_OK):
            return found
    return None


def missing_reason() -> str:
    return (
        f"Dovecot is not installed: install the Debian package {PACKAGE} "
        f"(apt-get install {PACKAGE}) to run the interop tests"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class User:
    name: str
    password: str
    home: Path
    maildir: Path  # what Dovecot serves for this user


class DovecotError(RuntimeError):
    pass


class Dovecot:
    """One Dovecot instance. Use as a context manager, or call ``start()`` / ``stop()``."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        root: Path | None = None,
        lock_session: bool = True,
        start_timeout: float = 20.0,
        protocols: tuple[str, ...] = ("pop3",),
        imap_capability: str | None = None,
    ) -> None:
        if users is None:
            users = {"alice": "alice-pw", "bob": "bob-pw"}
        self._initial_users = dict(users)
        self._own_root = root is None
        if root is None:
            root = Path(tempfile.mkdtemp(prefix="popfetch-dovecot-"))
        self.root = Path(root)
        self.lock_session = lock_session
        self.start_timeout = start_timeout
        self.is_root = os.geteuid() == 0
        if self.is_root:
            self.mail_uid = self.mail_gid = ROOT_MAIL_UID
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
        self.host = "127.0.0.1"
        self.pop3_port = 0
        self.pop3s_port = 0
        # Delivery targets (issue 12): "imap" adds imap (STARTTLS) and imaps listeners,
        # "lmtp" an LMTP listener on TCP and on a Unix socket. imap_capability replaces
        # the advertised CAPABILITY (to meet a server without LITERAL+, say).
        self.protocols = protocols
        self.imap_capability = imap_capability
        self.imap_port = 0
        self.imaps_port = 0
        self.lmtp_port = 0
        self.users: dict[str, User] = {}
        self.certs: CertPaths | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._stdio: int | None = None

    # ---- paths -------------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    @property
    def stdio_path(self) -> Path:
        return self.root / "stdio.log"

    @property
    def passwd_dir(self) -> Path:
        """One passwd-file per user: Dovecot re-reads a changed file at most once a second,
        but opens a new user's file at once."""
        return self.root / "passwd.d"

    @property
    def base_dir(self) -> Path:
        return self.root / "run"

    @property
    def ca_pem(self) -> Path:
        assert self.certs is not None
        return self.certs.ca_pem

    @property
    def sha256(self) -> str:
        """The server certificate's SHA-256, "AB:CD:..." upper case."""
        assert self.certs is not None
        return self.certs.sha256

    # ---- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Dovecot:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise DovecotError(missing_reason())
        # Every directory Dovecot's users (dovecot, dovenull, the mail uid) pass through must
        # be enterable: mkdtemp makes 0700.
        self.root.chmod(0o755)
        for sub in ("run", "state", "homes", "certs", "passwd.d"):
            (self.root / sub).mkdir(mode=0o755, exist_ok=True)
            (self.root / sub).chmod(0o755)
        self._check_parents_enterable()
        self.certs = make_ca_and_server_cert(self.root / "certs")
        for name, password in self._initial_users.items():
            self.add_user(name, password)
        last_error = ""
        for _attempt in range(3):  # a free port may be taken between probing and binding
            self.pop3_port, self.pop3s_port = free_port(), free_port()
            while self.pop3s_port == self.pop3_port:
                self.pop3s_port = free_port()
            self._pick_target_ports()
            self.config_path.write_text(self._config())
            try:
                self._launch(binary)
                return
            except DovecotError as exc:
                last_error = str(exc)
                self._terminate()
                if "in use" not in last_error.lower():
                    break
        raise DovecotError(last_error)

    def _pick_target_ports(self) -> None:
        taken = {self.pop3_port, self.pop3s_port}
        for name in ("imap_port", "imaps_port", "lmtp_port"):
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            setattr(self, name, port)

    @property
    def lmtp_socket(self) -> Path:
        return self.base_dir / "popfetch-lmtp"

    def _check_parents_enterable(self) -> None:
        if not self.is_root:
            return
        for parent in [self.root, *self.root.parents]:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                raise DovecotError(
                    f"{parent} is not enterable by other users (mode {oct(mode & 0o777)}); "
                    "Dovecot's unprivileged processes need to reach the temp dir: "
                    "choose a root under /tmp, not pytest's tmp_path"
                )

    def _launch(self, binary: str) -> None:
        self.log_path.touch()  # written by the master's log service, so root may own it
        self._stdio = os.open(self.stdio_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._stdio,
            stderr=self._stdio,
            start_new_session=True,
            close_fds=True,
        )
        deadline = time.monotonic() + self.start_timeout
        pending = {self.pop3_port: (False, b"+OK"), self.pop3s_port: (True, b"+OK")}
        if "imap" in self.protocols:
            pending[self.imap_port] = (False, b"* OK")
            pending[self.imaps_port] = (True, b"* OK")
        if "lmtp" in self.protocols:
            pending[self.lmtp_port] = (False, b"220 ")
        while pending:
            if self.proc.poll() is not None:
                raise DovecotError(
                    f"dovecot exited with status {self.proc.returncode}:\n{self.diagnostics()}"
                )
            if time.monotonic() > deadline:
                raise DovecotError(
                    f"dovecot did not greet within {self.start_timeout} s:\n{self.diagnostics()}"
                )
            for port, (implicit_tls, greeting) in list(pending.items()):
                if self._greets(port, implicit_tls, greeting):
                    del pending[port]
            if pending:
                time.sleep(0.05)

    def _greets(self, port: int, implicit_tls: bool, greeting: bytes) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=2.0) as raw:
                sock: socket.socket = raw
                if implicit_tls:
                    sock = self.ssl_context().wrap_socket(raw, server_hostname="localhost")
                sock.settimeout(2.0)
                data = sock.recv(512)
                with contextlib.suppress(OSError):
                    sock.sendall(b"A LOGOUT\r\n" if greeting == b"* OK" else b"QUIT\r\n")
                return data.startswith(greeting)
        except (OSError, ssl.SSLError):
            return False

    def children(self) -> list[int]:
        """PIDs of the master's direct children (from /proc)."""
        if self.proc is None:
            return []
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            fields = stat[stat.rfind(")") + 2 :].split()
            if len(fields) > 1 and int(fields[1]) == self.proc.pid:
                found.append(int(entry.name))
        return found

    def stop(self, timeout: float = 10.0) -> None:
        """Stop by PID: SIGTERM to the master (what ``doveadm stop`` sends, without its 3 s
        of polling), SIGKILL after ``timeout``; then end any child that lingers, by PID."""
        if self.proc is not None and self.proc.poll() is None:
            kids = self.children()
            self._terminate(timeout)
            deadline = time.monotonic() + 2.0
            while kids and time.monotonic() < deadline:
                kids = [pid for pid in kids if _is_dovecot(pid)]
                if kids:
                    time.sleep(0.05)
            for pid in kids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        if self._stdio is not None:
            os.close(self._stdio)
            self._stdio = None
        if self._own_root and os.environ.get("POPFETCH_KEEP_DOVECOT") != "1":
            shutil.rmtree(self.root, ignore_errors=True)

    def _terminate(self, timeout: float = 10.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5.0)

    def diagnostics(self) -> str:
        parts = []
        for path in (self.log_path, self.stdio_path):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    # ---- configuration -----------------------------------------------------------------------
    def _config(self) -> str:
        if self.is_root:
            identity = (
                "default_internal_user = dovecot\n"
                "default_login_user = dovenull\n"
                f"first_valid_uid = {self.mail_uid}\n"
                f"first_valid_gid = {self.mail_gid}\n"
            )
            chroots = ""
        else:
            user = pwd.getpwuid(os.getuid()).pw_name
            group = grp.getgrgid(os.getgid()).gr_name
            identity = (
                f"default_internal_user = {user}\n"
                f"default_internal_group = {group}\n"
                f"default_login_user = {user}\n"
                f"first_valid_uid = {min(self.mail_uid, 500) or 1}\n"
                f"first_valid_gid = {min(self.mail_gid, 1) or 1}\n"
            )
            chroots = "  chroot =\n"
        assert self.certs is not None
        return f"""\
# generated by tests/support/dovecot.py
base_dir = {self.base_dir}
state_dir = {self.root / "state"}
log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
instance_name = popfetch-test-{self.pop3_port}
protocols = {" ".join(self.protocols)}
postmaster_address = postmaster@example.test
listen = 127.0.0.1
shutdown_clients = yes
{identity}
ssl = yes
ssl_cert = <{self.certs.cert_pem}
ssl_key = <{self.certs.key_pem}
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 apop scram-sha-256
auth_failure_delay = 0
auth_verbose = yes
auth_cache_size = 0
mail_location = maildir:~/Maildir
mail_fsync = never
pop3_no_flag_updates = yes
pop3_lock_session = {"yes" if self.lock_session else "no"}

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd_dir}/%u
}}

service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s_port}
    ssl = yes
  }}
{chroots}}}
{self._target_services(chroots)}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
{chroots}}}
"""

    def _target_services(self, chroots: str) -> str:
        parts = []
        if "imap" in self.protocols:
            if self.imap_capability is not None:
                parts.append(f"protocol imap {{\n  imap_capability = {self.imap_capability}\n}}")
            parts.append(f"""\
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
{chroots}}}""")
        if "lmtp" in self.protocols:
            parts.append(f"""\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
  unix_listener {self.lmtp_socket.name} {{
    mode = 0666
  }}
}}""")
        return "\n".join(parts)

    # ---- users and mail ----------------------------------------------------------------------
    def add_user(self, name: str, password: str, *, maildir: Path | None = None) -> User:
        """Add a user with a passwd-file of its own (Dovecot opens it on the first login).

        ``maildir`` serves an existing Maildir instead of ``HOME/Maildir``: its files are
        handed to the mail uid, and (as root) every parent must be enterable by it, so make
        it under ``scratch()``.
        """
        if name in self.users:
            raise ValueError(f"user {name} exists")
        if not name or not all(c.isalnum() or c in "-_." for c in name) or name[0] == ".":
            raise ValueError(f"user name {name!r}: letters, digits, '-', '_', '.' only")
        if any(c in password for c in ":\n\r"):
            raise ValueError("passwords may not contain ':' or line breaks")
        home = self.root / "homes" / name
        home.mkdir(parents=True, exist_ok=True)
        self._own(home)
        if maildir is None:
            box = home / "Maildir"
            for sub in ("tmp", "new", "cur"):
                (box / sub).mkdir(parents=True, exist_ok=True)
        else:
            box = Path(maildir).resolve()
            if self.is_root:
                for parent in box.parents:
                    if not parent.stat().st_mode & 0o001:
                        raise DovecotError(
                            f"{parent} is not enterable by the mail uid: "
                            "put a served Maildir under Dovecot.scratch()"
                        )
        self._own_tree(box)
        user = User(name, password, home, box)
        extra = "" if maildir is None else f"userdb_mail=maildir:{box}"
        line = f"{name}:{password}:{self.mail_uid}:{self.mail_gid}::{home}::{extra}\n"
        tmp = self.passwd_dir / f".{name}.tmp"
        tmp.write_text(line)
        tmp.chmod(0o644)
        os.replace(tmp, self.passwd_dir / name)
        self.users[name] = user
        return user

    def scratch(self, name: str) -> Path:
        """A fresh directory inside the server's root that Dovecot's users can enter (0755):
        for a Maildir a client fills and a second user then serves back."""
        path = self.root / "scratch" / name
        path.mkdir(parents=True, mode=0o755)
        path.parent.chmod(0o755)
        return path

    def _own(self, path: Path) -> None:
        if self.is_root:
            os.chown(path, self.mail_uid, self.mail_gid)

    def _own_tree(self, top: Path) -> None:
        if not self.is_root:
            return
        self._own(top)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), self.mail_uid, self.mail_gid)

    def fill(self, user: str, messages: Iterable[bytes]) -> list[Path]:
        """Deliver ``messages`` (LF or CRLF bytes, as they should be on disk) into the user's
        Maildir ``new/``, in order (names sort in delivery order). Returns the file paths."""
        box = self.users[user].maildir
        paths = []
        base = f"{time.time_ns()}"
        for i, data in enumerate(messages):
            name = f"{base}.M{len(paths):07d}P{os.getpid()}Q{i}.popfetch-test"
            tmp = box / "tmp" / name
            with open(tmp, "wb") as f:
                f.write(data)
            self._own(tmp)
            final = box / "new" / name
            os.rename(tmp, final)
            paths.append(final)
        return paths

    def fill_file(self, user: str, size: int, *, line: bytes | None = None) -> Path:
        """One large message of about ``size`` bytes on disk, written in chunks (no big buffer)."""
        box = self.users[user].maildir
        name = f"{time.time_ns()}.Mbig{size}P{os.getpid()}.popfetch-test"
        tmp = box / "tmp" / name
        header = (
            f"From: big@example.test\nTo: {user}@example.test\nSubject: big {size}\n"
            f"Message-ID: <big-{size}-{time.time_ns()}@example.test>\n\n"
        ).encode()
        line = line or (b"0123456789abcdefghijklmnopqrstuvwxyz" * 2 + b"\n")
        chunk = line * max(1, (1 << 20) // len(line))
        with open(tmp, "wb") as f:
            f.write(header)
            written = len(header)
            while written + len(chunk) <= size:
                f.write(chunk)
                written += len(chunk)
            lines = (size - written) // len(line)
            f.write(line * lines)
            written += lines * len(line)
            rest = size - written  # shorter than one line
            if rest > 0:
                f.write(b"x" * (rest - 1) + b"\n")
        self._own(tmp)
        final = box / "new" / name
        os.rename(tmp, final)
        return final

    def files(self, user: str) -> list[Path]:
        """The message files of the user's Maildir (``new/`` and ``cur/``), sorted by name."""
        box = self.users[user].maildir
        out = [p for sub in ("new", "cur") for p in (box / sub).iterdir() if p.is_file()]
        return sorted(out, key=lambda p: p.name.split(":")[0])

    def contents(self, user: str) -> list[bytes]:
        return [p.read_bytes() for p in self.files(user)]

    def clear(self, user: str) -> None:
        """Remove every message and Dovecot's index files for the user."""
        box = self.users[user].maildir
        for sub in ("new", "cur", "tmp"):
            for p in (box / sub).iterdir():
                p.unlink()
        for p in box.iterdir():
            if p.is_file():
                p.unlink()

    # ---- log and clients ---------------------------------------------------------------------
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_lines(self, needle: str) -> list[str]:
        return [line for line in self.log().splitlines() if needle in line]

    def wait_log(self, needle: str, *, count: int = 1, timeout: float = 10.0) -> list[str]:
        """Wait until at least ``count`` log lines contain ``needle``; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.log_lines(needle)
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only this run's CA."""
        ctx = ssl.create_default_context(cafile=str(self.ca_pem))
        return ctx


def make_messages(count: int, *, start: int = 0, body_lines: int = 3, tag: str = "") -> list[bytes]:
    """Distinct small LF messages, each with dot-stuffing traps and a final newline."""
    out = []
    for i in range(start, start + count):
        body = "".join(f"line {j} of message {i}\n" for j in range(body_lines))
        out.append(
            (
                f"From: sender{i}@example.test\nTo: rcpt@example.test\n"
                f"Subject: message {i} {tag}\nMessage-ID: <m{i}.{time.time_ns()}@example.test>\n\n"
                f"{body}.a line starting with a dot\n..two dots\n.\nend of {i}\n"
            ).encode()
        )
    return out


def to_wire(data: bytes) -> bytes:
    """What a POP3 server sends for a file on disk (CRLF form, before dot-stuffing)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _is_dovecot(pid: int) -> bool:
    """Is ``pid`` still a live Dovecot process (a recycled PID is left alone)?"""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return False
    return "dovecot" in exe
