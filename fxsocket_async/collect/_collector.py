"""``Collector``: every tick of some symbols into a sink, with the holes recorded as data.

Built on the public client only: ``fx.quotes(..., mode="all")`` and
``batches()`` for the ticks (one wake-up per batch, nothing per tick on the
event loop but the sink's one encode call), ``fx.connection().watch()`` for
the reconnects and their times, and ``ConsumerOverflowError`` for a consumer
that fell behind. What is recorded:

- ``reconnect``: the stream was down, from when it left ``live`` to when it
  was ``live`` again (the states' own times), for every symbol it carries;
- ``silent``: the stream was open but ``degraded`` (no quote while the
  market was open) and came back without reconnecting;
- ``overflow``: the collector let its buffer fill, and the stream ended its
  consumer: from the last batch read to the new subscription, with how many
  ticks were dropped.

After each of these the sink is told (``resumed``), so a server that repeats
the last quote on a new subscription does not make a duplicate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import anyio
from anyio.abc import TaskGroup

from .._exceptions import ConsumerOverflowError
from ._sink import Sink
from ._timefmt import datetime_ns

if TYPE_CHECKING:
    from .._client import AsyncFxSocket
    from .._stream.state import ConnectionStatus
    from .._stream.subscriptions import QuoteSubscription

__all__ = ["DEFAULT_BUFFER", "Collector", "CollectorStats"]

#: The consumer's buffer (ticks): ~100 ms of a firehose, hours of a real feed's hiccups.
DEFAULT_BUFFER: Final = 1 << 16


@dataclass(frozen=True, slots=True)
class CollectorStats:
    """The collector's own counters (the sink has the per-symbol ones)."""

    #: Ticks read from the stream and handed to the sink.
    delivered: int
    #: Reconnections completed (the stream was lost and came back).
    reconnects: int
    #: Consumers ended for falling behind, and the ticks they lost.
    overflows: int
    dropped: int
    #: Ticks waiting in the stream's buffers now.
    waiting: int
    #: The connection's state name (``live``, ``reconnecting``...).
    state: str


class Collector:
    """``await Collector(fx, sink, [(account, symbols)]).run(duration=..., count=...)``."""

    def __init__(
        self,
        fx: AsyncFxSocket,
        sink: Sink,
        targets: Sequence[tuple[str, Sequence[str]]],
        *,
        buffer: int = DEFAULT_BUFFER,
    ) -> None:
        if not targets or not all(symbols for _, symbols in targets):
            raise ValueError("a collector needs at least one account with at least one symbol")
        self._fx = fx
        self._sink = sink
        self._targets = [(account, list(symbols)) for account, symbols in targets]
        self._buffer = buffer
        self._subscriptions: dict[str, QuoteSubscription] = {}
        self._last_read: dict[str, int] = {}
        self._limit: int | None = None
        self._done = anyio.Event()
        self._states: dict[int, str] = {}
        self._down: dict[int, tuple[int, str, str]] = {}
        #: The sockets watched (by id of their ConnectionStatus), and the accounts each carries.
        self._carried: dict[int, list[str]] = {}
        self._tasks: TaskGroup | None = None
        self.delivered = 0
        self.reconnects = 0
        self.overflows = 0
        self.dropped = 0

    def stats(self) -> CollectorStats:
        waiting = sum(s.stats().depth for s in self._subscriptions.values())
        states = set(self._states.values()) or {"idle"}
        state = "live" if states == {"live"} else ",".join(sorted(states - {"live"}))
        return CollectorStats(
            delivered=self.delivered,
            reconnects=self.reconnects,
            overflows=self.overflows,
            dropped=self.dropped,
            waiting=waiting,
            state=state,
        )

    async def run(self, *, duration: float | None = None, count: int | None = None) -> None:
        """Collect until ``duration`` seconds have passed, ``count`` ticks were collected,
        or the caller cancels; then record any outage still open as a gap.

        Raises ``SubscriptionRefusedError`` for a symbol the server refuses, the
        stream's fatal error (``AuthenticationError``...), and ``SinkError``.
        """
        self._limit = count
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                for account, symbols in self._targets:
                    tasks.start_soon(self._consume, account, symbols)
                with anyio.move_on_after(duration):
                    await self._done.wait()
                tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._close_outages()

    def _follow(self, account: str) -> None:
        """Watch the socket that carries ``account`` (known once its subscription is in)."""
        status = self._fx.connection(account)
        accounts = self._carried.get(id(status))
        if accounts is None:
            self._carried[id(status)] = [account]
            assert self._tasks is not None
            self._tasks.start_soon(self._watch, status, self._carried[id(status)])
        elif account not in accounts:
            accounts.append(account)

    # ----------------------------------------------------------------- ticks

    async def _consume(self, account: str, symbols: list[str]) -> None:
        overflow: tuple[int, int] | None = None
        while not self._done.is_set():
            quotes = self._fx.quotes(*symbols, account=account, mode="all", buffer=self._buffer)
            try:
                async with quotes:
                    self._subscriptions[account] = quotes
                    self._follow(account)
                    await self._sink.listening(symbols, account=account)
                    if overflow is not None:
                        start, lost = overflow
                        overflow = None
                        await self._sink.resumed(account)
                        detail = f"{lost} ticks dropped: the collector fell behind its buffer"
                        await self._sink.gap(
                            start,
                            time.time_ns(),
                            "overflow",
                            symbols=symbols,
                            account=account,
                            detail=detail,
                        )
                    await self._read(account, quotes)
                    return
            except ConsumerOverflowError:
                lost = quotes.stats().dropped + quotes.stats().depth
                self.overflows += 1
                self.dropped += lost
                overflow = (self._last_read.get(account, time.time_ns()), lost)
            finally:
                self._subscriptions.pop(account, None)

    async def _read(self, account: str, quotes: QuoteSubscription) -> None:
        write = self._sink.write
        async for batch in quotes.batches():
            limit = self._limit
            if limit is not None and self.delivered + len(batch) >= limit:
                batch = batch[: limit - self.delivered]
                await write(batch, account=account)
                self.delivered += len(batch)
                self._done.set()
                return
            await write(batch, account=account)
            self.delivered += len(batch)
            self._last_read[account] = time.time_ns()

    # ----------------------------------------------------------- connection

    async def _watch(self, status: ConnectionStatus, accounts: list[str]) -> None:
        key = id(status)
        seen_live = False
        async with status.watch() as states:
            async for state in states:
                name = state.state
                self._states[key] = name
                if name == "live":
                    if key in self._down:
                        await self._recovered(key, accounts, datetime_ns(state.since))
                    seen_live = True
                elif name in ("reconnecting", "degraded") and seen_live:
                    start, reason, detail = self._down.get(key, (0, "", ""))
                    if not start:
                        start = datetime_ns(state.since)
                    if name == "reconnecting":
                        reason, detail = "reconnect", state.reason or detail
                    elif not reason:
                        reason, detail = "silent", state.reason
                    self._down[key] = (start, reason, detail)
                elif name in ("closed", "failed"):
                    return

    async def _recovered(self, key: int, accounts: list[str], end: int) -> None:
        start, reason, detail = self._down.pop(key)
        if reason == "reconnect":
            self.reconnects += 1
        for account, symbols in self._targets:
            if account in accounts:
                await self._sink.gap(
                    start, end, reason, symbols=symbols, account=account, detail=detail
                )
                await self._sink.resumed(account)

    async def _close_outages(self) -> None:
        """An outage still open when collection ends is a gap up to now."""
        now = time.time_ns()
        for key, accounts in self._carried.items():
            if key in self._down:
                start, reason, detail = self._down.pop(key)
                for account, symbols in self._targets:
                    if account in accounts:
                        await self._sink.gap(
                            start, now, reason, symbols=symbols, account=account, detail=detail
                        )
