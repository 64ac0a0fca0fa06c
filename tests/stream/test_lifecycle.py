"""How subscriptions and the session end: break, cancellation, session exit, stats.

Whether the server still holds a symbol is observed as in
``test_subscriptions.py``: a probe subscription's ack proves the server has
handled everything sent before it; then a price move of a dropped symbol
sends no frame, which a sentinel quote on the probe's symbol makes visible.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Iterator

import anyio
import msgspec
import pytest
from anyio.abc import TaskStatus

from fxsocket_async import AsyncFxSocket, EventSubscription, QuoteSubscription, SessionClosedError
from fxsocket_async._core.events import QuoteEvent
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import Account, Quote
from tests.helpers.dialects import is_terminal

from .conftest import WAIT, link, make_streaming_client

pytestmark = pytest.mark.anyio

PROBE = "XAUUSD"


def frames(fx: AsyncFxSocket) -> int:
    return fx.stats()["stream"].frames


def bump(sim: Simulator, symbol: str) -> Quote:
    """Move ``symbol`` to a new price."""
    return sim.set_price(symbol, sim.price(symbol).bid * 1.001)


def same(a: Quote, b: Quote) -> bool:
    return (a.symbol, a.bid, a.ask, a.time) == (b.symbol, b.bid, b.ask, b.time)


#: The account watcher starts one of these per round and ends it when the round is due:
#: a session-level task that comes and goes on its own clock, not a subscription's.
_WATCHER_ROUND = "AccountWatcher._sleep_or_signal"


def other_tasks() -> set[asyncio.Task[object]]:
    return {
        task
        for task in asyncio.all_tasks()
        if task is not asyncio.current_task() and _WATCHER_ROUND not in task.get_name()
    }


def library_tasks() -> list[str]:
    """Live tasks running the client's own code (not the simulator's, not the test's)."""
    names = []
    for task in other_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = code.co_filename if code is not None else ""
        if "fxsocket_async" in filename and "simulator" not in filename:
            names.append(task.get_coro().__qualname__)  # type: ignore[union-attr]
    return names


async def assert_server_dropped(
    sim: Simulator, fx: AsyncFxSocket, account: Account, symbol: str
) -> None:
    """The server no longer sends ``symbol`` of ``account`` to this session."""
    if is_terminal():
        # A terminal answers every message (unsubscribes too), so frames cannot tell
        # a tick from a late answer: what the server holds does.
        def dropped(subs: list[tuple[str, str, tuple[str, ...]]]) -> bool:
            return not any(a == account.id and symbol in symbols for a, _, symbols in subs)

        await sim.wait_for_subscriptions(dropped, timeout=WAIT)
        return
    with anyio.fail_after(WAIT):
        async with fx.quotes(PROBE, account=account.id) as probe:
            before = frames(fx)
            bump(sim, symbol)  # no frame, if the server dropped it
            moved = bump(sim, PROBE)
            assert same(await anext(probe), moved)
            assert frames(fx) - before == 1


async def assert_server_sends(
    sim: Simulator, fx: AsyncFxSocket, sub: QuoteSubscription, symbol: str
) -> None:
    moved = bump(sim, symbol)
    with anyio.fail_after(WAIT):
        assert same(await anext(sub), moved)


@pytest.fixture
def clean_exit(caplog: pytest.LogCaptureFixture) -> Iterator[list[str]]:
    """Collects "Unclosed ..." / "Task was destroyed ..." warnings and asyncio errors."""
    caplog.set_level(logging.WARNING, "asyncio")
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield problems
        gc.collect()
    problems += [str(w.message) for w in caught]
    problems += [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert problems == []


# ---------------------------------------------------- leaving a subscription


async def test_breaking_out_of_async_for_unsubscribes_and_leaves_no_task(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    tasks = other_tasks()
    async with fx.quotes("EURUSD", account=account.id, mode="all") as quotes:
        sent = [bump(sim, "EURUSD") for _ in range(3)]
        got = []
        with anyio.fail_after(WAIT):
            async for q in quotes:
                got.append(q)
                if len(got) == 2:
                    break
        assert len(got) == 2
        assert all(same(g, s) for g, s in zip(got, sent[:2], strict=True))
    assert fx.stats()["stream"].consumers == 0
    await assert_server_dropped(sim, fx, account, "EURUSD")
    assert other_tasks() == tasks


async def test_breaking_out_in_a_consumer_task_unsubscribes_and_leaves_no_task(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    tasks = other_tasks()

    async def consume(*, task_status: TaskStatus[None]) -> None:
        async with fx.quotes("EURUSD", account=account.id) as quotes:
            task_status.started()
            async for q in quotes:
                if q.bid == last.bid:
                    break

    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            await tg.start(consume)  # subscribed
            last = bump(sim, "EURUSD")
    await assert_server_dropped(sim, fx, account, "EURUSD")
    assert other_tasks() == tasks


@pytest.mark.parametrize("last", [True, False], ids=["last-consumer", "another-stays"])
async def test_cancelling_a_consumer_unsubscribes_when_it_was_the_last(
    sim: Simulator, fx: AsyncFxSocket, account: Account, last: bool
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    tasks = other_tasks()
    first = anyio.Event()

    async def consume(*, task_status: TaskStatus[anyio.CancelScope]) -> None:
        with anyio.CancelScope() as scope:
            async with fx.quotes("EURUSD", account=account.id) as quotes:
                task_status.started(scope)
                async for _ in quotes:
                    first.set()

    async with fx.quotes("EURUSD", account=account.id) as stays:
        if last:
            await stays.aclose()
        with anyio.fail_after(WAIT):
            async with anyio.create_task_group() as tg:
                scope = await tg.start(consume)
                bump(sim, "EURUSD")
                await first.wait()  # it is iterating; now it waits in anext
                scope.cancel()
        assert scope.cancelled_caught
        if last:
            await assert_server_dropped(sim, fx, account, "EURUSD")
        else:
            await anext(stays)  # the quote the cancelled consumer read
            await assert_server_sends(sim, fx, stays, "EURUSD")
            assert fx.stats()["stream"].consumers == 1
    assert fx.stats()["stream"].consumers == 0
    assert other_tasks() == tasks


async def test_a_subscription_entered_under_a_cancelled_scope_keeps_nothing(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    with anyio.CancelScope() as scope:
        scope.cancel()
        async with fx.quotes("EURUSD", account=account.id):
            pytest.fail("entered a subscription under a cancelled scope")
    assert scope.cancelled_caught
    assert fx.stats()["stream"].consumers == 0
    await assert_server_dropped(sim, fx, account, "EURUSD")


async def test_a_subscription_cancelled_while_awaiting_its_ack_leaves_nothing_subscribed(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
        sim.faults.mute(answer_pings=False)  # the server handles the subscribe, answers nothing
        async with anyio.create_task_group() as tg:

            async def subscribe() -> None:
                async with fx.quotes("EURUSD", account=account.id):
                    pytest.fail("the subscribe was acknowledged while the server was mute")

            tg.start_soon(subscribe)
            await anyio.wait_all_tasks_blocked()  # sent, and waiting for the ack
            tg.cancel_scope.cancel()
        sim.faults.unmute()
    assert fx.stats()["stream"].consumers == 0
    await assert_server_dropped(sim, fx, account, "EURUSD")


# ------------------------------------------------------------ session exit


async def test_session_exit_ends_every_iterator_promptly(
    sim: Simulator, clean_exit: list[str]
) -> None:
    ended: dict[str, anyio.Event] = {}
    outcomes: dict[str, str] = {}

    async def consume(
        name: str,
        sub: QuoteSubscription | EventSubscription,
        *,
        task_status: TaskStatus[None],
    ) -> None:
        ended[name] = anyio.Event()
        try:
            async with sub:
                task_status.started()
                feed = sub.batches() if name == "batches" else sub
                async for _ in feed:  # type: ignore[attr-defined]
                    pass
            outcomes[name] = "ended"
        except BaseException as exc:
            outcomes[name] = repr(exc)
            raise
        finally:
            ended[name].set()

    async with anyio.create_task_group() as consumers:
        async with make_streaming_client(sim) as session:
            with anyio.fail_after(WAIT):
                account = await link(session, connected=True)
                quotes = session.quotes("EURUSD", account=account.id)
                batches = session.quotes("EURUSD", "GBPUSD", account=account.id)
                events = session.events(account=account.id)
                for name, sub in (("quotes", quotes), ("batches", batches), ("events", events)):
                    await consumers.start(consume, name, sub)
                await anyio.wait_all_tasks_blocked()  # all three wait in anext
            assert session.stats()["stream"].consumers == 3
        # The session has exited while they waited.
        with anyio.fail_after(2):
            for event in ended.values():
                await event.wait()
    assert outcomes == {"quotes": "ended", "batches": "ended", "events": "ended"}
    assert library_tasks() == []
    await sim.wait_for_ws_connections(0, timeout=WAIT)


async def test_cancelling_the_whole_session_body_with_open_streams_is_clean(
    sim: Simulator, clean_exit: list[str]
) -> None:
    with anyio.fail_after(WAIT):
        with anyio.CancelScope() as body:
            async with make_streaming_client(sim) as session:
                account = await link(session, connected=True)
                async with (
                    session.quotes("EURUSD", account=account.id) as quotes,
                    session.events(account=account.id) as events,
                    anyio.create_task_group() as tg,
                ):

                    async def drain(feed: QuoteSubscription | EventSubscription) -> None:
                        async for _ in feed:
                            pass

                    tg.start_soon(drain, events)
                    moved = bump(sim, "EURUSD")
                    assert same(await anext(quotes), moved)
                    await session.account(account.id).orders.create("EURUSD", "BUY", 0.1)
                    tg.start_soon(drain, quotes)
                    body.cancel()
                    await anyio.sleep_forever()
        assert body.cancelled_caught
        await sim.wait_for_ws_connections(0, timeout=WAIT)
    assert library_tasks() == []


# ------------------------------------------------------------------- stats


@pytest.mark.dialects("reference")  # counts the reference's frames; the terminal's: tests/core
async def test_stream_stats_count_frames_bytes_consumers_and_depth(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    with anyio.fail_after(WAIT):
        await fx.connect_stream(account=account.id)
    stats = fx.stats()["stream"]
    assert (stats.frames, stats.bytes, stats.consumers, stats.buffer_depth) == (0, 0, 0, 0)

    async with (
        fx.quotes("EURUSD", "GBPUSD", account=account.id, mode="all") as both,
        fx.quotes("EURUSD", account=account.id, mode="all") as eurusd,
        fx.events(account=account.id),
    ):
        stats = fx.stats()["stream"]
        assert stats.consumers == 3
        assert stats.frames == 3  # acks: quotes (EURUSD+GBPUSD at once), orders, account
        assert stats.buffer_depth == 0
        acks_bytes = stats.bytes
        assert acks_bytes > 0

        sent = [bump(sim, s) for s in ("EURUSD", "GBPUSD") * 4]
        with anyio.fail_after(WAIT):
            got = [await anext(both) for _ in sent]  # all arrived
        assert all(same(g, s) for g, s in zip(got, sent, strict=True))
        stats = fx.stats()["stream"]
        assert stats.frames == 3 + len(sent)
        wire_bytes = sum(
            len(msgspec.json.encode(QuoteEvent(account_id=account.id, data=_stream_quote(q))))
            for q in sent
        )
        assert stats.bytes - acks_bytes == wire_bytes
        assert stats.buffer_depth == 4  # the EURUSD-only consumer has not read yet
        assert eurusd.stats().depth == 4
        assert both.stats().delivered == len(sent)
        assert (stats.conflated, stats.dropped, stats.decode_errors) == (0, 0, 0)

        with anyio.fail_after(WAIT):
            for _ in range(4):
                await anext(eurusd)
        assert fx.stats()["stream"].buffer_depth == 0
        assert eurusd.stats().delivered == 4
    stats = fx.stats()["stream"]
    assert (stats.consumers, stats.buffer_depth) == (0, 0)
    assert stats.connected  # leaving subscriptions does not close the stream


def _stream_quote(q: Quote) -> Quote:
    return Quote(symbol=q.symbol, bid=q.bid, ask=q.ask, time=q.time)


# ------------------------------------------------------ used out of place


async def test_iterating_outside_the_block_raises_session_closed(
    sim: Simulator, fx: AsyncFxSocket, account: Account
) -> None:
    quotes = fx.quotes("EURUSD", account=account.id)
    events = fx.events(account=account.id)
    with anyio.fail_after(WAIT):
        for sub in (quotes, events):  # not entered yet
            with pytest.raises(SessionClosedError):
                await anext(sub)
        with pytest.raises(SessionClosedError):
            quotes.batches()

        async with quotes, events:
            pass
        for sub in (quotes, events):  # left
            with pytest.raises(SessionClosedError):
                await anext(sub)
        with pytest.raises(SessionClosedError):
            quotes.batches()


async def test_a_closed_session_refuses_streaming(sim: Simulator) -> None:
    async with make_streaming_client(sim) as session:
        pass
    with pytest.raises(SessionClosedError):
        session.quotes("EURUSD", account="any")
    with pytest.raises(SessionClosedError):
        session.events(account="any")
    with pytest.raises(SessionClosedError):
        await session.connect_stream()
    assert session.stats()["stream"] is None
