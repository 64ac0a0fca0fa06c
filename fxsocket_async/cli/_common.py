"""What the commands share: running a coroutine with the CLI's exit codes, durations,
finding the accounts a command acts on, and the extras it may need."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final

import anyio
import click

from .._client import AsyncFxSocket
from .._config import StreamPolicy
from .._exceptions import FxSocketError, UsageError
from .._stream.transport import TransportName
from ..collect._sink import COLLECT_EXTRA
from ..collect._timefmt import parse_duration

__all__ = [
    "DURATION",
    "INTERRUPTED",
    "connected_accounts",
    "fail",
    "needs",
    "run",
    "single_account",
]

#: The exit code of a run stopped by Ctrl-C (128 + SIGINT), as shells report it.
INTERRUPTED: Final = 130


def fail(message: str, code: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def run(main: Callable[[], Awaitable[int]]) -> int:
    """Run ``main`` on a fresh event loop; the library's errors become one line and 1,
    Ctrl-C one line (``interrupted``) and 130, once every block has been left."""
    try:
        return anyio.run(main)
    except FxSocketError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        # asyncio.run cancelled the command, which left every block cleanly; the
        # traceback of that cancellation says nothing a user needs.
        print("interrupted", file=sys.stderr)
        return INTERRUPTED


def needs(module: str, what: str) -> None:
    """Stop with the extra to install when ``module`` is not installed."""
    if importlib.util.find_spec(module) is None:
        raise click.ClickException(f"{what} needs {module}: {COLLECT_EXTRA}")


def duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A click callback: ``500ms``, ``30s``, ``15m``, ``1h``, ``1h30m`` or plain seconds."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


#: The options of a duration: ``@click.option("--rotate", **DURATION)``.
DURATION: Final[dict[str, Any]] = {"callback": duration, "metavar": "DURATION"}


async def connected_accounts(fx: AsyncFxSocket) -> list[str]:
    """Every connected account of the key; raises ``UsageError`` when there is none."""
    accounts = await fx.accounts.list()
    connected = [a.id for a in accounts if a.status == "connected"]
    if not connected:
        listed = ", ".join(f"{a.id} ({a.status})" for a in accounts) or "none"
        raise UsageError(f"no connected account on this key (accounts: {listed})")
    return connected


async def single_account(fx: AsyncFxSocket, account: str | None) -> str:
    """``account``, or the key's only connected account; raises ``UsageError`` otherwise."""
    if account:
        return account
    connected = await connected_accounts(fx)
    if len(connected) > 1:
        raise UsageError(
            f"this key has {len(connected)} connected accounts: pass --account ID "
            f"(one of {', '.join(connected)})"
        )
    return connected[0]


def stream_policy(transport: str) -> StreamPolicy:
    """The stream settings of a command run with ``--transport`` (the rest: defaults)."""
    chosen: TransportName = transport  # type: ignore[assignment]  # checked by click's Choice
    return StreamPolicy(transport=chosen)


def stream_transports(fx: AsyncFxSocket) -> list[str]:
    """The WebSocket client of each open socket of ``fx``, once each (``picows``...)."""
    streams = fx.stats()["streams"].values()
    return list(dict.fromkeys(s.transport for s in streams if s.transport))
