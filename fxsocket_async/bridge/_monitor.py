"""The bridge's monitor: each account's upstream state to ``status.<account>`` and the
metrics, and the lag of every durable consumer of the events stream."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext

from .._client import AsyncFxSocket
from ._account import AccountPump
from ._metrics import BridgeMetrics
from ._wire import BridgeStatus, Wire

__all__ = ["run_monitor"]


async def run_monitor(
    fx: AsyncFxSocket,
    js: JetStreamContext,
    state_kv: Any,
    wire: Wire,
    pumps: Mapping[str, AccountPump],
    metrics: BridgeMetrics,
    *,
    epoch: str,
    interval: float,
) -> None:
    """Each ``interval``: metrics, and ``status.<account>`` if it changed (until cancelled)."""
    written: dict[str, tuple[Any, ...]] = {}
    while True:
        streams = fx.stats()["streams"]
        for account, pump in pumps.items():
            state = fx.connection(account).state
            stats = streams.get(account) or streams.get(None)
            reconnects = stats.reconnects if stats is not None else 0
            metrics.upstream_state.labels(account).state(state.state)
            metrics.reconnects.labels(account).set(reconnects)
            key = (state.state, state.reason, reconnects, pump.gaps)
            if written.get(account) != key:
                status = BridgeStatus(
                    account=account, state=state.state, since=state.since, epoch=epoch,
                    reason=state.reason, reconnects=reconnects, gaps=pump.gaps,
                    updated_at=datetime.now(UTC),
                )  # fmt: skip
                with contextlib.suppress(NatsError):
                    await state_kv.put(wire.status_key(account), msgspec.json.encode(status))
                    written[account] = key
        await _poll_consumers(js, wire, metrics)
        await asyncio.sleep(interval)


async def _poll_consumers(js: JetStreamContext, wire: Wire, metrics: BridgeMetrics) -> None:
    try:
        consumers = await js.consumers_info(wire.events_stream)
    except (TimeoutError, NatsError):
        return
    for info in consumers:
        name = info.name or "?"
        metrics.consumer_pending.labels(name).set(info.num_pending or 0)
        metrics.consumer_ack_pending.labels(name).set(info.num_ack_pending or 0)
