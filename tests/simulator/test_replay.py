"""The simulator replaying an archive: the reader, the pacing, and a real client over loopback.

Archives are written by the real collector (``ParquetSink``, ``CsvSink``,
``JsonlSink``) or, for the reader's corner cases, with pyarrow in the
documented layout. Pacing runs on a fake clock; everything a client sees
is replayed at ``speed="max"``, held where a test needs it with
``sim.replay.pause_at()``, so nothing waits on real time.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import anyio.lowlevel
import pytest

from fxsocket_async import AsyncFxSocket, StreamPolicy, always_open
from fxsocket_async._core.codec import encode
from fxsocket_async._core.events import Subscribe
from fxsocket_async.collect import CsvSink, JsonlSink, ParquetSink
from fxsocket_async.simulator import Replay, ReplayError, ReplaySpec, Simulator
from fxsocket_async.simulator._backfill import Backfill
from fxsocket_async.simulator._replay import Streams
from fxsocket_async.simulator._replay_archive import load_archive
from fxsocket_async.simulator._replay_spec import parse_speed
from fxsocket_async.types import Quote
from tests.helpers.sim import FULL_KEY, WAIT, make_client, next_login, sim_config

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
SYMBOLS = ("EURUSD", "USDJPY")
#: Reconnect in tens of milliseconds; no liveness deadlines (the replay is still at times).
STREAM = StreamPolicy(
    ping_interval=60.0,
    dead_after=60.0,
    quote_silence=None,
    market_open=always_open,
    reconnect_initial=0.02,
    reconnect_max=0.1,
    subscribe_timeout=WAIT,
)


def recorded(count: int = 60) -> list[Quote]:
    """Two symbols, alternating, 2.5 s apart (three M1 bars), with varied prices and spreads."""
    ticks = []
    for i in range(count):
        symbol = SYMBOLS[i % 2]
        wiggle = (i * 7) % 13 - 6
        if symbol == "EURUSD":
            bid = round(1.085 + wiggle * 1e-5, 5)
            ask = round(bid + (6 + i % 5) * 1e-5, 5)
        else:
            bid = round(150.0 + wiggle * 1e-3, 3)
            ask = round(bid + (10 + i % 4) * 1e-3, 3)
        ticks.append(Quote(symbol=symbol, bid=bid, ask=ask, time=T0 + timedelta(seconds=2.5 * i)))
    return ticks


def key(quote: Quote) -> tuple[str, float, float, datetime]:
    return (quote.symbol, quote.bid, quote.ask, quote.time)


async def collect(root: Path, ticks: list[Quote], sink: type[Any] = ParquetSink) -> Path:
    """An archive of ``ticks`` written by the real collector's sink."""
    async with sink(root, account="acc-1") as writer:
        await writer.write(ticks)
    return root


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collected archive most tests replay (written once per module)."""
    root = tmp_path_factory.mktemp("archive")
    return anyio.run(collect, root, recorded(), backend="asyncio")


def write_part(root: Path, name: str, rows: list[tuple[Any, ...]], *, account: str = "a") -> None:
    """A part in the documented layout, written with pyarrow: rows of
    (symbol, bid, ask, broker_ns, receive_ns, seq); ``name`` is its path under ticks/."""
    path = root / "ticks" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "symbol": pa.array(columns[0], pa.string()),
            "bid": pa.array(columns[1], pa.float64()),
            "ask": pa.array(columns[2], pa.float64()),
            "broker_time": pa.array(columns[3], pa.int64()).cast(pa.timestamp("ns")),
            "receive_time": pa.array(columns[4], pa.int64()).cast(pa.timestamp("ns", tz="UTC")),
            "account": pa.array([account] * len(rows), pa.string()),
            "session": pa.array(["s"] * len(rows), pa.string()),
            "seq": pa.array(columns[5], pa.int64()),
        }
    )
    pq.write_table(table, path)


# ------------------------------------------------------------------- reader


def test_the_reader_merges_files_and_symbols_on_broker_time_and_skips_unsealed_parts(
    tmp_path: Path,
) -> None:
    s = 1_000_000_000
    write_part(
        tmp_path,
        "symbol=EURUSD/date=2026-01-05/s-00001.parquet",
        [("EURUSD", 1.1, 1.2, 1 * s, 10, 0), ("EURUSD", 1.1, 1.3, 4 * s, 40, 3)],
    )
    write_part(
        tmp_path,
        "symbol=EURUSD/date=2026-01-06/s-00002.parquet",
        [("EURUSD", 1.4, 1.5, 9 * s, 90, 6)],
    )
    # Same broker time as EURUSD's first: the receive time, then seq, decide.
    write_part(
        tmp_path,
        "symbol=GBPUSD/date=2026-01-05/s-00001.parquet",
        [("GBPUSD", 1.25, 1.26, 1 * s, 10, 1), ("GBPUSD", 1.27, 1.28, 1 * s, 5, 2)],
    )
    write_part(
        tmp_path, "symbol=GBPUSD/date=2026-01-05/.s-00003.parquet", [("GBPUSD", 9, 9, s, 1, 9)]
    )
    write_part(tmp_path, "_tmp/x.parquet", [("GBPUSD", 9, 9, s, 1, 9)])
    got = load_archive(tmp_path)
    ticks = [tick for chunk in got.chunks(2) for tick in chunk]
    assert ticks == [
        ("GBPUSD", 1.27, 1.28, 1 * s),
        ("EURUSD", 1.1, 1.2, 1 * s),
        ("GBPUSD", 1.25, 1.26, 1 * s),
        ("EURUSD", 1.1, 1.3, 4 * s),
        ("EURUSD", 1.4, 1.5, 9 * s),
    ]
    assert got.symbols == ("EURUSD", "GBPUSD")
    assert (got.files, len(got.skipped), got.count) == (3, 2, 5)
    assert (got.first_ns, got.last_ns) == (1 * s, 9 * s)
    assert got.stats["EURUSD"].first_bid == 1.1
    assert got.stats["GBPUSD"].digits == 2
    assert got.account == "a"
    assert [t[0] for c in load_archive(tmp_path, symbols=["GBPUSD"]).chunks(9) for t in c] == [
        "GBPUSD",
        "GBPUSD",
    ]


@pytest.mark.parametrize("sink", [CsvSink, JsonlSink], ids=["csv", "jsonl"])
async def test_csv_and_jsonl_archives_read_as_parquet_ones_do(
    tmp_path: Path, archive: Path, sink: type[Any]
) -> None:
    await collect(tmp_path, recorded(), sink)
    got = load_archive(tmp_path)
    want = load_archive(archive)
    assert list(got.chunks(1000)) == list(want.chunks(1000))
    assert got.stats == want.stats


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no ticks", "no ticks/ folder"),
        ("only unsealed", "holds no sealed tick (1 unsealed file(s) skipped"),
        ("two accounts", "holds ticks of 2 accounts (a, b): pick one"),
        ("unknown symbol", "symbol(s) XAUUSD not in the archive; it has EURUSD"),
        ("nan", "without a positive finite bid"),
        ("crossed", "an ask at least the bid"),
    ],
)
def test_an_archive_that_cannot_be_replayed_is_refused_clearly(
    tmp_path: Path, setup: str, message: str
) -> None:
    good = [("EURUSD", 1.1, 1.2, 1, 1, 0)]
    part = "symbol=EURUSD/date=2026-01-05/s-00001.parquet"
    symbols = None
    if setup == "only unsealed":
        write_part(tmp_path, "symbol=EURUSD/date=2026-01-05/.s-00001.parquet", good)
    elif setup == "two accounts":
        write_part(tmp_path, part, good, account="a")
        write_part(tmp_path, "symbol=EURUSD/date=2026-01-05/s-00002.parquet", good, account="b")
        assert load_archive(tmp_path, account="b").account == "b"  # picking one works
    elif setup == "unknown symbol":
        write_part(tmp_path, part, good)
        symbols = ["XAUUSD"]
    elif setup == "nan":
        write_part(tmp_path, part, [("EURUSD", math.nan, 1.2, 1, 1, 0)])
    elif setup == "crossed":
        write_part(tmp_path, part, [("EURUSD", 1.3, 1.2, 1, 1, 0)])
    with pytest.raises(ReplayError) as caught:
        load_archive(tmp_path, symbols=symbols)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_without_pyarrow_the_refusal_names_the_extra(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with pytest.raises(ReplayError, match=r"pip install 'fxsocket-async\[collect\]'"):
        load_archive(archive)


def test_instruments_come_from_the_table_or_the_data_and_join_the_backfill(
    tmp_path: Path,
) -> None:
    s = 1_000_000_000
    write_part(
        tmp_path,
        "symbol=EURUSD/date=2026-01-05/s-00001.parquet",
        [("EURUSD", 1.085123, 1.085173, s, 1, 0), ("EURUSD", 1.0851, 1.0852, 2 * s, 2, 1)],
    )
    write_part(
        tmp_path,
        "symbol=US30/date=2026-01-05/s-00001.parquet",
        [("US30", 39000.5, 39002.0, s, 1, 2), ("US30", 39001.0, 39001.5, 2 * s, 2, 3)],
    )
    write_part(
        tmp_path,
        "symbol=NZDCAD/date=2026-01-05/s-00001.parquet",
        [("NZDCAD", 0.81234, 0.81254, s, 1, 4)],
    )
    replay = Replay.open(ReplaySpec(tmp_path), (), seed=3)
    with pytest.raises(ReplayError):
        Replay.open(ReplaySpec(tmp_path, symbols=("GBPUSD",)), (), seed=3)
    specs = {spec.name: spec for spec in Replay.open(ReplaySpec(tmp_path), _builtin(), 3).specs}
    eurusd = specs["EURUSD"]
    assert (eurusd.digits, eurusd.contract_size, eurusd.base, eurusd.quote) == (
        6,  # the data has six decimals: more than the table's five
        100_000,
        "EUR",
        "USD",
    )
    assert eurusd.spread_points == (50, 100)
    us30 = specs["US30"]
    assert (us30.digits, us30.contract_size, us30.base, us30.quote) == (1, 1, "US30", "USD")
    assert us30.spread_points == (5, 15)
    nzdcad = specs["NZDCAD"]
    assert (nzdcad.digits, nzdcad.contract_size, nzdcad.base, nzdcad.quote) == (
        5,
        100_000,
        "NZD",
        "CAD",
    )
    for spec in specs.values():
        first = replay.archive.stats[spec.name]
        mid = spec.start_price * math.exp(Backfill(spec, 3).log_mid(1.0))
        assert mid == pytest.approx((first.first_bid + first.first_ask) / 2, rel=1e-12)
    assert replay.opening["US30"] == (39000.5, 39002.0)


def _builtin() -> tuple[Any, ...]:
    from fxsocket_async.simulator import DEFAULT_SYMBOLS

    return DEFAULT_SYMBOLS


def test_replay_spec_checks_its_fields() -> None:
    assert parse_speed("max") == "max"
    assert parse_speed("10") == 10.0
    assert parse_speed("0.5") == 0.5
    for bad in ("0", "-1", "inf", "nan", "fast"):
        with pytest.raises(ValueError, match="positive number or max"):
            parse_speed(bad)
    assert ReplaySpec("d", speed="max").rate == math.inf
    with pytest.raises(ValueError, match="speed must be"):
        ReplaySpec("d", speed=0)
    with pytest.raises(ValueError, match="start must be one of now, subscribed"):
        ReplaySpec("d", start="later")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one symbol"):
        ReplaySpec("d", symbols=())


# ------------------------------------------------------------------- pacing


@dataclass
class FakeTime:
    """A clock that moves only when the replay sleeps on it."""

    now: float = 0.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)
        await anyio.lowlevel.checkpoint()


def paced(tmp_path: Path, times: list[float], **spec: Any) -> tuple[Replay, Simulator, FakeTime]:
    rows = [
        ("EURUSD", 1.1 + i * 1e-4, 1.2 + i * 1e-4, round(t * 1e9), i, i)
        for i, t in enumerate(times)
    ]
    write_part(tmp_path, "symbol=EURUSD/date=2026-01-05/s-00001.parquet", rows)
    replay_spec = ReplaySpec(tmp_path, **spec)
    sim = Simulator(sim_config(replay=replay_spec))  # never started: its market and hubs
    assert sim.replay is not None
    clock = FakeTime()
    replay = Replay(
        replay_spec,
        sim.replay.archive,
        sim.replay.specs,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
    )
    return replay, sim, clock


async def run_replay(replay: Replay, sim: Simulator, out: list[Any], clock: FakeTime) -> None:
    def served(quotes: list[Quote]) -> None:
        out.extend((clock.now, q) for q in quotes)

    streams = Streams(sim._hub, sim._terminals, 1000)
    with anyio.fail_after(WAIT):
        await replay.run(sim.market, served, streams)


async def test_ticks_are_due_at_their_broker_time_over_the_speed(tmp_path: Path) -> None:
    replay, sim, clock = paced(tmp_path, [100.0, 101.0, 101.0, 103.5, 110.0], speed=10)
    out: list[tuple[float, Quote]] = []
    await run_replay(replay, sim, out, clock)
    assert [at for at, _ in out] == pytest.approx([0.0, 0.1, 0.1, 0.35, 1.0])
    assert [q.time for _, q in out] == [
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=t)
        for t in (100.0, 101.0, 101.0, 103.5, 110.0)
    ]
    assert replay.finished
    assert replay.served == replay.position == 5
    assert replay.now() == out[-1][1].time
    assert sim.market.quote("EURUSD").bid == out[-1][1].bid  # the market stays at the last price


async def test_a_pause_is_left_out_of_the_pacing(tmp_path: Path) -> None:
    replay, sim, clock = paced(tmp_path, [0.0, 1.0, 2.0, 3.0], speed=1)
    replay.pause_at(2)
    out: list[tuple[float, Quote]] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run_replay, replay, sim, out, clock)
        await replay.wait_served(2, timeout=WAIT)
        with anyio.fail_after(WAIT):
            while not replay.paused:
                await anyio.lowlevel.checkpoint()
        clock.now += 100.0  # held this long
        replay.resume()
    assert [at for at, _ in out] == pytest.approx([0.0, 1.0, 102.0, 103.0])


async def test_a_loop_starts_again_with_times_shifted_by_the_span_and_an_interval(
    tmp_path: Path,
) -> None:
    replay, sim, clock = paced(tmp_path, [10.0, 12.0, 16.0], speed=2, loop=True)
    assert replay.period_ns == 9 * 10**9  # a span of 6 s and a mean interval of 3 s
    replay.pause_at(7)
    out: list[tuple[float, Quote]] = []
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run_replay, replay, sim, out, clock)
        await replay.wait_served(7, timeout=WAIT)
        assert (replay.loops, replay.position, replay.finished) == (2, 1, False)
        tasks.cancel_scope.cancel()
    seconds = [(q.time - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() for _, q in out]
    assert seconds == [10, 12, 16, 19, 21, 25, 28]
    assert [at for at, _ in out] == pytest.approx([(t - 10) / 2 for t in seconds])
    assert [q.bid for _, q in out] == [q.bid for _, q in out[:3]] * 2 + [out[0][1].bid]


# ------------------------------------------------------------- over the wire


@asynccontextmanager
async def replaying(archive: Path, **spec: Any) -> AsyncIterator[tuple[Simulator, str]]:
    """A started simulator replaying ``archive`` (held until subscribed) and a connected account."""
    options: dict[str, Any] = {"speed": "max", "start": "subscribed", **spec}
    async with Simulator(sim_config(replay=ReplaySpec(archive, **options))) as sim:
        account = sim.link_account("Sim-Demo", next_login())
        yield sim, account.id


async def receive(fx: AsyncFxSocket, account: str, count: int) -> list[Quote]:
    got: list[Quote] = []
    async with fx.quotes(*SYMBOLS, account=account, mode="all", buffer=10_000) as quotes:
        with anyio.fail_after(WAIT):
            async for quote in quotes:
                got.append(quote)
                if len(got) == count:
                    break
    return got


def bars_of(ticks: list[Quote], symbol: str) -> dict[datetime, tuple[float, float, float, int]]:
    """M1 bid bars of ``ticks``: start -> (high, low, close, ticks)."""
    bars: dict[datetime, list[Any]] = {}
    for tick in ticks:
        if tick.symbol != symbol:
            continue
        start = tick.time.replace(second=0, microsecond=0)
        bar = bars.setdefault(start, [tick.bid, tick.bid, tick.bid, 0])
        bar[0], bar[1], bar[2], bar[3] = (
            max(bar[0], tick.bid),
            min(bar[1], tick.bid),
            tick.bid,
            bar[3] + 1,
        )
    return {start: (h, low, c, n) for start, (h, low, c, n) in bars.items()}


@pytest.mark.dialects("reference", "terminal")
async def test_a_client_gets_exactly_the_recorded_ticks_and_trades_at_their_prices(
    archive: Path, dialect: str
) -> None:
    ticks = recorded()
    async with replaying(archive) as (sim, account), make_client(sim, stream=STREAM) as fx:
        assert sim.replay is not None
        sim.replay.pause_at(25)
        trading = fx.account(account)
        async with anyio.create_task_group() as tasks:
            got: list[Quote] = []

            async def read() -> None:
                got.extend(await receive(fx, account, len(ticks)))

            tasks.start_soon(read)
            await sim.replay.wait_served(25, timeout=WAIT)
            # Mid-replay, an order fills at the last recorded ask, at its broker time.
            last = next(t for t in reversed(ticks[:25]) if t.symbol == "EURUSD")
            order = await trading.orders.create("EURUSD", "BUY", 0.1)
            assert order.price == last.ask
            (position,) = await trading.positions()
            assert position.opened_at in (None, last.time)
            sim.replay.resume()
        await sim.replay.wait_finished(timeout=WAIT)
        assert [key(q) for q in got] == [key(t) for t in ticks]
        for symbol in SYMBOLS:
            final = next(t for t in reversed(ticks) if t.symbol == symbol)
            quote = await trading.quote(symbol)
            assert (quote.bid, quote.ask, quote.time) == (final.bid, final.ask, final.time)
            want = bars_of(ticks, symbol)
            first, *later = sorted(want)
            # A range, not the last N bars: without a start, the terminal dialect reaches
            # back from the client's own clock (and its route serves a range's first bars).
            candles = await trading.candles(symbol, "M1", start=first, end=final.time)
            assert [c.time for c in candles] == sorted(want)
            by_time = {c.time: c for c in candles}
            for start in later:  # bars wholly made of replayed ticks
                c = by_time[start]
                assert (c.high, c.low, c.close, c.volume) == want[start]
                assert c.open == next(
                    t.bid for t in ticks if t.symbol == symbol and t.time >= start
                )
            head = by_time[first]  # the backfill's part of its bar, then the first ticks
            assert head.close == want[first][2]
            assert head.high >= want[first][0]
            assert head.low <= want[first][1]
            assert head.volume >= want[first][3]
        order = await trading.orders.create("USDJPY", "SELL", 0.1)
        assert order.price == next(t for t in reversed(ticks) if t.symbol == "USDJPY").bid


@pytest.mark.dialects("reference", "terminal")
async def test_loop_serves_the_archive_again_later_in_time(archive: Path, dialect: str) -> None:
    ticks = recorded()
    async with replaying(archive, loop=True) as (sim, account), make_client(sim) as fx:
        assert sim.replay is not None
        sim.replay.pause_at(len(ticks) + 10)
        got = await receive(fx, account, len(ticks) + 10)
        period = timedelta(microseconds=sim.replay.period_ns // 1000)
        assert period == timedelta(seconds=2.5 * len(ticks))  # span 147.5 s + 2.5 s
        again = [(t.symbol, t.bid, t.ask, t.time + period) for t in ticks[:10]]
        assert [key(q) for q in got] == [key(t) for t in ticks] + again
        assert all(a.time < b.time for a, b in itertools.pairwise(got))
        assert sim.replay.loops == 1
        assert not sim.replay.finished


@pytest.mark.dialects("reference", "terminal")
async def test_a_dropped_socket_mid_replay_reconnects_and_the_quotes_resume(
    archive: Path, dialect: str
) -> None:
    ticks = recorded()
    async with replaying(archive) as (sim, account), make_client(sim, stream=STREAM) as fx:
        assert sim.replay is not None
        sim.replay.pause_at(20)
        got: list[Quote] = []
        async with fx.quotes(*SYMBOLS, account=account, mode="all") as quotes:
            async with fx.connection(account).watch() as states:
                with anyio.fail_after(WAIT):
                    async for quote in quotes:
                        got.append(quote)
                        if len(got) == 20:
                            break
                    sim.faults.drop_connections()
                    seen = []
                    async for state in states:
                        seen.append(state.state)
                        if "reconnecting" in seen and state.state == "live":
                            break
            await sim.wait_for_ws_connections(1, timeout=WAIT)  # the old one is gone
            await sim.wait_for_subscriptions(
                lambda subs: (
                    {s for _, c, names in subs if c == "quotes" for s in names} >= set(SYMBOLS)
                ),
                timeout=WAIT,
            )
            sim.replay.resume()
            with anyio.fail_after(WAIT):
                async for quote in quotes:
                    got.append(quote)
                    if len(got) == len(ticks):
                        break
        assert [key(q) for q in got] == [key(t) for t in ticks]


async def test_the_same_archive_and_seed_give_the_same_frames(archive: Path) -> None:
    async def frames() -> list[Any]:
        spec = ReplaySpec(archive, speed="max", start="subscribed")
        config = sim_config(replay=spec, terminal=False, seed=11)
        async with (
            Simulator(config) as sim,
            aiohttp.ClientSession() as http,
            http.ws_connect(sim.ws_url, headers={"Authorization": f"Bearer {FULL_KEY}"}) as ws,
        ):
            account = sim.link_account("Sim-Demo", 5555)
            subscribe = Subscribe(id=1, channel="quotes", account_id=account.id, symbols=[*SYMBOLS])
            await ws.send_str(encode(subscribe).decode())
            texts = []
            with anyio.fail_after(WAIT):
                for _ in range(10 * len(recorded())):
                    texts.append(await ws.receive_str())
                    if sum('"quote"' in t for t in texts) == len(recorded()):
                        break
            return [json.loads(t) for t in texts]

    first, second = await frames(), await frames()
    assert first == second
    assert sum(1 for f in first if f.get("type") == "quote") == len(recorded())


def test_an_archive_shorter_than_any_pause_still_has_a_period(tmp_path: Path) -> None:
    write_part(
        tmp_path, "symbol=EURUSD/date=2026-01-05/s-00001.parquet", [("EURUSD", 1, 1, 5, 1, 0)]
    )
    sim = Simulator(sim_config(replay=ReplaySpec(tmp_path, loop=True)))
    assert sim.replay is not None
    assert sim.replay.period_ns == 10**9
    assert sim.market.started_at == datetime(1970, 1, 1, tzinfo=UTC)


async def test_an_idempotency_key_outlives_a_replay_racing_through_hours(tmp_path: Path) -> None:
    hour = 3600 * 10**9
    rows = [("EURUSD", 1.1, 1.1001, i * hour, i, i) for i in range(3)]
    write_part(tmp_path, "symbol=EURUSD/date=1970-01-01/s-00001.parquet", rows)
    spec = ReplaySpec(tmp_path, speed="max")
    async with Simulator(sim_config(replay=spec, terminal=False)) as sim:
        account = sim.link_account("Sim-Demo", next_login())
        assert sim.replay is not None
        sim.replay.pause_at(1)
        async with make_client(sim, dialect="reference") as fx:
            trading = fx.account(account.id)
            await sim.replay.wait_served(1, timeout=WAIT)
            first = await trading.orders.create("EURUSD", "BUY", 0.1, idempotency_key="once")
            sim.replay.resume()
            await sim.replay.wait_finished(timeout=WAIT)
            assert sim.replay.now() - datetime(1970, 1, 1, tzinfo=UTC) == timedelta(hours=2)
            again = await trading.orders.create("EURUSD", "BUY", 0.1, idempotency_key="once")
    assert again.id == first.id
    assert len(sim.engine.registry.find("default", account.id).orders) == 1
