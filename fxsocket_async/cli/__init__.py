"""The command line: ``fxsocket-async`` (also ``python -m fxsocket_async``).

Commands: ``demo``, ``simulator``, ``accounts list|link|unlink``, ``quotes
tail``, ``collect`` and ``coverage``. ``main(argv)`` runs one and returns its
exit status: 0, 1 for an error of the library or the server (one line on
stderr), 2 for a usage error, 130 for a run stopped by Ctrl-C (``collect``
stops cleanly on Ctrl-C and exits 0).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ._app import cli
from ._common import INTERRUPTED

__all__ = ["INTERRUPTED", "cli", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        result = cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        # Ctrl-C at a prompt (click's own handling); a running command catches its own.
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    return result if isinstance(result, int) else 0
