"""``python -m fxsocket_async.simulator``: run the simulator until SIGTERM or Ctrl-C.

Prints ``FXSOCKET_BASE_URL=...`` and ``FXSOCKET_WS_URL=...`` on stdout as soon
as it listens, so a script can read where it is.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from ._config import DEMO_API_KEY, ApiKey, SimulatorConfig
from ._server import Simulator
from ._symbols import symbol_specs


def _parser() -> argparse.ArgumentParser:
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog="python -m fxsocket_async.simulator",
        description="Run a local FxSocket simulator (REST + WebSocket).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY[:SCOPE]",
        help=f"accept KEY with scope read|trade|full (default full); repeatable. "
        f"Without it the demo key {DEMO_API_KEY!r} is accepted",
    )
    parser.add_argument(
        "--provision-delay", type=float, default=defaults.provision_delay, metavar="SECONDS"
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--symbols", default=None, help="comma-separated subset of the built-in symbols"
    )
    parser.add_argument(
        "--quote-interval",
        type=float,
        default=defaults.quote_interval,
        metavar="SECONDS",
        help="seconds between price ticks; 0 turns automatic ticks off",
    )
    parser.add_argument(
        "--rate-limit", type=float, default=defaults.rate_limit, help="requests/s; 0 = off"
    )
    parser.add_argument("--plan-limit", type=int, default=defaults.plan_limit)
    parser.add_argument("--leverage", type=float, default=defaults.leverage)
    parser.add_argument("--balance", type=float, default=defaults.balance)
    parser.add_argument("--access-log", action="store_true", help="log every request")
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build the configuration the command line asks for."""
    keys = tuple(ApiKey.parse(text) for text in args.api_key) or (ApiKey(DEMO_API_KEY),)
    symbols = SimulatorConfig().symbols
    if args.symbols:
        symbols = symbol_specs(s.strip() for s in args.symbols.split(",") if s.strip())
    return SimulatorConfig(
        api_keys=keys,
        provision_delay=args.provision_delay,
        seed=args.seed,
        symbols=symbols,
        quote_interval=args.quote_interval or None,
        rate_limit=args.rate_limit or None,
        plan_limit=args.plan_limit,
        leverage=args.leverage,
        balance=args.balance,
    )


async def serve(config: SimulatorConfig, host: str, port: int, access_log: bool) -> None:
    """Run until SIGTERM or SIGINT, then stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Simulator(config, host=host, port=port, access_log=access_log) as sim:
        print(f"FXSOCKET_BASE_URL={sim.base_url}", flush=True)
        print(f"FXSOCKET_WS_URL={sim.ws_url}", flush=True)
        await stop.wait()
    print("simulator stopped", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(config, args.host, args.port, args.access_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
