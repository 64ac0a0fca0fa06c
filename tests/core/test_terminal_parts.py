"""Small parts the terminal dialect brought: volume limits, state buffers, summed stats."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest

from fxsocket_async import ConsumerOverflowError, ValidationError
from fxsocket_async._core.validation import check_volume_spec
from fxsocket_async._stream.fanout import BarBuffer, LatestValue
from fxsocket_async._stream.stats import combined
from fxsocket_async.types import Bar, Candle, StreamStats

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 4, 2, 14, 0, tzinfo=UTC)


# ------------------------------------------------------------------ volumes


@pytest.mark.parametrize("volume", [0.01, 0.02, 0.5, 1.0, 100.0, 0.1 + 0.2])
def test_volumes_within_the_spec_pass(volume: float) -> None:
    check_volume_spec("EURUSD", volume, 0.01, 100.0, 0.01)


@pytest.mark.parametrize(
    ("volume", "says"),
    [
        (0.001, "below EURUSD's minimum of 0.01 lots"),
        (150.0, "above EURUSD's maximum of 100.0 lots"),
        (0.015, "use 0.01 or 0.02"),
        (1.234, "use 1.23 or 1.24"),
    ],
)
def test_volumes_outside_the_spec_are_refused_saying_what_would_do(
    volume: float, says: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        check_volume_spec("EURUSD", volume, 0.01, 100.0, 0.01)
    assert caught.value.code == "invalid_volume"
    assert says in caught.value.message


def test_a_step_counts_from_the_minimum_and_zero_limits_mean_unstated() -> None:
    check_volume_spec("XAUUSD", 0.15, 0.05, 0.0, 0.1)  # 0.05 + 0.1
    with pytest.raises(ValidationError):
        check_volume_spec("XAUUSD", 0.1, 0.05, 0.0, 0.1)
    check_volume_spec("ANY", 1234.5678, 0.0, 0.0, 0.0)


# ------------------------------------------------------------------ buffers


def bar(minute: int, close: float) -> Bar:
    candle = Candle(
        time=T0.replace(minute=minute), open=1.0, high=1.1, low=0.9, close=close, volume=1
    )
    return Bar(symbol="EURUSD", timeframe="M1", candle=candle, account_id="a")


async def test_a_forming_bar_replaces_its_waiting_update_and_no_bar_is_skipped() -> None:
    buffer = BarBuffer(capacity=8)
    for minute, close in [(0, 1.01), (0, 1.02), (1, 1.03), (1, 1.04), (1, 1.05), (2, 1.06)]:
        buffer.push(bar(minute, close))
    with anyio.fail_after(5):
        got = [await buffer.get() for _ in range(3)]
    assert [(b.candle.time.minute, b.candle.close) for b in got] == [
        (0, 1.02),
        (1, 1.05),
        (2, 1.06),
    ]
    stats = buffer.stats()
    assert (stats.delivered, stats.conflated, stats.depth) == (3, 3, 0)


async def test_bars_that_pile_up_end_the_consumer_loudly() -> None:
    buffer = BarBuffer(capacity=2)
    for minute in range(3):
        buffer.push(bar(minute, 1.0))
    with anyio.fail_after(5), pytest.raises(ConsumerOverflowError):
        await buffer.get()
    assert buffer.stats().dropped == 1


async def test_a_state_consumer_reads_the_newest_and_counts_the_replaced() -> None:
    buffer = LatestValue()
    for state in ("a", "b", "c"):
        buffer.push(state)
    with anyio.fail_after(5):
        assert await buffer.get() == "c"
    buffer.push("d")
    with anyio.fail_after(5):
        assert await buffer.get() == "d"
    stats = buffer.stats()
    assert (stats.delivered, stats.conflated, stats.dropped, stats.depth) == (2, 2, 0, 0)
    buffer.close()
    with anyio.fail_after(5), pytest.raises(StopAsyncIteration):
        await buffer.get()


# -------------------------------------------------------------------- stats


def stream_stats(state: str, consumers: int, **counts: int) -> StreamStats:
    values = dict.fromkeys(
        ("frames", "bytes", "decode_errors", "unknown_events", "reconnects", "gaps"), 0
    )
    values.update(
        recovered_events=0, conflated=0, dropped=0, buffer_depth=0, server_dropped=0, notices=0
    )
    values.update(counts)
    return StreamStats(
        connected=state == "live",
        state=state,
        consumers=consumers,
        newest_quote_age=None,
        **values,
    )


def test_every_socket_is_summed_and_the_worst_busy_state_shown() -> None:
    shared = stream_stats("idle", 0, frames=1)
    terminal_a = stream_stats("live", 2, frames=10, dropped=1, server_dropped=5)
    terminal_b = stream_stats("reconnecting", 1, frames=3, reconnects=2)
    total = combined([shared, terminal_a, terminal_b])
    assert total is not None
    assert (total.frames, total.dropped, total.server_dropped, total.reconnects) == (14, 1, 5, 2)
    assert (total.state, total.connected, total.consumers) == ("reconnecting", False, 3)
    assert combined([shared]) is shared
    assert combined([]) is None
