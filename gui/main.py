"""The ``popfetch`` console script. The headless subcommands never import Qt."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """A first word that is not an option is a subcommand: the headless parser takes it, and
    an unknown one gets its usage error (exit 2) rather than a GUI start without a display."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        from core.cli import main as cli_main

        return cli_main(args)
    from gui.app import main as app_main

    return app_main(args)


if __name__ == "__main__":
    sys.exit(main())
