"""Take resources/screenshot.png of ``popfetch --demo`` in a real X server (run by hand).

    python tests/gui/screenshot.py [--out resources/screenshot.png] [--wait 12]

Re-runs itself under ``xvfb-run`` when there is no display. Starts the app with fresh XDG
dirs (so the demo mailbox is made anew), clicks "Download all" with xdotool, marks two
messages, lets it download a while and saves the whole screen with ImageMagick's import.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCREEN = "1280x800x24"


def sh(*args: str, check: bool = True, timeout: float = 30) -> str:
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)
    return out.stdout.strip()


def click(win: str, x: int, y: int, modifier: str | None = None) -> None:
    args = ["xdotool", "mousemove", "--window", win, str(x), str(y)]
    if modifier:
        args += ["keydown", modifier, "click", "1", "keyup", modifier]
    else:
        args += ["click", "1"]
    sh(*args)


def find_window(deadline: float) -> str:
    while time.monotonic() < deadline:
        out = sh("xdotool", "search", "--onlyvisible", "--name", "popfetch", check=False)
        if out:
            return out.split()[-1]
        time.sleep(0.3)
    raise SystemExit("the popfetch window did not appear")


def inner(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="popfetch-shot-"))
    env = dict(os.environ)
    for name in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        env[name] = str(tmp / name.lower())
    env["QT_QPA_PLATFORM"] = "xcb"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    app = subprocess.Popen(
        [sys.executable, "-m", "gui", "--demo", "-geometry", "1280x800+0+0"],
        cwd=str(ROOT), env=env,
    )
    try:
        win = find_window(time.monotonic() + 60)
        sh("xdotool", "windowsize", win, "1280", "800")
        sh("xdotool", "windowmove", win, "0", "0")
        time.sleep(args.settle)  # the demo mailbox is made and the list loads
        sh("xdotool", "windowfocus", "--sync", win, check=False)
        sh("xdotool", "key", "--window", win, "ctrl+shift+d")  # Download all
        time.sleep(1.0)
        # sort by size, largest first (click the "Size" header twice)
        click(win, 860, 99)
        time.sleep(0.5)
        click(win, 860, 99)
        time.sleep(max(0.0, args.wait - 4.5))
        click(win, 600, 144)  # the second largest: pause it (Space)
        sh("xdotool", "key", "--window", win, "space")
        time.sleep(2.0)
        click(win, 600, 240)  # two small ones: mark them (Del)
        click(win, 600, 264, "ctrl")
        sh("xdotool", "key", "--window", win, "Delete")
        time.sleep(1.0)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        sh("import", "-window", "root", str(out))
        print(f"saved {out}")
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "resources" / "screenshot.png"))
    parser.add_argument("--wait", type=float, default=10.0, help="seconds of downloading")
    parser.add_argument("--settle", type=float, default=6.0, help="seconds before starting")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner or os.environ.get("DISPLAY"):
        return inner(args)
    cmd = ["xvfb-run", "-a", "-s", f"-screen 0 {SCREEN}", sys.executable, __file__, "--inner",
           "--out", args.out, "--wait", str(args.wait), "--settle", str(args.settle)]
    return subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
