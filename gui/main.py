"""The ``popfetch`` console script. The headless subcommands never import Qt."""

from __future__ import annotations

import sys
from collections.abc import Sequence

HEADLESS = ("fetch", "oauth", "demo-server")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in HEADLESS:
        from core.cli import main as cli_main

        return cli_main(args)
    from gui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
