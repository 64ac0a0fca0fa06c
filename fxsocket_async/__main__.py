"""``python -m fxsocket_async``: ``demo`` (the guided tour) or ``simulator``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio

from ._demo import run_demo
from ._exceptions import FxSocketError


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
    commands.add_parser(
        "simulator", help="run the simulator (python -m fxsocket_async.simulator --help)"
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulator":
        from .simulator.__main__ import main as simulator_main

        return simulator_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return anyio.run(lambda: run_demo(trade=args.trade))
    except FxSocketError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
