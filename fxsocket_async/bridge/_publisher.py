"""Publishing to JetStream: events (acknowledged, retried, de-duplicated), quote batches
(stored by the quotes stream, acknowledged by sample) and the newest quote per symbol
(conflated KV).

Quote batches go out as plain NATS publishes that the ``<PREFIX>_QUOTES`` stream
captures: an acknowledged publish per message costs the bridge a reply subject, a
future and a decoded PubAck each, and the server an ack, for a channel whose losses
consumers already count by ``Fx-Seq``. One batch per subject and ``ack_interval``
goes out acknowledged instead, so a stream that refuses quotes (removed, out of
storage) still shows in ``publish_errors``. Backpressure stays: a full outbound
buffer makes ``publish`` wait for the socket.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext

from .._backoff import Backoff
from .._core.models import Quote
from ._errors import BridgeUnavailableError
from ._metrics import BridgeMetrics
from ._wire import (
    EPOCH_HEADER,
    MSG_ID_HEADER,
    SEQ_HEADER,
    BridgeEvent,
    Wire,
    encode_event,
    encode_quote,
    encode_quotes,
    event_id,
)

__all__ = ["Publisher"]

log = logging.getLogger("fxsocket_async.bridge")

# An event publish is retried (same message id, so never stored twice) until it is
# acknowledged: an event is never dropped while the bridge runs.
_RETRY: Final = Backoff(initial=0.05, maximum=2.0)
#: nats-py's default window of unacknowledged async publishes (publish_async_max_pending).
_MAX_PENDING = 4000


class Publisher:
    """Everything the bridge sends to JetStream, for every account."""

    def __init__(
        self,
        nc: NatsClient,
        js: JetStreamContext,
        wire: Wire,
        metrics: BridgeMetrics,
        *,
        epoch: str,
        max_batch: int,
        latest_interval: float,
        publish_timeout: float = 5.0,
        ack_interval: float = 1.0,
    ) -> None:
        self._nc = nc
        self._js = js
        self._wire = wire
        self._metrics = metrics
        self._epoch = epoch
        self._max_batch = max_batch
        self._latest_interval = latest_interval
        self._publish_timeout = publish_timeout
        self._ack_interval = ack_interval
        self._seq: dict[tuple[str, str], int] = {}
        self._acked_at: dict[tuple[str, str], float] = {}
        self._quote_counters: dict[str, tuple[Any, Any]] = {}
        self._latest: dict[tuple[str, str], Quote] = {}
        self._latest_dirty: set[tuple[str, str]] = set()
        self._latest_wake = asyncio.Event()
        self.events_published = 0
        self.quotes_published = 0

    # ------------------------------------------------------------ events

    async def publish_event(
        self, account: str, event: BridgeEvent, *, at: datetime | None = None
    ) -> bool:
        """Publish one event until JetStream acknowledges it; ``False`` for a duplicate.

        Raises ``asyncio.CancelledError`` only (the bridge stopping): a failed
        publish is counted and retried, as the event must not be lost.
        """
        subject = self._wire.events_subject(account)
        body = encode_event(event, account=account)
        headers = {MSG_ID_HEADER: event_id(account, event, at=at)}
        delays = _RETRY.delays(random.Random())
        for _ in range(1_000_000):  # bounded in count; each try is bounded in time
            try:
                ack = await self._js.publish(
                    subject, body, timeout=self._publish_timeout,
                    stream=self._wire.events_stream, headers=headers,
                )  # fmt: skip
            except (TimeoutError, NatsError) as exc:
                self._metrics.publish_errors.labels("events").inc()
                delay = next(delays)
                log.warning("publishing an event of %s failed (%r); retrying", account, exc)
                await asyncio.sleep(delay)
                continue
            if ack.duplicate:
                self._metrics.events_duplicate.labels(account).inc()
                return False
            self._metrics.events_published.labels(account).inc()
            self.events_published += 1
            return True
        raise BridgeUnavailableError("JetStream refused an event a million times")

    # ------------------------------------------------------------ quotes

    async def publish_quotes(self, account: str, quotes: Sequence[Quote]) -> None:
        """Publish one upstream batch: per symbol, in order, ``max_batch`` per message.

        Never waits to fill a batch. A batch NATS cannot take (it is down and
        its reconnect buffer is full) is dropped and counted; consumers see the
        hole in ``Fx-Seq``.
        """
        if not quotes:
            return
        symbols = {quote.symbol for quote in quotes}
        if len(symbols) == 1:  # the usual upstream batch: no regrouping
            await self._publish_group(account, quotes[0].symbol, quotes)
            return
        by_symbol: dict[str, list[Quote]] = {symbol: [] for symbol in symbols}
        for quote in quotes:
            by_symbol[quote.symbol].append(quote)
        for symbol, group in by_symbol.items():
            await self._publish_group(account, symbol, group)

    async def _publish_group(self, account: str, symbol: str, group: Sequence[Quote]) -> None:
        key = (account, symbol)
        self._latest[key] = group[-1]
        if key not in self._latest_dirty:
            self._latest_dirty.add(key)
            self._latest_wake.set()
        subject = self._wire.quotes_subject(account, symbol)
        size = self._max_batch
        for start in range(0, len(group), size):
            chunk = group if len(group) <= size else group[start : start + size]
            seq = self._seq.get(key, 0) + 1
            self._seq[key] = seq
            headers = {SEQ_HEADER: str(seq), EPOCH_HEADER: self._epoch}
            body = encode_quotes(chunk)
            now = time.monotonic()
            if now - self._acked_at.get(key, -1e9) >= self._ack_interval:
                self._acked_at[key] = now
                await self._publish_async(subject, body, headers, "quotes", account, len(chunk))
                continue
            try:
                await self._nc.publish(subject, body, headers=headers)
            except (TimeoutError, NatsError):
                self._failed("quotes", account, len(chunk))
                continue
            self._count_quotes(account, len(chunk))

    def _count_quotes(self, account: str, count: int) -> None:
        # Per message: the account's two counters are looked up once, not per call
        # (``labels()`` takes a lock and builds a key each time).
        counters = self._quote_counters.get(account)
        if counters is None:
            metrics = self._metrics
            counters = (
                metrics.quotes_published.labels(account),
                metrics.quote_messages.labels(account),
            )
            self._quote_counters[account] = counters
        self.quotes_published += count
        counters[0].inc(count)
        counters[1].inc()

    async def _publish_async(
        self, subject: str, body: bytes, headers: dict[str, str], kind: str,
        account: str = "", count: int = 0,
    ) -> None:  # fmt: skip
        # A stall timeout makes nats-py wrap each publish in asyncio.wait_for (a task and a
        # loop turn per message): only use it when the pending window is full and the
        # wait is real.
        stall = self._publish_timeout if self._js.publish_async_pending() >= _MAX_PENDING else None
        try:
            future = await self._js.publish_async(subject, body, wait_stall=stall, headers=headers)
        except (TimeoutError, NatsError):
            self._failed(kind, account, count)
            return
        if count:
            self._count_quotes(account, count)
        # nats-py waits for an ack forever: a subject that live subscribers hear but no
        # stream captures gets no reply at all (not even "no responders").
        expiry = asyncio.get_running_loop().call_later(self._publish_timeout, future.cancel)
        future.add_done_callback(lambda f: self._acked(f, kind, expiry))

    def _failed(self, kind: str, account: str, quotes: int) -> None:
        """A publish NATS did not take: counted, and its ``quotes`` (if any) dropped."""
        self._metrics.publish_errors.labels(kind).inc()
        if quotes:
            self._metrics.quotes_dropped.labels(account).inc(quotes)

    def _acked(self, future: asyncio.Future[Any], kind: str, expiry: asyncio.TimerHandle) -> None:
        expiry.cancel()
        if future.cancelled() or future.exception() is not None:
            self._metrics.publish_errors.labels(kind).inc()

    async def run_latest(self) -> None:
        """Put the newest quote per symbol in the KV bucket, at most every
        ``latest_interval`` per symbol, always the newest (runs until cancelled)."""
        bucket = self._wire.latest_bucket
        last_put: dict[tuple[str, str], float] = {}
        while True:
            await self._latest_wake.wait()
            self._latest_wake.clear()
            now = time.monotonic()
            due = [
                k for k in self._latest_dirty if now - last_put.get(k, 0.0) >= self._latest_interval
            ]
            for key in due:
                self._latest_dirty.discard(key)
                last_put[key] = now
                account, symbol = key
                subject = f"$KV.{bucket}.{Wire.latest_key(account, symbol)}"
                await self._publish_async(subject, encode_quote(self._latest[key]), {}, "latest")
            if self._latest_dirty:
                # Some were put too recently: come back when the first is due.
                wait = min(self._latest_interval - (now - last_put[k]) for k in self._latest_dirty)
                await asyncio.sleep(max(wait, 0.001))
                self._latest_wake.set()

    async def flush_latest(self) -> None:
        """Put every quote still waiting for its interval (the bridge is stopping)."""
        bucket = self._wire.latest_bucket
        for key in list(self._latest_dirty):
            self._latest_dirty.discard(key)
            subject = f"$KV.{bucket}.{Wire.latest_key(*key)}"
            await self._publish_async(subject, encode_quote(self._latest[key]), {}, "latest")

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout``) for every async publish to be acknowledged."""
        try:
            await asyncio.wait_for(self._js.publish_async_completed(), timeout)
        except TimeoutError:
            log.warning("%d publishes were not acknowledged at exit", self.pending())

    def pending(self) -> int:
        return self._js.publish_async_pending()
