"""``python -m fxsocket_async``: ``demo`` (the guided tour) or ``simulator``.

Ctrl-C stops the tour after it has closed its session (and its embedded
simulator): one line on stderr, exit code 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from ._demo import run_demo
from ._exceptions import FxSocketError

#: The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fxsocket_async")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="link an account, trade, and show the result "
        "(against an embedded simulator when FXSOCKET_API_KEY is not set)",
    )
    demo.add_argument(
        "--trade", action="store_true", help="against a real server, place and close an order"
    )
    # No help of its own: --help goes on to the simulator's parser, which lists every option.
    commands.add_parser(
        "simulator",
        add_help=False,
        help="run the simulator (python -m fxsocket_async.simulator --help)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulator":
        from .simulator.__main__ import main as simulator_main

        return simulator_main(rest, prog="python -m fxsocket_async simulator")
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return anyio.run(lambda: run_demo(trade=args.trade))
    except FxSocketError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # asyncio.run cancelled the tour, which left every block cleanly; the
        # traceback of that cancellation says nothing a user needs.
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
