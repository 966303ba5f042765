"""Run a command and print its peak RSS in KiB on the last line of stderr.

Measured from a small parent on purpose: ru_maxrss of a child forked from a big process
(pytest holding test data) counts the parent's pages it shared before exec.
"""

import os
import subprocess
import sys

if __name__ == "__main__":
    proc = subprocess.Popen(sys.argv[1:])
    _, status, usage = os.wait4(proc.pid, 0)
    print(f"peak-rss-kib {usage.ru_maxrss}", file=sys.stderr)
    sys.exit(os.waitstatus_to_exitcode(status))
