"""The per-consumer buffers on their own: overflow policies, wake-ups, close and fail.

No network here. ``LatestQuotes`` (conflate mode), ``QuoteQueue`` (all mode) and
``EventBuffer`` are what every consumer of ``fx.quotes(...)`` / ``fx.events(...)``
reads from; these tests hold them to the policies stated in
``fxsocket_async/_stream/fanout.py``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from fxsocket_async import ConsumerOverflowError, FxSocketError, ValidationError
from fxsocket_async._stream.fanout import (
    EventBuffer,
    LatestQuotes,
    QuoteBuffer,
    QuoteQueue,
    quote_buffer,
)
from fxsocket_async.types import Quote, SubscriptionStats

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WAIT = 10.0


class Tape:
    """Makes quotes numbered in push order, and remembers the newest per symbol."""

    def __init__(self) -> None:
        self.count = 0
        self.newest: dict[str, Quote] = {}

    def quote(self, symbol: str) -> Quote:
        self.count += 1
        q = Quote(
            symbol=symbol,
            bid=float(self.count),
            ask=float(self.count) + 0.5,
            time=T0 + timedelta(milliseconds=self.count),
        )
        self.newest[symbol] = q
        return q

    def push(self, buffer: QuoteBuffer, *symbols: str) -> list[Quote]:
        pushed = [self.quote(s) for s in symbols]
        for q in pushed:
            buffer.push(q)
        return pushed


def now(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end, failing if it would have to wait (suspend) even once."""
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError(f"the read had to wait (it yielded {yielded!r})")


async def drain(buffer: QuoteBuffer) -> list[Quote]:
    """Every quote waiting, one ``get`` at a time, without waiting for more."""
    out = []
    for _ in range(buffer.depth):
        out.append(await buffer.get())
    assert buffer.depth == 0
    return out


# ------------------------------------------------------------ construction


def test_a_buffer_needs_capacity_and_a_known_mode() -> None:
    for bad in (0, -1, True, 2.5):
        with pytest.raises(ValidationError, match="capacity"):
            QuoteQueue(bad)  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match="capacity"):
            EventBuffer(bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="mode") as caught:
        quote_buffer("latest", 4)
    assert isinstance(caught.value, ValueError)  # our error, and a ValueError too
    assert "'conflate'" in caught.value.message
    assert "'all'" in caught.value.message
    assert isinstance(quote_buffer("conflate"), LatestQuotes)
    assert isinstance(quote_buffer("all", 4), QuoteQueue)


# ------------------------------------------------ conflate mode: latest value


async def test_conflate_holds_the_newest_quote_of_each_symbol_in_line() -> None:
    tape, buffer = Tape(), LatestQuotes()
    tape.push(buffer, "EURUSD", "GBPUSD", "EURUSD", "EURUSD", "XAUUSD", "GBPUSD", "EURUSD")
    assert buffer.depth == 3
    newest = dict(tape.newest)
    # In the order each symbol started waiting, each with its newest quote.
    assert await drain(buffer) == [newest["EURUSD"], newest["GBPUSD"], newest["XAUUSD"]]
    assert buffer.stats() == SubscriptionStats(delivered=3, conflated=4, dropped=0, depth=0)


async def test_a_consumer_that_reads_each_quote_before_the_next_sees_every_one() -> None:
    tape, buffer = Tape(), LatestQuotes()
    read = []
    for symbol in ["EURUSD", "GBPUSD", "EURUSD", "EURUSD", "XAUUSD"] * 20:
        (q,) = tape.push(buffer, symbol)
        read.append(await buffer.get())
        assert read[-1] == q
    assert buffer.stats() == SubscriptionStats(delivered=100, conflated=0, dropped=0, depth=0)


async def test_a_read_symbol_goes_to_the_back_of_the_line() -> None:
    tape, buffer = Tape(), LatestQuotes()
    tape.push(buffer, "EURUSD", "GBPUSD")
    assert (await buffer.get()).symbol == "EURUSD"
    tape.push(buffer, "EURUSD", "GBPUSD")  # GBPUSD replaced in place, EURUSD queued anew
    assert [q.symbol for q in await drain(buffer)] == ["GBPUSD", "EURUSD"]
    assert buffer.conflated == 1


async def test_a_run_of_one_symbol_costs_one_store_and_counts_every_replaced_quote() -> None:
    tape, buffer = Tape(), LatestQuotes()
    run = [tape.quote("EURUSD") for _ in range(500)]
    buffer.push_many(run)
    assert buffer.depth == 1
    assert buffer.conflated == 499
    buffer.push_many([tape.quote("EURUSD") for _ in range(10)])  # its one waiting is replaced
    assert buffer.conflated == 509
    assert await buffer.get_batch() == [tape.newest["EURUSD"]]
    assert buffer.delivered == 1


async def test_get_batch_returns_the_newest_quote_of_every_waiting_symbol() -> None:
    tape, buffer = Tape(), LatestQuotes()
    tape.push(buffer, "EURUSD", "GBPUSD", "EURUSD", "GBPUSD", "EURUSD")
    batch = await buffer.get_batch()
    assert batch == [tape.newest["EURUSD"], tape.newest["GBPUSD"]]
    assert (buffer.depth, buffer.conflated, buffer.delivered) == (0, 3, 2)
    again = tape.push(buffer, "GBPUSD")
    assert await buffer.get_batch() == again


@pytest.mark.parametrize("symbol_count", [1, 3, 8, 40])
async def test_a_conflated_read_is_always_the_newest_quote_of_its_symbol(
    symbol_count: int,
) -> None:
    """A seeded random mix of pushes and reads, checked against latest-value semantics."""
    rng = random.Random(symbol_count)
    symbols = [f"SYM{i}" for i in range(symbol_count)]
    tape, buffer = Tape(), LatestQuotes()
    waiting: list[str] = []  # the line, as the policy states it
    for _ in range(3000):
        if rng.random() < 0.6:
            (q,) = tape.push(buffer, rng.choice(symbols))
            if q.symbol not in waiting:
                waiting.append(q.symbol)
        elif buffer.depth:
            q = await buffer.get()
            # Never a quote when a newer one of its symbol has reached the buffer.
            assert q == tape.newest[q.symbol]
            assert q.symbol == waiting.pop(0)
        assert buffer.depth == len(waiting) <= symbol_count
        # Every quote pushed is delivered, conflated (counted) or still waiting.
        assert tape.count == buffer.delivered + buffer.conflated + buffer.depth


# -------------------------------------------------------------- all mode


async def test_all_mode_overflow_ends_that_consumer_and_not_another() -> None:
    tape = Tape()
    slow, fast = QuoteQueue(4), QuoteQueue(4)
    received = []
    for _ in range(10):
        (q,) = tape.push(slow, "EURUSD")
        fast.push(q)
        received.append(await fast.get())
    assert [q.bid for q in received] == [float(i) for i in range(1, 11)]
    assert fast.stats().dropped == 0

    assert slow.stats().dropped == 6  # 10 pushed, 4 fit
    assert slow.stats().conflated == 0
    with pytest.raises(ConsumerOverflowError) as caught:
        await slow.get()
    assert caught.value.code == "consumer_overflow"
    with pytest.raises(ConsumerOverflowError):
        await slow.get_batch()  # it stays ended


async def test_all_mode_keeps_every_quote_up_to_capacity() -> None:
    tape, buffer = Tape(), QuoteQueue(5)
    pushed = tape.push(buffer, "EURUSD", "EURUSD", "GBPUSD", "EURUSD", "EURUSD")
    assert await drain(buffer) == pushed
    assert buffer.stats().dropped == 0


async def test_all_mode_overflow_reaches_a_waiting_consumer_as_the_error() -> None:
    tape, buffer = Tape(), QuoteQueue(1)
    outcome: list[BaseException] = []

    async def consume() -> None:
        try:
            await buffer.get()
        except ConsumerOverflowError as exc:
            outcome.append(exc)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            tape.push(buffer, "EURUSD", "EURUSD")  # the second overflows before it runs
    assert len(outcome) == 1
    assert buffer.dropped == 1


# ------------------------------------------------------------ get_batch


async def test_get_batch_returns_everything_waiting_in_order() -> None:
    tape, buffer = Tape(), QuoteQueue(100)
    pushed = tape.push(buffer, *["EURUSD", "GBPUSD", "XAUUSD"] * 10)
    assert await buffer.get_batch() == pushed
    assert (buffer.depth, buffer.delivered) == (0, 30)


# ------------------------------------------------------------ wake-ups


async def test_a_waiting_consumer_is_woken_by_a_push() -> None:
    tape, buffer = Tape(), QuoteQueue(8)
    got: list[Quote] = []

    async def consume() -> None:
        got.append(await buffer.get())

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            assert got == []
            pushed = tape.push(buffer, "EURUSD")
    assert got == pushed


async def test_one_wake_up_serves_a_whole_batch_of_pushes() -> None:
    tape, buffer = Tape(), QuoteQueue(2000)
    reader = buffer.get()
    waiter = reader.send(None)  # the consumer sleeps on one future
    assert isinstance(waiter, asyncio.Future)
    assert not waiter.done()

    pushed = tape.push(buffer, *["EURUSD"] * 1000)
    assert waiter.done()  # woken by the first push

    with pytest.raises(StopIteration) as first:
        reader.send(None)  # it resumes once...
    rest = [now(buffer.get()) for _ in range(999)]  # ...and reads the rest without waiting
    assert [first.value.value, *rest] == pushed


async def test_a_consumer_woken_late_reads_all_1000_in_one_batch() -> None:
    tape, buffer = Tape(), QuoteQueue(2000)
    batches: list[list[Quote]] = []

    async def collect() -> None:
        batches.append(await buffer.get_batch())

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(collect)
            await anyio.wait_all_tasks_blocked()
            pushed = tape.push(buffer, *["EURUSD", "GBPUSD"] * 500)  # before it runs again
    assert batches == [pushed]


async def test_events_wake_once_per_batch_too() -> None:
    buffer = EventBuffer(2000)
    reader = buffer.get()
    waiter = reader.send(None)
    assert isinstance(waiter, asyncio.Future)
    for i in range(1000):
        buffer.push(i)
    with pytest.raises(StopIteration) as first:
        reader.send(None)
    rest = [now(buffer.get()) for _ in range(999)]
    assert [first.value.value, *rest] == list(range(1000))


async def test_a_cancelled_waiter_does_not_break_the_next_read() -> None:
    tape, buffer = Tape(), QuoteQueue(8)
    with anyio.move_on_after(0):  # cancelled while waiting
        await buffer.get()
    pushed = tape.push(buffer, "EURUSD", "GBPUSD")
    with anyio.fail_after(WAIT):
        assert [await buffer.get(), await buffer.get()] == pushed


# ------------------------------------------------------------ close / fail


async def test_close_ends_iteration_after_the_buffered_quotes() -> None:
    tape, buffer = Tape(), QuoteQueue(8)
    pushed = tape.push(buffer, "EURUSD", "GBPUSD")
    buffer.close()
    assert [await buffer.get(), await buffer.get()] == pushed
    with pytest.raises(StopAsyncIteration):
        await buffer.get()
    with pytest.raises(StopAsyncIteration):
        await buffer.get_batch()


async def test_close_wakes_a_waiting_consumer() -> None:
    buffers: list[QuoteBuffer | EventBuffer] = [QuoteQueue(8), LatestQuotes(), EventBuffer(8)]
    ended: list[QuoteBuffer | EventBuffer] = []

    async def consume(buffer: QuoteBuffer | EventBuffer) -> None:
        with pytest.raises(StopAsyncIteration):
            await buffer.get()
        ended.append(buffer)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            for b in buffers:
                tg.start_soon(consume, b)
            await anyio.wait_all_tasks_blocked()
            for b in buffers:
                b.close()
    assert sorted(map(id, ended)) == sorted(map(id, buffers))


async def test_fail_raises_at_the_next_read_even_with_quotes_waiting() -> None:
    tape, buffer = Tape(), QuoteQueue(8)
    tape.push(buffer, "EURUSD")
    first, second = FxSocketError("first"), FxSocketError("second")
    buffer.fail(first)
    buffer.fail(second)  # the first reason stays
    with pytest.raises(FxSocketError) as caught:
        await buffer.get()
    assert caught.value is first
    with pytest.raises(FxSocketError):
        await buffer.get_batch()


async def test_fail_wakes_a_waiting_consumer() -> None:
    buffer = EventBuffer(8)
    error = FxSocketError("the stream is gone")
    seen: list[BaseException] = []

    async def consume() -> None:
        try:
            await buffer.get()
        except FxSocketError as exc:
            seen.append(exc)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            buffer.fail(error)
    assert seen == [error]


async def test_fail_after_close_changes_nothing() -> None:
    buffer = QuoteQueue(8)
    buffer.close()
    buffer.fail(FxSocketError("late"))
    with pytest.raises(StopAsyncIteration):
        await buffer.get()


# ------------------------------------------------------------ EventBuffer


async def test_events_are_lossless_and_in_order_up_to_capacity() -> None:
    buffer = EventBuffer(50)
    for i in range(50):
        buffer.push(i)
    assert buffer.depth == 50
    assert [await buffer.get() for _ in range(50)] == list(range(50))
    for i in range(50, 100):  # the capacity bounds what waits, not what passes
        buffer.push(i)
    assert [await buffer.get() for _ in range(50)] == list(range(50, 100))
    assert buffer.stats().dropped == 0
    assert buffer.stats().conflated == 0
    assert buffer.stats().delivered == 100


async def test_event_overflow_ends_that_consumer_alone() -> None:
    slow, fast = EventBuffer(10), EventBuffer(10)
    delivered = []
    for i in range(11):
        slow.push(i)
        fast.push(i)
        delivered.append(await fast.get())
    assert delivered == list(range(11))

    assert slow.stats().dropped == 1
    with pytest.raises(ConsumerOverflowError):
        await slow.get()  # not the 10 waiting: the consumer is ended, never silently short
    slow.push(99)  # later events are not kept for an ended consumer
    assert slow.stats().dropped == 1
    with pytest.raises(ConsumerOverflowError):
        await slow.get()

    fast.push(11)
    assert await fast.get() == 11
    assert fast.stats().dropped == 0


# ------------------------------------------------------------ iterate(): what ``async for`` runs


@pytest.mark.parametrize("make", [lambda: QuoteQueue(64), LatestQuotes], ids=["all", "conflate"])
async def test_breaking_out_of_iterate_and_iterating_again_loses_no_quote(make: Any) -> None:
    tape, buffer = Tape(), make()
    pushed = tape.push(buffer, *[f"S{i}" for i in range(10)])
    read: list[Quote] = []
    with anyio.fail_after(WAIT):
        for _ in range(5):  # five loops, two quotes each, each left by break
            async for quote in buffer.iterate():
                read.append(quote)
                if len(read) % 2 == 0:
                    break
    assert read == pushed
    assert buffer.depth == 0
    assert buffer.stats().delivered == 10


@pytest.mark.parametrize("make", [lambda: QuoteQueue(64), LatestQuotes], ids=["all", "conflate"])
async def test_iterate_waits_for_a_push_and_ends_at_close(make: Any) -> None:
    tape, buffer = Tape(), make()
    read: list[Quote] = []

    async def consume() -> None:
        async for quote in buffer.iterate():
            read.append(quote)

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await anyio.wait_all_tasks_blocked()
            first = tape.push(buffer, "EURUSD")
            await anyio.wait_all_tasks_blocked()
            assert read == first
            rest = tape.push(buffer, "GBPUSD", "USDJPY")
            buffer.close()  # what is buffered is still read, then the loop ends
    assert read == first + rest


@pytest.mark.parametrize("make", [lambda: QuoteQueue(64), LatestQuotes], ids=["all", "conflate"])
async def test_a_failure_between_two_quotes_ends_iterate_at_the_next(make: Any) -> None:
    tape, buffer = Tape(), make()
    pushed = tape.push(buffer, "EURUSD", "GBPUSD", "USDJPY")
    error = FxSocketError("the stream is gone")
    quotes = buffer.iterate()
    with anyio.fail_after(WAIT):
        assert await anext(quotes) == pushed[0]
        buffer.fail(error)  # while the generator waits at its yield, two quotes behind it
        with pytest.raises(FxSocketError) as caught:
            await anext(quotes)
    assert caught.value is error
    # The two not read are still waiting, and counted so.
    assert buffer.depth == 2
    assert buffer.stats().delivered == 1


async def test_iterate_raises_the_failure_with_quotes_waiting() -> None:
    tape, buffer = Tape(), QuoteQueue(8)
    tape.push(buffer, "EURUSD")
    error = FxSocketError("the stream is gone")
    buffer.fail(error)
    read: list[Quote] = []

    async def consume() -> None:
        async for quote in buffer.iterate():
            read.append(quote)

    with anyio.fail_after(WAIT), pytest.raises(FxSocketError) as caught:
        await consume()
    assert caught.value is error
    assert read == []  # nothing read past the failure
