"""``Stream``: what subscriptions talk to. One protocol, its socket, its waiters, its recoveries.

It carries out ``StreamProtocol``'s actions: frames go to the socket's
writer, settled tickets wake the consumers waiting on them, ``Recover``
starts the recovery driver, ``Close`` kills a dead socket. Consumers enter
and leave through ``add_*`` / ``remove_*``; entering waits for the server's
acknowledgement (and, for the first events consumer of an account, for its
REST seed), bounded by ``subscribe_timeout``.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Sequence

from anyio.abc import TaskGroup

from .._clock import Clock
from .._config import StreamPolicy
from .._core.actions import Action, Close, EventSink, Health, Recover, Resolve, Send, SendPing
from .._core.dialect import StreamDialect, Topic
from .._core.events import AccountStatusChanged
from .._core.stream import LinkState, StreamProtocol
from .._exceptions import (
    FxSocketError,
    ProtocolError,
    SubscriptionRefusedError,
    TimeoutError,
    UnsupportedError,
)
from .._rest.snapshots import SnapshotReader
from .connection import WebSocketConnection
from .fanout import EventBuffer, QuoteBuffer
from .recovery import RecoveryDriver
from .stats import StreamStats
from .transport import StreamTransport

__all__ = ["Stream"]

log = logging.getLogger("fxsocket_async.stream")


class Stream:
    """One stream socket's consumers, for the session (all accounts of a key, or one account)."""

    def __init__(
        self,
        transport: StreamTransport,
        dialect: StreamDialect,
        *,
        account_id: str | None,
        policy: StreamPolicy,
        connect_timeout: float,
        clock: Clock,
        tasks: TaskGroup,
        snapshots: SnapshotReader,
    ) -> None:
        #: The account whose own socket this is (``None``: the key's shared socket).
        self.account_id = account_id
        self._policy = policy
        self._clock = clock
        self._tasks = tasks
        self._snapshots = snapshots
        self.protocol = StreamProtocol(
            dialect,
            ping_interval=policy.ping_interval,
            dead_after=policy.dead_after,
            quote_silence=policy.quote_silence,
            account_id=account_id,
        )
        self.connection = WebSocketConnection(
            transport,
            self.protocol,
            dialect.endpoint(account_id),
            policy=policy,
            connect_timeout=connect_timeout,
            clock=clock,
            execute=self.execute,
        )
        #: The socket's typed state: read it, await it, or watch it.
        self.status = self.connection.status
        self._recoveries = RecoveryDriver(
            self.protocol, snapshots, tasks=tasks, policy=policy, clock=clock, execute=self.execute
        )
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._started = False

    def __repr__(self) -> str:
        return f"Stream({self.connection!r}, {self.protocol.state.value})"

    # ------------------------------------------------------------------ actions

    def execute(self, actions: list[Action]) -> None:
        """Carry out the protocol's actions, in order."""
        for action in actions:
            match action:
                case Send(frame=frame):
                    self.connection.send(frame)
                case Resolve():
                    self._settle(action)
                case Recover(account_id=account_id, watermark=watermark):
                    self._recoveries.start(account_id, watermark)
                case Close(reason=reason):
                    self.connection.kill(reason)
                case Health(reason=reason):
                    if self.status.state.state in ("live", "degraded"):
                        if reason is None:
                            self.status.set("live")
                        else:
                            self.status.set("degraded", reason=reason)
                case SendPing():
                    self.connection.send(None)

    def _settle(self, action: Resolve) -> None:
        future = self._waiters.get(action.ticket)
        if future is None or future.done():
            return
        if action.error is None:
            future.set_result(None)
        else:
            future.set_exception(action.error)

    def _run(self) -> None:
        self.execute(self.protocol.take_actions())

    # --------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Open the socket in the background (idempotent; again after a first failure)."""
        if not self._started:
            self._started = True
            self.connection.first_failure = None
            self._tasks.start_soon(self._supervise)

    async def _supervise(self) -> None:
        try:
            await self.connection.run()
        except Exception as exc:  # a bug of ours must not end the session: end the stream
            log.exception("the stream's supervisor failed")
            self.connection.fail(ProtocolError(f"the stream failed: {type(exc).__name__}: {exc}"))
        finally:
            self._started = False  # a first failure stops it; the next consumer restarts it

    async def wait_connected(self) -> None:
        """Open the socket if needed and wait until it is up.

        Raises the fatal error (``AuthenticationError``, ``ConfigurationError``...),
        the first connection's failure (``ConnectionFailedError``,
        ``TimeoutError``), or ``TimeoutError`` after ``subscribe_timeout``.
        """
        self._raise_if_fatal()
        self.start()
        timeout = self._policy.subscribe_timeout
        connection = self.connection
        try:
            with self._clock.fail_after(timeout):
                while not connection.up.is_set():
                    if connection.first_failure is not None:
                        raise connection.first_failure
                    await connection.up.wait()
        except FxSocketError:
            raise  # ours (the stream's or the server's), even a TimeoutError: as it is
        except builtins.TimeoutError:
            raise TimeoutError(f"the stream was not connected within {timeout:g} s") from None
        self._raise_if_fatal()

    def _raise_if_fatal(self) -> None:
        if self.protocol.fatal is not None:
            raise self.protocol.fatal

    def close(self) -> None:
        """End every consumer (the session is closing)."""
        for sink in self.protocol.sinks():
            sink.close()
        self.status.close()

    async def _wait(self, ticket: int | None) -> None:
        """Wait for the server's answer to ``ticket``; raise its refusal, or time out."""
        if ticket is None:
            self._run()
            return
        future = self._waiters[ticket] = asyncio.get_running_loop().create_future()
        self._run()
        timeout = self._policy.subscribe_timeout
        try:
            with self._clock.fail_after(timeout):
                await future
        except FxSocketError:
            raise  # ours (the stream's or the server's), even a TimeoutError: as it is
        except builtins.TimeoutError:
            raise TimeoutError(
                f"the server did not acknowledge the subscription within {timeout:g} s"
            ) from None
        finally:
            del self._waiters[ticket]
            self.protocol.abandon(ticket)

    # --------------------------------------------------------------- consumers

    async def add_quotes(self, account_id: str, symbols: Sequence[str], sink: QuoteBuffer) -> None:
        """Route ``symbols`` of ``account_id`` to ``sink``; subscribe what is new.

        Raises ``SubscriptionRefusedError`` (the server's code), the stream's
        fatal error, or ``TimeoutError``.
        """
        self._raise_if_fatal()
        self.start()
        ticket = self.protocol.add_quotes(account_id, symbols, sink)
        try:
            await self._wait(ticket)
        except BaseException as exc:
            # Unless the server refused it, the subscribe may have been applied.
            refused = isinstance(exc, SubscriptionRefusedError)
            self.protocol.remove_quotes(account_id, symbols, sink, send=not refused)
            self._run()
            raise

    def remove_quotes(self, account_id: str, symbols: Sequence[str], sink: QuoteBuffer) -> None:
        """Stop routing to ``sink``; unsubscribe symbols nobody needs any more."""
        self.protocol.remove_quotes(account_id, symbols, sink)
        self._run()

    async def add_events(self, account_id: str, sink: EventBuffer) -> None:
        """Route ``account_id``'s order, account and status events to ``sink``.

        The first consumer of an account subscribes it and reads its REST
        seed while live events are held, so nothing after subscribing is
        lost. Raises ``SubscriptionRefusedError``, ``TimeoutError``, a REST
        error from reading the seed, or the stream's fatal error.
        """
        self._raise_if_fatal()
        self.start()
        ticket = self.protocol.add_events(account_id, sink)
        if ticket is None:
            return
        try:
            await self._wait(ticket)
            snapshot = await self._snapshots.seed(account_id)
        except BaseException as exc:
            refused = isinstance(exc, SubscriptionRefusedError)
            self.protocol.remove_events(account_id, sink, send=not refused)
            if isinstance(exc, FxSocketError):
                # Consumers that joined meanwhile could not be seeded either.
                self.protocol.end_events(account_id, exc, send=not refused)
            elif account_id in self.protocol.feeds:
                self._tasks.start_soon(self._seed_for_the_others, account_id)
            self._run()
            raise
        self.protocol.seeded(account_id, snapshot)
        self._run()

    async def _seed_for_the_others(self, account_id: str) -> None:
        # The first consumer left while seeding; the ones that joined it still need a seed.
        try:
            snapshot = await self._snapshots.seed(account_id)
        except FxSocketError as exc:
            self.protocol.end_events(account_id, exc, send=True)
        else:
            self.protocol.seeded(account_id, snapshot)
        self._run()

    def remove_events(self, account_id: str, sink: EventBuffer) -> None:
        """Stop delivering to ``sink``; the last consumer of an account unsubscribes it."""
        self.protocol.remove_events(account_id, sink)
        self._run()

    async def add_topic(self, topic: Topic, sink: EventSink) -> None:
        """Route what ``topic`` carries (bars, snapshots, terminal status) to ``sink``.

        Raises ``UnsupportedError`` when this socket's dialect has no such topic
        (before anything is sent), ``SubscriptionRefusedError``, the stream's
        fatal error, or ``TimeoutError``.
        """
        dialect = self.protocol.dialect
        if topic.kind not in dialect.topic_kinds:
            raise UnsupportedError(
                f"the {dialect.name} stream has no {topic.kind!r} topic: account "
                f"{topic.account_id} would need its terminal's socket (dialect='auto' or "
                "'terminal', and an account whose record carries a ws_url)",
                code="unsupported",
            )
        self._raise_if_fatal()
        self.start()
        ticket = self.protocol.add_topic(topic, sink)
        try:
            await self._wait(ticket)
        except BaseException as exc:
            refused = isinstance(exc, SubscriptionRefusedError)
            self.protocol.remove_topic(topic, sink, send=not refused)
            self._run()
            raise

    def remove_topic(self, topic: Topic, sink: EventSink) -> None:
        """Stop routing ``topic`` to ``sink``; the last consumer unsubscribes it."""
        self.protocol.remove_topic(topic, sink)
        self._run()

    def status_changed(self, change: AccountStatusChanged) -> None:
        """The account watcher's status changes join the events stream."""
        self.protocol.status_changed(change)
        self._run()

    # -------------------------------------------------------------------- stats

    def newest_quote_age(self) -> float | None:
        """Seconds since a quote last arrived (measured at each liveness tick)."""
        at = self.protocol.liveness.newest_quote_at
        return None if at is None else self._clock.monotonic() - at

    def stats(self) -> StreamStats:
        counts = self.protocol.counters
        sinks = self.protocol.sinks()
        return StreamStats(
            connected=self.protocol.state is LinkState.OPEN,
            state=self.status.state.state,
            frames=counts.frames,
            bytes=counts.bytes,
            decode_errors=counts.decode_errors,
            unknown_events=counts.unknown_events,
            reconnects=counts.reconnects,
            gaps=counts.gaps,
            recovered_events=counts.recovered_events,
            conflated=counts.retired_conflated + sum(getattr(s, "conflated", 0) for s in sinks),
            dropped=counts.retired_dropped + sum(s.dropped for s in sinks),
            buffer_depth=sum(getattr(s, "depth", 0) for s in sinks),
            consumers=len(sinks),
            newest_quote_age=self.newest_quote_age(),
            server_dropped=counts.server_dropped,
            notices=counts.notices,
            transport=self.connection.transport,
        )
