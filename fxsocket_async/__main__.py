"""``python -m fxsocket_async``: the command line (``fxsocket_async.cli``), as ``fxsocket-async``.

``python -m fxsocket_async demo`` is the README's first command: it needs no
extra installed.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
