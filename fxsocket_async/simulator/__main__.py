"""``python -m fxsocket_async.simulator`` (or ``fxsocket-simulator``): run the simulator.

As soon as it listens it prints three lines on stdout, each flushed at once::

    FXSOCKET_BASE_URL=http://127.0.0.1:54321
    FXSOCKET_WS_URL=ws://127.0.0.1:54321/v1/stream
    FXSOCKET_API_KEY=fxs_demo_key

and then runs until SIGTERM or Ctrl-C, writing nothing more on stdout (logs go
to stderr). ``--detach`` starts it in the background instead and prints a
fourth line, ``FXSOCKET_SIMULATOR_PID=``, so that a shell can
``export $(python -m fxsocket_async.simulator --detach ...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from ._config import DEMO_API_KEY, ApiKey, SimulatorConfig
from ._detach import detach
from ._replay_archive import ReplayError
from ._replay_spec import ReplaySpec, parse_speed
from ._server import Simulator
from ._symbols import DEFAULT_SYMBOLS, symbol_specs

__all__ = ["Link", "build_parser", "config_from_args", "main", "serve"]

PROG = "python -m fxsocket_async.simulator"


@dataclass(frozen=True, slots=True)
class Link:
    """One ``--link SERVER:LOGIN[:NICKNAME]``."""

    server: str
    login: int
    nickname: str = ""

    @classmethod
    def parse(cls, text: str) -> Link:
        """Parse ``SERVER:LOGIN[:NICKNAME]``; raises ``argparse.ArgumentTypeError``."""
        server, _, rest = text.partition(":")
        login, _, nickname = rest.partition(":")
        if not server.strip() or not login.isdigit() or int(login) <= 0:
            raise argparse.ArgumentTypeError(
                f"expected SERVER:LOGIN[:NICKNAME] with a positive LOGIN, such as "
                f"Sim-Demo:1234567:my-bot; got {text!r}"
            )
        return cls(server.strip(), int(login), nickname)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with its default, written out where a value says little."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "(default:" in text or action.default is argparse.SUPPRESS:
            return text
        if action.const is True and action.default is False:  # a flag
            return f"{text} (default: off)"
        return super()._get_help_string(action) or text


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command line, every option with its default in ``--help``."""
    defaults = SimulatorConfig()
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Run a local FxSocket simulator (REST + WebSocket) until SIGTERM or "
        "Ctrl-C. Prints FXSOCKET_BASE_URL=, FXSOCKET_WS_URL= and FXSOCKET_API_KEY= as its "
        "first three lines on stdout. See docs/simulator.md.",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to listen on")
    add("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    add(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY[:SCOPE]",
        help="accept KEY with scope read, trade or full (full when not given); repeatable. "
        f"(default: the demo key {DEMO_API_KEY}, full scope)",
    )
    add(
        "--link",
        action="append",
        default=[],
        type=Link.parse,
        metavar="SERVER:LOGIN[:NICKNAME]",
        help="link this account for the first key's owner before listening, its terminal "
        "already connected (a SERVER ending in -Broken fails provisioning); repeatable. "
        "(default: no account)",
    )
    add(
        "--provision-delay",
        type=float,
        default=defaults.provision_delay,
        metavar="SECONDS",
        help="seconds from a link over REST to its terminal being connected",
    )
    add("--seed", type=int, default=defaults.seed, help="seed of the market and of the ids")
    add(
        "--symbols",
        default=None,
        metavar="SYMBOL,...",
        help="a comma-separated subset of the built-in symbols, or with --replay of the "
        f"archive's (default: all of {','.join(s.name for s in DEFAULT_SYMBOLS)}; with "
        "--replay, all of the archive's)",
    )
    add(
        "--quote-interval",
        type=float,
        default=defaults.quote_interval,
        metavar="SECONDS",
        help="seconds between price ticks of each symbol; 0 turns automatic ticks off",
    )
    add(
        "--rate-limit",
        type=float,
        default=defaults.rate_limit,
        metavar="PER_SECOND",
        help="REST requests per second per account (management: per key); 0 turns it off",
    )
    add(
        "--plan-limit",
        type=int,
        default=defaults.plan_limit,
        help="linked accounts per owner; beyond it a link is 402 plan_limit",
    )
    add("--leverage", type=float, default=defaults.leverage, help="account leverage")
    add("--balance", type=float, default=defaults.balance, help="a new account's balance")
    add(
        "--no-terminal",
        action="store_true",
        help="serve the reference dialect alone: accounts carry no rest_url or ws_url and "
        "the per-account terminal routes (/terminal/...) are not served",
    )
    add(
        "--terminal-interval",
        type=float,
        default=defaults.terminal_interval,
        metavar="SECONDS",
        help="seconds between the periodic 'terminal' pushes on terminal sockets; 0 turns them off",
    )
    replay = parser.add_argument_group(
        "replay",
        "serve an archive of 'fxsocket-async collect' as the market: its ticks in recorded "
        "order and broker times (quotes, REST quotes and candles follow them; orders fill "
        "at the recorded prices), every fault still available. Needs pyarrow: "
        "pip install 'fxsocket-async[collect]'. See docs/simulator.md, Replay.",
    )
    replay.add_argument(
        "--replay",
        metavar="DIR",
        default=None,
        help="the archive to replay (its sealed files: unsealed parts are skipped); "
        "--symbols picks among its symbols (default: no replay, a random-walk market)",
    )
    replay.add_argument(
        "--speed",
        type=parse_speed,
        default=1.0,
        metavar="1|10|max",
        help="broker-time seconds per real second, or max: as fast as the streams carry them",
    )
    replay.add_argument(
        "--loop",
        action="store_true",
        help="start again at the end, times shifted by the archive's span "
        "(without it the market stays at the last prices)",
    )
    replay.add_argument(
        "--replay-start",
        choices=("now", "subscribed"),
        default="now",
        help="now: when the simulator starts; subscribed: once quote subscriptions cover "
        "every replayed symbol",
    )
    replay.add_argument(
        "--replay-account",
        metavar="ID",
        default=None,
        help="the collecting account to replay, when the archive holds several "
        "(default: the only one)",
    )
    add("--access-log", action="store_true", help="log every request on stderr")
    add(
        "--detach",
        action="store_true",
        help="run in the background: print the three lines and FXSOCKET_SIMULATOR_PID=, "
        "then return (stop it with kill; its log is in a file named on stderr)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> SimulatorConfig:
    """Build the configuration the command line asks for; raises ``ValueError``."""
    keys = tuple(ApiKey.parse(text) for text in args.api_key) or (ApiKey(DEMO_API_KEY),)
    symbols = SimulatorConfig().symbols
    names = [s.strip() for s in (args.symbols or "").split(",") if s.strip()]
    replay = None
    if args.replay is not None:
        replay = ReplaySpec(
            args.replay,
            speed=args.speed,
            loop=args.loop,
            start=args.replay_start,
            symbols=tuple(names) or None,
            account=args.replay_account,
        )
    elif args.loop or args.replay_start != "now" or args.replay_account or args.speed != 1.0:
        raise ValueError("--speed, --loop, --replay-start and --replay-account need --replay DIR")
    elif names:
        symbols = symbol_specs(names)
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
        terminal=not args.no_terminal,
        terminal_interval=args.terminal_interval or None,
        replay=replay,
    )


async def serve(
    config: SimulatorConfig,
    host: str,
    port: int,
    access_log: bool,
    links: Sequence[Link] = (),
) -> int:
    """Listen, link ``links``, print the three lines, run until SIGTERM or SIGINT.

    Returns the exit status: 0, or 2 when a link is refused or the archive to
    replay cannot be (nothing is printed on stdout then).
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        simulator = Simulator(config, host=host, port=port, access_log=access_log)
    except ReplayError as exc:
        where = config.replay.path if config.replay is not None else ""
        print(f"error: --replay {where}: {exc}", file=sys.stderr)
        return 2
    if simulator.replay is not None:
        archive = simulator.replay.archive
        print(
            f"replaying {archive.count} ticks of {', '.join(archive.symbols)} from "
            f"{archive.files} file(s) ({len(archive.skipped)} unsealed skipped)",
            file=sys.stderr,
            flush=True,
        )
    async with simulator as sim:
        for link in links:
            try:
                account = sim.link_account(link.server, link.login, nickname=link.nickname)
            except ValueError as exc:
                print(f"error: --link {link.server}:{link.login}: {exc}", file=sys.stderr)
                return 2
            print(
                f"linked account {account.id} ({account.server}, login {account.login}): "
                f"{account.status}",
                file=sys.stderr,
                flush=True,
            )
        # Each line flushed on its own: a reader (head -3, a test) gets it at once.
        print(f"FXSOCKET_BASE_URL={sim.base_url}", flush=True)
        print(f"FXSOCKET_WS_URL={sim.ws_url}", flush=True)
        print(f"FXSOCKET_API_KEY={config.api_keys[0].key}", flush=True)
        await stop.wait()
    print("simulator stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    ``prog`` names the command in ``--help``: by default the console script's
    name when run as ``fxsocket-simulator``, else ``python -m fxsocket_async.simulator``.
    """
    if prog is None:
        script = os.path.basename(sys.argv[0]) if sys.argv else ""
        prog = PROG if argv is not None or script in ("", "__main__.py") else script
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(prog).parse_args(arguments)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.detach:
        return detach([a for a in arguments if a != "--detach"])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    return asyncio.run(serve(config, args.host, args.port, args.access_log, args.link))


if __name__ == "__main__":
    sys.exit(main())
