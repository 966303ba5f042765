"""A throwaway desktop for tests: Xvfb, a private D-Bus session bus, and Debian's own
notification daemon (dunst) and tray host (trayer) on them.

Every process is started with a clean environment pointing at our display and bus only,
waited for by a positive signal (the display number written to a pipe, the bus address
printed, the daemon's bus name owned, the tray selection taken), and stopped afterwards.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTUP_TIMEOUT = 15.0
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""
# A plain look for the README's picture: top right, 340 px wide, framed.
DUNSTRC = """\
[global]
    markup = full
    idle_threshold = 0
    origin = top-right
    offset = 20x20
    width = 340
    font = DejaVu Sans 10
    frame_width = 2
    frame_color = "#2f80ed"
    format = "<b>%s</b>\\n%b"
    show_indicators = no
[urgency_normal]
    background = "#ffffff"
    foreground = "#222222"
    timeout = 0
"""
# tool -> Debian package
TOOLS = {"Xvfb": "xvfb", "dbus-daemon": "dbus-daemon", "dunst": "dunst",
         "dunstctl": "dunst", "trayer": "trayer", "desktop-file-validate": "desktop-file-utils"}


def missing(*tools: str) -> list[str]:
    """The Debian packages to install for ``tools`` (empty when all are there)."""
    return sorted({TOOLS[t] for t in tools if shutil.which(t) is None})


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def _until(condition: object, what: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():  # type: ignore[operator]
        if proc.poll() is not None:
            raise RuntimeError(f"{what}: exited with {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {STARTUP_TIMEOUT} s")
        time.sleep(0.02)


@contextmanager
def xvfb(screen: str = "1024x600x24") -> Iterator[str]:
    """An X server; yields its DISPLAY (``:N``), read from ``-displayfd`` when it is ready."""
    read, write = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", screen,
                             "-nolisten", "tcp"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], STARTUP_TIMEOUT)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not start (exit {proc.poll()})")
        yield f":{number}"
    finally:
        os.close(read)
        stop(proc)


def name_owned(address: str, name: str) -> bool:
    from jeepney import DBus, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    try:
        with open_dbus_connection(address) as conn:
            reply = conn.send_and_get_reply(
                new_method_call(DBus(), "NameHasOwner", "s", (name,)), timeout=2)
            return bool(reply.body[0])
    except (OSError, TimeoutError, ValueError):
        return False


@contextmanager
def session_bus() -> Iterator[str]:
    """A private session bus that activates nothing; yields its address."""
    root = Path(tempfile.mkdtemp(prefix="popfetch-bus-"))
    socket_path = root / "bus"
    config = root / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket_path))
    proc = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], STARTUP_TIMEOUT)
        address = proc.stdout.readline().decode().strip() if ready else ""
        if not address.startswith("unix:"):
            raise RuntimeError(f"dbus-daemon printed no address (exit {proc.poll()})")
        yield address
    finally:
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(root, ignore_errors=True)


def desktop_env(display: str, bus: str, home: Path) -> dict[str, str]:
    """The environment of a program on our desktop and nothing else's."""
    for sub in ("config", "run", "cache", "data"):
        (home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": bus, "LANG": "C.UTF-8",
            "XDG_CONFIG_HOME": str(home / "config"), "XDG_RUNTIME_DIR": str(home / "run"),
            "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data")}


@contextmanager
def dunst(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's dunst, serving org.freedesktop.Notifications on ``env``'s bus and display."""
    config = Path(env["HOME"]) / "dunstrc"
    config.write_text(DUNSTRC)
    proc = subprocess.Popen(["dunst", "-config", str(config)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: name_owned(env["DBUS_SESSION_BUS_ADDRESS"],
                                  "org.freedesktop.Notifications"), "dunst", proc)
        yield proc
    finally:
        stop(proc)


def dunstctl(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(["dunstctl", *args], env=env, capture_output=True, text=True,
                          timeout=10, check=True)
    return done.stdout


@contextmanager
def trayer(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """Debian's trayer, a small XEmbed system tray. Its readiness is the client's to see:
    Qt's ``QSystemTrayIcon.isSystemTrayAvailable()`` turns true once it owns the tray."""
    proc = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
         "--height", "32", "--transparent", "false", "--tint", "0xdddddd", "--SetDockType",
         "true"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop(proc)
