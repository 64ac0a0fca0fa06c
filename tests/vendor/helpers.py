"""Helpers of the vendor suite: link and wait as the vendor SDK's README does, read a stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import fxsocket

from tests.helpers.poll import poll
from tests.helpers.sim import FULL_KEY, PASSWORD, READ_KEY, TRADE_KEY, next_login

__all__ = ["FULL", "READ", "TRADE", "events_until", "link_connected", "wait_connected"]

FULL, TRADE, READ = FULL_KEY, TRADE_KEY, READ_KEY
WAIT = 10.0
T = TypeVar("T")


async def wait_connected(fx: fxsocket.AsyncClient, account_id: str) -> fxsocket.Account:
    """Poll ``accounts.get`` until the account is connected, as the vendor SDK's README does."""

    async def connected() -> fxsocket.Account | None:
        account = await fx.accounts.get(account_id)
        return account if account.status == fxsocket.TradingStatus.CONNECTED else None

    return await poll(
        connected, timeout=WAIT, interval=0.02, what=f"account {account_id} connected"
    )


async def link_connected(
    fx: fxsocket.AsyncClient, platform: str = "mt5", **fields: Any
) -> fxsocket.Account:
    created = await fx.accounts.create(
        server="Sim-Demo", login=next_login(), password=PASSWORD, platform=platform, **fields
    )
    return await wait_connected(fx, created.id)


async def events_until(
    stream: fxsocket.AsyncStream,
    done: Callable[[list[Any]], bool],
    *,
    timeout: float = WAIT,
    limit: int = 10_000,
) -> list[Any]:
    """Iterate the vendor's stream until ``done(events so far)``; every event read."""
    events: list[Any] = []
    with anyio.fail_after(timeout):
        async for event in stream:
            events.append(event)
            if done(events) or len(events) >= limit:
                break
    assert done(events), f"the stream ended or ran {limit} events without it: {events[-5:]!r}"
    return events


def of(kind: type[T], events: list[Any]) -> list[T]:
    return [e for e in events if isinstance(e, kind)]
