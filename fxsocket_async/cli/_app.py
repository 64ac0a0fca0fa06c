"""The command tree: ``fxsocket-async`` (also ``python -m fxsocket_async``).

Each command is a thin click function; what it does lives in a module of
its own, imported when the command runs, so ``demo`` starts without pyarrow
or rich installed and ``--help`` stays fast.
"""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from ..collect._layout import FORMATS
from ._common import DURATION, run

__all__ = ["cli"]

_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_ENV = (
    "The server comes from FXSOCKET_API_KEY, FXSOCKET_BASE_URL and FXSOCKET_WS_URL "
    "(what `fxsocket-async simulator` prints)."
)


@click.group(context_settings=_SETTINGS, epilog=_ENV)
@click.version_option(__version__, "--version", prog_name="fxsocket-async")
def cli() -> None:
    """fxsocket-async: the FxSocket client's command line.

    Start with `demo` (it runs against an embedded simulator when
    FXSOCKET_API_KEY is not set).
    """


@cli.command()
@click.option("--trade", is_flag=True, help="Against a real server, place and close an order.")
def demo(trade: bool) -> int:
    """Link an account, stream, trade, and show the result.

    Against an embedded simulator when FXSOCKET_API_KEY is not set (it says so
    on stderr); read-only against a real server unless --trade is given.
    """
    from .demo import run_demo

    return run(lambda: run_demo(trade=trade))


@cli.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    short_help="Run the local simulator (see `simulator --help`).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def simulator(ctx: click.Context, args: tuple[str, ...]) -> int:
    """Run the local simulator: every option is the simulator's own."""
    from ..simulator.__main__ import main as simulator_main

    return simulator_main(list(args), prog=f"{ctx.find_root().info_name} simulator")


# ------------------------------------------------------------------ accounts


@cli.group(context_settings=_SETTINGS, epilog=_ENV)
def accounts() -> None:
    """List, link and unlink the key's accounts."""


@accounts.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for machines.")
def accounts_list(as_json: bool) -> int:
    """Every account of the key, with its status."""
    from .accounts import list_accounts

    return run(lambda: list_accounts(as_json=as_json))


@accounts.command("link")
@click.option("--server", required=True, help="The broker's server, as MetaTrader names it.")
@click.option("--login", required=True, type=click.IntRange(min=1), help="The account's login.")
@click.option("--nickname", default=None, help="A name to tell it apart.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from stdin (else $FXSOCKET_PASSWORD, else a prompt).",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="Wait until its terminal is connected, showing its status.",
)
@click.option("--timeout", **DURATION, default="5m", show_default=True, help="For --wait.")
def accounts_link(
    server: str,
    login: int,
    nickname: str | None,
    password_stdin: bool,
    wait: bool,
    timeout: float,
) -> int:
    """Link an account (or find it, if this key linked it already) and wait for it."""
    from .accounts import link_account, read_password

    password = read_password(password_stdin)
    return run(
        lambda: link_account(
            server=server,
            login=login,
            password=password,
            nickname=nickname,
            wait=wait,
            timeout=timeout,
        )
    )


@accounts.command("unlink")
@click.argument("account_id")
def accounts_unlink(account_id: str) -> int:
    """Unlink ACCOUNT_ID: its terminal stops, its open orders go with it."""
    from .accounts import unlink_account

    return run(lambda: unlink_account(account_id))


# -------------------------------------------------------------------- quotes


@cli.group(context_settings=_SETTINGS, epilog=_ENV)
def quotes() -> None:
    """Live quotes."""


@quotes.command("tail")
@click.argument("symbols", nargs=-1, required=True)
@click.option("--account", "account", help="The account (default: the key's only connected one).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many quotes.")
@click.option("--duration", **DURATION, help="Stop after this long (30s, 5m...).")
@click.option("--plain", is_flag=True, help="One line per quote, even in a terminal.")
def quotes_tail(
    symbols: tuple[str, ...],
    account: str | None,
    count: int | None,
    duration: float | None,
    plain: bool,
) -> int:
    """Follow SYMBOL... live: a table in a terminal, one line per quote otherwise."""
    from .tail import tail

    return tail(symbols, account=account, count=count, duration=duration, plain=plain)


# ------------------------------------------------------------------- collect

#: The high-rate commands' stream client: picows when the fast extra is installed.
_TRANSPORT = click.option(
    "--transport", type=click.Choice(["auto", "aiohttp", "picows"]), default="auto",
    show_default=True,
    help="The stream's WebSocket client; auto: picows when the fast extra is installed.",
)  # fmt: skip


@cli.command(epilog=_ENV)
@click.argument("symbols", nargs=-1)
@click.option("--account", help="The account (default: the key's only connected one).")
@click.option(
    "--all", "all_accounts", is_flag=True, help="From every connected account of the key."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, writable=True),
    help="The archive's folder.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="parquet", show_default=True)
@click.option(
    "--rotate",
    **DURATION,
    default="1h",
    show_default=True,
    help="Start a new file this often (aligned to the clock: 1h ends on the hour).",
)
@click.option(
    "--max-file-mb",
    type=click.FloatRange(min=0, min_open=True),
    help="Start a new file once one holds this much data (measured before compression).",
)
@click.option("--duration", **DURATION, help="Stop after this long (30s, 8h...).")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many ticks.")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the archive in --out: the time since its last tick is recorded as a gap.",
)
@_TRANSPORT
@click.option("--quiet", is_flag=True, help="Print the summary at the end, nothing else.")
def collect(
    symbols: tuple[str, ...],
    account: str | None,
    all_accounts: bool,
    out: str,
    fmt: str,
    rotate: float,
    max_file_mb: float | None,
    duration: float | None,
    count: int | None,
    resume: bool,
    transport: str,
    quiet: bool,
) -> int:
    """Collect every tick of SYMBOL... into an archive, with its gaps recorded.

    Files are Parquet (or CSV, or JSON lines) under
    OUT/ticks/symbol=SYMBOL/date=BROKER_DATE/. A live display shows ticks/s,
    files, reconnects, gaps, drops and lag (a line a minute when stdout is
    not a terminal). Ctrl-C or SIGTERM: the files are sealed, a summary is
    printed, exit 0. Needs the collect extra.
    """
    from .collect import CollectOptions, collect_command

    options = CollectOptions(
        symbols=symbols,
        account=account,
        all_accounts=all_accounts,
        out=out,
        fmt=fmt,
        rotate=rotate,
        max_file_mb=max_file_mb,
        duration=duration,
        count=count,
        resume=resume,
        transport=transport,
        quiet=quiet,
    )
    return collect_command(options)


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Covered spans and gaps as JSON.")
@click.option("--symbol", "symbols", multiple=True, help="Only this symbol (repeatable).")
def coverage(directory: str, as_json: bool, symbols: tuple[str, ...]) -> int:
    """What the archive in DIRECTORY covers, per symbol, and where its holes are."""
    from .coverage import show_coverage

    return show_coverage(directory, as_json=as_json, symbols=symbols)


@cli.command(epilog=_ENV)
@click.option(
    "--nats", "nats_urls", multiple=True, required=True, metavar="URL",
    help="A NATS server, nats://HOST:PORT (repeat for a cluster's seeds).",
)  # fmt: skip
@click.option(
    "--account",
    "accounts",
    multiple=True,
    help="An account (repeatable; default: every connected one).",
)
@click.option(
    "--symbols",
    multiple=True,
    help="Symbols whose quotes to publish (repeatable, or comma-separated).",
)
@click.option(
    "--prefix", default="fxsocket", show_default=True, help="Of every subject, stream and bucket."
)
@click.option(
    "--metrics-port", type=click.IntRange(min=0, max=65535), help="Serve Prometheus metrics here."
)
@click.option(
    "--dialect", type=click.Choice(["auto", "reference", "terminal"]), default="auto",
    show_default=True, help="How accounts are reached (see docs/protocol.md).",
)  # fmt: skip
@click.option("--max-batch", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Quotes per NATS message at most.")  # fmt: skip
@_TRANSPORT
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def bridge(
    nats_urls: tuple[str, ...],
    accounts: tuple[str, ...],
    symbols: tuple[str, ...],
    prefix: str,
    metrics_port: int | None,
    dialect: str,
    max_batch: int,
    transport: str,
    quiet: bool,
) -> int:
    """Publish accounts' events, quotes and REST to NATS JetStream (see docs/bridge.md).

    One process holds the upstream session; consumers on any host read it with
    RemoteFxSocket. Ctrl-C or SIGTERM: drain, exit 0. Needs the bridge extra.
    """
    from .bridge import BridgeOptions, bridge_command

    options = BridgeOptions(
        nats=nats_urls, accounts=accounts, symbols=symbols, prefix=prefix,
        metrics_port=metrics_port, dialect=dialect, max_batch=max_batch, transport=transport,
        quiet=quiet,
    )  # fmt: skip
    return bridge_command(options)
