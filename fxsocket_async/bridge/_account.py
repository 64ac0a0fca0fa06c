"""One account's events through the bridge: recover what happened while it was down,
then publish every live event, and remember what was published (``state.<account>``).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from typing import Final

import anyio
from nats.errors import Error as NatsError
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from .._backoff import Backoff
from .._client import AsyncFxSocket
from .._core.events import StreamGap
from .._core.recovery import OrderBook, reconcile
from .._exceptions import FxSocketError, ProtocolError
from .._rest.snapshots import SnapshotReader
from ._metrics import BridgeMetrics
from ._publisher import Publisher
from ._recovery_state import BookState, book_from_state, decode_state, encode_state, state_from_book
from ._wire import Wire

__all__ = ["AccountPump"]

log = logging.getLogger("fxsocket_async.bridge")

#: The reason of the gap the bridge publishes for its own downtime.
BRIDGE_RESTART: Final = "bridge_restart"
_RESUBSCRIBE: Final = Backoff(initial=0.1, maximum=5.0)


class AccountPump:
    """Publishes one account's events; ``run()`` until cancelled."""

    def __init__(
        self,
        fx: AsyncFxSocket,
        account: str,
        publisher: Publisher,
        state_kv: KeyValue,
        metrics: BridgeMetrics,
        *,
        epoch: str,
        save_interval: float = 0.2,
    ) -> None:
        self.account = account
        self._fx = fx
        self._publisher = publisher
        self._kv = state_kv
        self._metrics = metrics
        self._epoch = epoch
        self._save_interval = save_interval
        self._book: OrderBook | None = None
        self._dirty = asyncio.Event()
        #: Set once the account is recovered and its live events flow.
        self.ready = asyncio.Event()
        self.gaps = 0

    async def run(self) -> None:
        """Recover, then publish live events (resubscribing on failure) until cancelled."""
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._run_saver, name=f"bridge saver {self.account}")
            delays = _RESUBSCRIBE.delays(random.Random())
            for _ in range(1_000_000):  # bounded; each round lasts while the stream does
                try:
                    await self._round()
                except FxSocketError as exc:
                    delay = next(delays)
                    log.warning(
                        "events of %s ended (%s); again in %.2f s", self.account, exc, delay
                    )
                    await asyncio.sleep(delay)
            tasks.cancel_scope.cancel()

    async def _round(self) -> None:
        async with self._fx.events(account=self.account, include_unknown=False) as events:
            # Subscribed first: what happens while the snapshot is read is held by the
            # subscription and passes the book below, so nothing falls between.
            await self._recover()
            self.ready.set()
            async for event in events:
                if isinstance(event, StreamGap):
                    self.gaps += 1
                    self._metrics.gaps.labels(self.account).inc()
                    await self._publisher.publish_event(self.account, event)
                    continue
                assert self._book is not None
                if not self._book.apply(event):
                    continue  # already published (recovered at start, or a repeat)
                if getattr(event, "recovered", False):
                    self._metrics.recovered.labels(self.account).inc()
                await self._publisher.publish_event(self.account, event, at=datetime.now(UTC))
                self._dirty.set()

    async def _recover(self) -> None:
        reader = SnapshotReader(self._fx.accounts, self._fx.account)
        if self._book is None:
            state = await self._load()
            if state is None:
                # First run for this account: consumers start from now; nothing to tell.
                self._book = OrderBook(self.account)
                self._book.seed(await reader.seed(self.account))
                await self.save()
                return
            self._book = book_from_state(state)
            since = state.saved_at
        else:
            since = datetime.now(UTC)  # the subscription ended; its gap is ours to tell
        book = self._book
        snapshot = await reader.recover(self.account, book.watermark)
        recovered = reconcile(book, snapshot)
        now = datetime.now(UTC)
        if recovered:
            gap = StreamGap(
                accounts=(self.account,), started_at=since, ended_at=now,
                duration=max((now - since).total_seconds(), 0.0), reason=BRIDGE_RESTART,
            )  # fmt: skip
            self.gaps += 1
            self._metrics.gaps.labels(self.account).inc()
            await self._publisher.publish_event(self.account, gap)
        for event in recovered:
            book.apply(event)
            # ``since`` keys account figures and statuses: a second restart from the
            # same saved state re-derives the same ids, which JetStream de-duplicates.
            await self._publisher.publish_event(self.account, event, at=since)
            self._metrics.recovered.labels(self.account).inc()
        book.advance(snapshot.history)
        await self.save()

    async def _load(self) -> BookState | None:
        try:
            entry = await self._kv.get(Wire.state_key(self.account))
        except KeyNotFoundError:
            return None
        if not entry.value:
            return None
        try:
            return decode_state(entry.value)
        except ProtocolError:
            log.warning("the saved state of %s does not decode; starting afresh", self.account)
            return None

    async def save(self) -> None:
        """Write the published book to ``state.<account>`` (errors logged and counted)."""
        if self._book is None:
            return
        self._dirty.clear()
        body = encode_state(state_from_book(self._book, epoch=self._epoch))
        try:
            await self._kv.put(Wire.state_key(self.account), body)
        except NatsError as exc:
            self._metrics.publish_errors.labels("state").inc()
            log.warning("saving the state of %s failed: %r", self.account, exc)
            self._dirty.set()

    async def _run_saver(self) -> None:
        # At most one write per interval: the state is a mark, not a log (a crash
        # between publish and save re-derives ids JetStream already holds).
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self._save_interval)
            await self.save()
