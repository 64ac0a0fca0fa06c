"""The replay: an archive's ticks served as the simulator's market, paced by their broker times.

Time. The simulator's broker clock is the replay's: the broker time of the
last tick served (before the first, the archive's first tick). Quote times,
candles, fills, order and account times all read it, so a replayed day keeps
its recorded times; it stands still between ticks and after the end.

Pacing. Tick ``i`` of pass ``k`` is due ``(t_i + k * period - t_0) / speed``
real seconds after the replay started, time spent paused left out; ticks
already due are served at once, in order. ``period`` is the archive's span
plus its mean tick interval, so a loop's times keep growing and its seam
looks like any other tick interval. At ``speed="max"`` nothing waits on the
clock: after every batch the replay lets the sockets' queues drain (up to a
second), so no reader falls behind by the replay's doing.

Each tick is served alone (the engine, the reference stream and the
terminal sockets see it as one price move), exactly as ``set_price`` would.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

import anyio

from .._core.models import Quote
from ._market import Market
from ._replay_archive import Archive, broker_datetime, load_archive, replay_specs
from ._replay_spec import ReplaySpec
from ._stream import StreamHub
from ._symbols import SymbolSpec
from ._terminal_stream import TerminalHub

__all__ = ["Replay", "Streams"]

log = logging.getLogger("fxsocket_async.simulator")

#: Ticks read from the archive at a time (its columns are turned into Python objects per chunk).
_CHUNK = 1024
#: Ticks served before the event loop gets a turn (and, at max speed, the queues drain).
_BATCH = 256
#: At max speed: how long the replay waits for the sockets' queues to drain, and how often
#: it looks (a stalled reader slows it, never stops it).
_DRAIN_WAIT = 1.0
_DRAIN_POLL = 0.001
_SECOND_NS = 1_000_000_000


class Streams:
    """What the replay needs of the simulator's two stream sides."""

    def __init__(self, hub: StreamHub, terminals: TerminalHub, queue_limit: int) -> None:
        self._hub = hub
        self._terminals = terminals
        #: Ticks served between turns: well below what a terminal socket may queue.
        self.batch = max(1, min(_BATCH, queue_limit // 2))

    def backlog(self) -> int:
        """Frames waiting on the fullest open socket."""
        reference = (c.outgoing.qsize() for c in self._hub.connections if not c.overflowed)
        terminal = (len(s.queue) for s in self._terminals.sockets)
        return max(max(reference, default=0), max(terminal, default=0))

    def covers(self, symbols: Iterable[str]) -> bool:
        """Whether quote subscriptions (any account, either dialect) hold all ``symbols``."""
        held: set[str] = set()
        for _, channel, names in self._hub.subscriptions():
            if channel == "quotes":
                held.update(names)
        for _, channel, names in self._terminals.reference_view():
            if channel == "quotes":
                held.update(names)
        return held.issuperset(symbols)

    async def subscription_changed(self) -> None:
        await self._hub.subscription_changed.wait()


class Replay:
    """A running replay, as ``sim.replay`` (None when the simulator is not replaying).

    ``served`` counts the ticks served (every pass), ``position`` is the
    index in the archive of the next one, ``loops`` the passes completed.
    ``pause()``, ``pause_at(served)`` and ``resume()`` hold and release it
    (a replay paused before the simulator starts waits from the first tick).
    """

    def __init__(
        self,
        spec: ReplaySpec,
        archive: Archive,
        specs: Sequence[SymbolSpec],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.spec = spec
        self.archive = archive
        #: The instruments of the replay's market (see ``replay_specs``).
        self.specs = tuple(specs)
        self._monotonic = monotonic
        self._sleep = sleep
        count, span = archive.count, archive.last_ns - archive.first_ns
        #: How far a loop shifts the recorded times (ns): the span and one mean interval.
        self.period_ns = span + (span // (count - 1) if count > 1 and span > 0 else _SECOND_NS)
        self._now = broker_datetime(archive.first_ns)
        self.served = 0
        self.loops = 0
        self._pause_at: int | None = None
        self._resumed = asyncio.Event()
        self._progress = asyncio.Event()
        self._started = asyncio.Event()
        self._finished = asyncio.Event()

    @classmethod
    def open(cls, spec: ReplaySpec, known: Sequence[SymbolSpec], seed: int) -> Replay:
        """Read the archive of ``spec``; raises ``ReplayError`` as ``load_archive`` does."""
        archive = load_archive(spec.path, symbols=spec.symbols, account=spec.account)
        return cls(spec, archive, replay_specs(archive, known, seed))

    # ------------------------------------------------------------ reading

    @property
    def total(self) -> int:
        """Ticks in one pass of the archive."""
        return self.archive.count

    @property
    def position(self) -> int:
        """The index in the archive of the next tick (``total`` once finished)."""
        return self.served - self.loops * self.total

    @property
    def started(self) -> bool:
        return self._started.is_set()

    @property
    def finished(self) -> bool:
        """Whether the last tick was served (never, with ``loop``)."""
        return self._finished.is_set()

    @property
    def paused(self) -> bool:
        return self._pause_at is not None and self.served >= self._pause_at

    @property
    def opening(self) -> dict[str, tuple[float, float]]:
        """Each symbol's first recorded (bid, ask): its price before its first tick."""
        return {s: (v.first_bid, v.first_ask) for s, v in self.archive.stats.items()}

    def now(self) -> datetime:
        """The replay's broker time: the last served tick's (the first tick's before it)."""
        return self._now

    # ----------------------------------------------------------- steering

    def pause(self) -> None:
        """Hold the replay before its next tick."""
        self._pause_at = self.served

    def pause_at(self, served: int) -> None:
        """Hold the replay once ``served`` ticks are out (at once if they are already)."""
        self._pause_at = served

    def resume(self) -> None:
        """Release a pause (pacing continues as if the pause had not been)."""
        self._pause_at = None
        self._resumed.set()

    async def wait_started(self, timeout: float = 5.0) -> None:
        """Wait until the first tick may go out; raises ``TimeoutError`` after ``timeout``."""
        with anyio.fail_after(timeout):
            await self._started.wait()

    async def wait_finished(self, timeout: float = 5.0) -> None:
        """Wait until the last tick was served; raises ``TimeoutError`` after ``timeout``."""
        with anyio.fail_after(timeout):
            await self._finished.wait()

    async def wait_served(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``served >= count``; raises ``TimeoutError`` after ``timeout``."""
        with anyio.fail_after(timeout):
            while self.served < count:
                await self._progress.wait()

    def _moved(self) -> None:
        # Set, then replaced: each waiter re-checks and waits on the new one.
        self._progress.set()
        self._progress = asyncio.Event()

    # ------------------------------------------------------------ running

    async def run(
        self, market: Market, on_quotes: Callable[[list[Quote]], None], streams: Streams
    ) -> None:
        """Serve the archive (every pass, with ``loop``) into ``market`` and ``on_quotes``."""
        if self.spec.start == "subscribed":
            log.info("replay: waiting for quote subscriptions of %s", ", ".join(self.specs_names))
            while not streams.covers(self.specs_names):
                await streams.subscription_changed()
        self._started.set()
        archive = self.archive
        log.info(
            "replay: %d ticks of %s from %s (%s to %s), speed %s%s",
            archive.count,
            ", ".join(archive.symbols),
            archive.root,
            broker_datetime(archive.first_ns).isoformat(),
            broker_datetime(archive.last_ns).isoformat(),
            self.spec.speed,
            ", looping" if self.spec.loop else "",
        )
        rate = self.spec.rate
        origin = self._monotonic()
        while True:
            shift = self.loops * self.period_ns
            since = archive.first_ns - shift  # due(ns) = (ns - since) / rate
            for chunk in archive.chunks(_CHUNK):
                turn = 0
                for symbol, bid, ask, ns in chunk:
                    if self._pause_at is not None and self.served >= self._pause_at:
                        origin += await self._hold()
                    if rate != math.inf:
                        wait = origin + (ns - since) / _SECOND_NS / rate - self._monotonic()
                        if wait > 0:
                            await self._sleep(wait)
                            turn = 0
                    self._now = t = broker_datetime(ns + shift)
                    on_quotes([market.replay_tick(symbol, bid, ask, t)])
                    self.served += 1
                    turn += 1
                    if turn >= streams.batch:
                        turn = 0
                        self._moved()
                        await self._turn(streams, drain=rate == math.inf)
                self._moved()
            if not self.spec.loop:
                break
            self.loops += 1
        self._finished.set()
        self._moved()
        log.info("replay: finished after %d ticks; the prices stay at the last ones", self.served)

    @property
    def specs_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    async def _hold(self) -> float:
        """Wait out a pause; returns its length (so that pacing leaves it out)."""
        held = self._monotonic()
        self._moved()
        while self._pause_at is not None and self.served >= self._pause_at:
            self._resumed = asyncio.Event()
            await self._resumed.wait()
        return self._monotonic() - held

    async def _turn(self, streams: Streams, *, drain: bool) -> None:
        if drain:
            deadline = self._monotonic() + _DRAIN_WAIT
            while streams.backlog() >= streams.batch and self._monotonic() < deadline:
                await self._sleep(_DRAIN_POLL)
        await self._sleep(0)
