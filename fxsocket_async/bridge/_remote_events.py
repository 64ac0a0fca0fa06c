"""``RemoteFxSocket.events(account=..., durable=...)``: a JetStream pull consumer.

The delivery contract of a local ``fx.events()``, across processes and hosts:
lossless and in order. An event is acknowledged once the consumer has taken
it: item N is acked when item N+1 is asked for, or when the iterator is left
cleanly, so a durable consumer resumes after the last event it took. Events
fetched ahead but not taken are handed back (``nak``) on leaving, for the
next run to read at once.

Order holds across crashes too: the consumer lets at most one fetch's worth
be unacknowledged (``max_ack_pending`` = the batch), so nothing newer can
overtake events a dead run held; those come back after ``ack_wait``. The
event a crashed run had taken but not yet acked comes back too (at least
once for that one event; every other one exactly once). Within one run,
a redelivered copy of an event already taken is skipped by its stream
sequence number.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections import deque
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from .._exceptions import (
    ConfigurationError,
    FxSocketError,
    ProtocolError,
    SessionClosedError,
    ValidationError,
)
from ._errors import BridgeUnavailableError
from ._wire import BridgeEvent, Wire, decode_event

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg
    from nats.js.client import JetStreamContext

__all__ = ["DEFAULT_ACK_WAIT", "DEFAULT_EVENT_BATCH", "RemoteEventSubscription"]

log = logging.getLogger("fxsocket_async.bridge")

DEFAULT_EVENT_BATCH: Final = 64
DEFAULT_ACK_WAIT: Final = 30.0
#: How long one fetch waits on the server before asking again (the iteration waits on).
_FETCH_WAIT: Final = 1.0
_NAME_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")


def check_durable(name: object) -> str | None:
    """A durable consumer name JetStream accepts (no ``.``, ``*``, ``>``, spaces, slashes)."""
    if name is None:
        return None
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise ValidationError(
            f"durable must be 1-128 letters, digits, '_' or '-', not {name!r}",
            code="invalid_durable",
        )
    return name


class RemoteEventSubscription:
    """Order, account and status events of one account, from the bridge's events stream.

    Yields what a local ``fx.events()`` yields (``OrderOpened`` ...
    ``AccountStatusChanged``, ``StreamGap`` before recovered events). With
    ``durable``, a named consumer that keeps its position in JetStream (a new
    name starts at the oldest event the stream keeps); without, an ephemeral
    one from now on.
    """

    def __init__(
        self,
        nc: Client,
        wire: Wire,
        account_id: str,
        *,
        durable: str | None = None,
        batch: int = DEFAULT_EVENT_BATCH,
        ack_wait: float = DEFAULT_ACK_WAIT,
    ) -> None:
        self._nc = nc
        self._js: JetStreamContext = nc.jetstream()
        self._wire = wire
        self.account_id = account_id
        self.durable = check_durable(durable)
        self._batch = batch
        self._ack_wait = ack_wait
        self._subject = wire.events_subject(account_id)
        self._sub: Any = None
        self._consumer = ""
        self._held: deque[Msg] = deque()
        self._fetched_at = 0.0
        self._taken: Msg | None = None
        self._last_seq = 0
        self._state = "new"
        self.delivered = 0
        self.duplicates = 0
        self.decode_errors = 0
        self.pending = 0

    def __repr__(self) -> str:
        return f"RemoteEventSubscription(account_id={self.account_id!r}, durable={self.durable!r})"

    async def __aenter__(self) -> Self:
        """Create or resume the consumer.

        Raises ``BridgeUnavailableError`` when NATS has no events stream (no
        bridge ran with this prefix) or cannot be reached,
        ``ConfigurationError`` when ``durable`` names a consumer of another
        subject, ``SessionClosedError`` when entered twice.
        """
        if self._state != "new":
            raise SessionClosedError("a subscription is entered once; make a new one")
        failure: FxSocketError | None = None
        try:
            failure = await self._check_existing()
            if failure is None:
                self._sub = await self._js.pull_subscribe(
                    self._subject,
                    durable=self.durable,
                    stream=self._wire.events_stream,
                    config=self._config(),
                )
                self._consumer = self.durable or self._sub._consumer
        except nats.js.errors.NotFoundError:
            failure = BridgeUnavailableError(
                f"NATS has no stream {self._wire.events_stream}: has a bridge with prefix "
                f"{self._wire.prefix!r} run?"
            )
        except (nats.errors.Error, TimeoutError) as exc:
            failure = BridgeUnavailableError(
                f"cannot create the events consumer: {type(exc).__name__}: {exc}"
            )
        if failure is not None:
            self._state = "closed"
            raise failure
        self._state = "open"
        return self

    async def _check_existing(self) -> FxSocketError | None:
        if self.durable is None:
            return None
        try:
            info = await self._js.consumer_info(self._wire.events_stream, self.durable)
        except nats.js.errors.NotFoundError:
            return None
        wanted = info.config.filter_subject
        if wanted != self._subject:
            return ConfigurationError(
                f"the durable consumer {self.durable!r} reads {wanted!r}, not {self._subject!r}: "
                "use another name for another account",
                code="durable_conflict",
            )
        return None

    def _config(self) -> ConsumerConfig:
        config = ConsumerConfig(
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_ack_pending=self._batch,
            filter_subject=self._subject,
        )
        if self.durable is None:
            config.deliver_policy = DeliverPolicy.NEW
            config.inactive_threshold = max(30.0, self._ack_wait)
        else:
            config.deliver_policy = DeliverPolicy.ALL
        return config

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> BridgeEvent:
        """The next event, once the previous one is acknowledged.

        Raises ``SessionClosedError`` outside the block, or
        ``BridgeUnavailableError`` when the NATS connection is closed for good.
        """
        if self._state != "open":
            if self._state == "closed":
                raise StopAsyncIteration
            raise SessionClosedError(
                "iterate a subscription inside its block: "
                "'async with fx.events(...) as events: async for e in events: ...'"
            )
        await self._ack_taken()
        while True:  # ends when an event is taken, or with the connection
            msg = await self._next_msg()
            seq = msg.metadata.sequence.stream
            if seq <= self._last_seq:
                # A redelivered copy of an event this run already took: acked, not repeated.
                self.duplicates += 1
                await _quietly(msg.ack())
                continue
            try:
                event = decode_event(msg.data)
            except ProtocolError:
                self.decode_errors += 1
                log.warning("an undecodable event (stream seq %d) was skipped", seq)
                self._last_seq = seq
                await _quietly(msg.ack())
                continue
            self._last_seq = seq
            self._taken = msg
            self.pending = msg.metadata.num_pending
            self.delivered += 1
            return event

    async def _next_msg(self) -> Msg:
        held = self._held
        if held and time.monotonic() - self._fetched_at > self._ack_wait / 2:
            # Held so long that JetStream may be redelivering them: hand them back, in order.
            await self._hand_back()
        failure = BridgeUnavailableError("no event came")  # replaced before it is raised
        for _ in range(1 << 62):  # waits as long as no event comes, like a local feed
            if held:
                return held.popleft()
            if self._nc.is_closed:
                raise BridgeUnavailableError("the NATS connection is closed")
            try:
                msgs = await self._sub.fetch(self._batch, timeout=_FETCH_WAIT)
            except (nats.errors.TimeoutError, TimeoutError):
                continue  # nothing yet (or NATS is reconnecting): ask again
            except nats.errors.Error as exc:
                failure = BridgeUnavailableError(f"fetching events failed: {type(exc).__name__}")
                break
            self._fetched_at = time.monotonic()
            held.extend(msgs)
        raise failure

    async def _ack_taken(self) -> None:
        taken, self._taken = self._taken, None
        if taken is not None:
            await _quietly(taken.ack())

    async def _hand_back(self) -> None:
        held, self._held = list(self._held), deque()
        for msg in held:
            await _quietly(msg.nak())

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Acknowledge the event taken last, hand back those fetched ahead, and stop.

        The durable consumer keeps its position; an ephemeral one is deleted.
        """
        if self._state != "open":
            self._state = "closed"
            return
        self._state = "closed"
        taken, self._taken = self._taken, None
        if taken is not None and not self._nc.is_closed:
            try:
                await taken.ack_sync(timeout=2.0)  # confirmed, so a restart resumes after it
            except (nats.errors.Error, TimeoutError):
                log.warning("the last event's ack was not confirmed; it may be delivered again")
        await self._hand_back()
        if not self._nc.is_closed:
            # The naks are plain publishes: flushed, so the next run gets those events at
            # once rather than after ack_wait.
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                await self._nc.flush(timeout=2)
        await self._end()

    async def _end(self) -> None:
        if self._nc.is_closed:
            return
        try:
            await self._sub.unsubscribe()
            if self.durable is None and self._consumer:
                await self._js.delete_consumer(self._wire.events_stream, self._consumer)
        except (nats.errors.Error, TimeoutError):
            pass  # an ephemeral consumer also expires by itself (inactive_threshold)

    def stats(self) -> dict[str, Any]:
        """Delivered, duplicates skipped, undecodable skipped, and ``pending``: the events
        the stream holds beyond this consumer's position (its lag)."""
        return {
            "delivered": self.delivered,
            "duplicates": self.duplicates,
            "decode_errors": self.decode_errors,
            "pending": self.pending,
            "held": len(self._held),
        }


async def _quietly(ack: Any) -> None:
    # An ack that cannot be sent (NATS reconnecting) means a redelivery, which the
    # stream sequence check absorbs: nothing to raise to the consumer.
    try:
        await ack
    except (nats.errors.Error, TimeoutError):
        log.debug("an ack could not be sent; the event may be delivered again")
