"""``RemoteFxSocket.quotes(...)``: quotes from the bridge, into the library's own buffers.

Live batches arrive on plain core-NATS subscriptions (one per symbol): no
JetStream consumer, no acks, the fastest path. Each batch goes into the same
``LatestQuotes`` / ``QuoteQueue`` a local ``fx.quotes(...)`` uses, so the
modes, the overflow policy and the counters are the local ones.

A late joiner first gets the newest quote of each symbol from the
``<prefix>_quotes_latest`` KV bucket (unless a live batch of that symbol
came first), then live batches. Each batch carries ``Fx-Seq`` (per symbol
and bridge run, ``Fx-Epoch``): a jump counts the batches missed (NATS drops
messages for a subscriber that reads too slowly) in ``missed_batches``.
"""

# No "from __future__ import annotations": RemoteQuoteStats is a Struct.
import contextlib
import logging
import time
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import nats.errors

from .._core.models import Quote
from .._exceptions import FxSocketError, ProtocolError, SessionClosedError
from .._stream.fanout import QuoteBuffer
from .._stream.stats import SubscriptionStats
from .._stream.subscriptions import QuoteIteration
from ._errors import BridgeUnavailableError
from ._wire import EPOCH_HEADER, SEQ_HEADER, Wire, decode_quote, decode_quotes

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

__all__ = ["RemoteQuoteStats", "RemoteQuoteSubscription"]

log = logging.getLogger("fxsocket_async.bridge")

#: What NATS may hold for one slow subscriber before it drops (then counted by Fx-Seq).
PENDING_MSGS: Final = 4096
PENDING_BYTES: Final = 32 * 1024 * 1024


class RemoteQuoteStats(SubscriptionStats, frozen=True, kw_only=True):
    """A remote quote consumer's counters: the local ones, plus what the bridge hop adds."""

    #: Batches the bridge published that never reached this consumer (``Fx-Seq`` jumps).
    missed_batches: int = 0
    #: Live batches received, and quotes taken from the newest-quote bucket at the start.
    batches: int = 0
    from_latest: int = 0
    #: Messages that did not decode (skipped, logged).
    decode_errors: int = 0


class _Track:
    """The last ``Fx-Seq`` of one symbol within one bridge run."""

    __slots__ = ("epoch", "seq")

    def __init__(self) -> None:
        self.epoch: str | None = None
        self.seq = 0


class RemoteQuoteSubscription(QuoteIteration):
    """Quotes of some symbols of one account through the bridge (see the module docstring).

    ``async with fx.quotes("EURUSD", account=id) as quotes: async for q in quotes``,
    ``quotes.batches()``, ``quotes.stats()``: as the local ``QuoteSubscription``.
    """

    def __init__(
        self,
        nc: "Client",
        wire: Wire,
        account_id: str,
        symbols: list[str],
        buffer: QuoteBuffer,
        *,
        latest: bool = True,
    ) -> None:
        self._nc = nc
        self._wire = wire
        self.account_id = account_id
        self.symbols = symbols
        self._buffer = buffer
        self._latest = latest
        self._subs: list[Subscription] = []
        self._tracks: dict[str, _Track] = {symbol: _Track() for symbol in symbols}
        self._first: dict[str, Quote] = {}  # a latest quote pushed, until its first live batch
        self._live: set[str] = set()
        self._state = "new"
        self._last_at: float | None = None
        self.missed_batches = 0
        self.received = 0
        self.from_latest = 0
        self.decode_errors = 0

    def __repr__(self) -> str:
        return f"RemoteQuoteSubscription(account_id={self.account_id!r}, symbols={self.symbols!r})"

    async def __aenter__(self) -> Self:
        """Subscribe, then read the newest quote of each symbol.

        Raises ``BridgeUnavailableError`` when NATS refuses the subscription or
        is gone, ``SessionClosedError`` when entered twice.
        """
        if self._state != "new":
            raise SessionClosedError("a subscription is entered once; make a new one")
        self._state = "open"
        failure: FxSocketError | None = None
        try:
            for symbol in self.symbols:
                subject = self._wire.quotes_subject(self.account_id, symbol)
                self._subs.append(
                    await self._nc.subscribe(
                        subject,
                        cb=self._on_batch,
                        pending_msgs_limit=PENDING_MSGS,
                        pending_bytes_limit=PENDING_BYTES,
                    )
                )
            # The server holds the subscriptions before the bucket is read, so no
            # quote falls between the newest one read and the first live batch.
            await self._nc.flush(timeout=10)
        except (nats.errors.Error, TimeoutError) as exc:
            failure = BridgeUnavailableError(f"cannot subscribe to quotes: {type(exc).__name__}")
        if failure is not None:
            await self.aclose()
            raise failure
        if self._latest:
            await self._read_latest()
        return self

    async def _read_latest(self) -> None:
        try:
            kv = await self._nc.jetstream().key_value(self._wire.latest_bucket)
        except (nats.errors.Error, TimeoutError):
            return  # no bridge has published yet: live batches only
        for symbol in self.symbols:
            try:
                entry = await kv.get(self._wire.latest_key(self.account_id, symbol))
            except (nats.errors.Error, TimeoutError):
                continue  # no quote of this symbol yet (or no JetStream): live ones follow
            if entry.value is None or symbol in self._live or self._state != "open":
                continue
            try:
                quote = decode_quote(entry.value)
            except ProtocolError:
                self.decode_errors += 1
                continue
            self._first[symbol] = quote
            self.from_latest += 1
            self._buffer.push_many([quote])

    async def _on_batch(self, msg: "Msg") -> None:
        # The hot path: one call per batch of up to max_batch quotes of one symbol.
        try:
            quotes = decode_quotes(msg.data)
        except ProtocolError:
            self.decode_errors += 1
            log.warning("an undecodable quote batch on %s was skipped", msg.subject)
            return
        if not quotes:
            return
        symbol = quotes[0].symbol
        headers = msg.headers
        if headers is not None:
            self._count(symbol, headers)
        self.received += 1
        self._last_at = time.monotonic()
        if symbol not in self._live:
            self._live.add(symbol)
            first = self._first.pop(symbol, None)
            if first is not None:
                # The newest-quote bucket may hold the very quote of this batch.
                quotes = [quote for quote in quotes if quote != first]
                if not quotes:
                    return
        self._buffer.push_many(quotes)

    def _count(self, symbol: str, headers: dict[str, str]) -> None:
        seq_text = headers.get(SEQ_HEADER)
        if seq_text is None:
            return
        try:
            seq = int(seq_text)
        except ValueError:
            return
        track = self._tracks.get(symbol)
        if track is None:
            return
        epoch = headers.get(EPOCH_HEADER)
        if epoch != track.epoch:
            track.epoch, track.seq = epoch, seq  # a new bridge run numbers from its start
            return
        if seq > track.seq + 1:
            self.missed_batches += seq - track.seq - 1
        track.seq = max(track.seq, seq)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Unsubscribe and end iteration (once what is buffered has been read)."""
        if self._state == "closed":
            return
        self._state = "closed"
        self._buffer.close()
        subs, self._subs = self._subs, []
        for sub in subs:
            with contextlib.suppress(nats.errors.Error):  # gone with its connection
                await sub.unsubscribe()

    def stats(self) -> RemoteQuoteStats:
        """Delivered, conflated, dropped, depth, age of the newest batch, and missed batches."""
        local = self._buffer.stats()
        age = None if self._last_at is None else time.monotonic() - self._last_at
        return RemoteQuoteStats(
            delivered=local.delivered,
            conflated=local.conflated,
            dropped=local.dropped,
            depth=local.depth,
            newest_quote_age=age,
            missed_batches=self.missed_batches,
            batches=self.received,
            from_latest=self.from_latest,
            decode_errors=self.decode_errors,
        )
