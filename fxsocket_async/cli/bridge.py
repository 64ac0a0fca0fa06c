"""``fxsocket-async bridge``: hold the upstream session and publish it to NATS JetStream.

Runs until Ctrl-C or SIGTERM, then drains (answers no new requests, waits for
pending publishes, saves what it needs to recover) and exits 0. A run that
cannot start (no NATS, a refused key) prints one line and exits 1.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass

import anyio
import anyio.abc

from .._client import AsyncFxSocket
from .._routing import DialectSetting
from ._common import connected_accounts, run, stream_policy, stream_transports

__all__ = ["BridgeOptions", "bridge_command"]


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    nats: tuple[str, ...]
    accounts: tuple[str, ...]
    symbols: tuple[str, ...]
    prefix: str
    metrics_port: int | None
    dialect: str
    max_batch: int
    quiet: bool
    transport: str = "auto"


def bridge_command(options: BridgeOptions) -> int:
    """Run the command; returns the exit status."""
    from ..bridge import Bridge  # raises ConfigurationError without nats-py

    symbols = tuple(s for item in options.symbols for s in item.split(",") if s)

    async def main() -> int:
        # The signal handler goes in first: a SIGTERM while the bridge starts (its status
        # is already published then) must drain it too, not kill the process.
        failure: Exception | None = None
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tasks:
                await tasks.start(_stop_on_signal, scope)
                try:
                    await bridging()
                except Exception as exc:  # raised below, as itself: not in a task group's
                    failure = exc
                tasks.cancel_scope.cancel()
        if failure is not None:
            raise failure
        if not options.quiet:
            print("bridge stopped", file=sys.stderr, flush=True)
        return 0

    async def bridging() -> None:
        dialect: DialectSetting = options.dialect  # type: ignore[assignment]
        async with AsyncFxSocket(dialect=dialect, stream=stream_policy(options.transport)) as fx:
            accounts = list(options.accounts) or await connected_accounts(fx)
            bridge = Bridge(
                fx, nats=list(options.nats), accounts=accounts, symbols=symbols,
                prefix=options.prefix, metrics_port=options.metrics_port,
                max_batch=options.max_batch,
            )  # fmt: skip
            async with bridge:
                await bridge.ready()
                if not options.quiet:
                    metrics = (
                        f", metrics on :{bridge.metrics_port}/metrics"
                        if bridge.metrics_port
                        else ""
                    )
                    stream = ", ".join(stream_transports(fx)) or "not open"
                    print(
                        f"bridging {', '.join(accounts)} to {', '.join(options.nats)} "
                        f"(prefix {options.prefix}, {len(symbols)} symbols{metrics}, "
                        f"stream on {stream}); until Ctrl-C or SIGTERM",
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
                await bridge.wait()  # raises what ended it

    return run(main)


async def _stop_on_signal(
    scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
) -> None:
    # A handler, not KeyboardInterrupt: the bridge drains in its block's exit.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for _ in signals:
            scope.cancel()
            return
