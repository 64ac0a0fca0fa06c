"""The sinks through their public API: real writer processes, real files, read back by pyarrow.

Batches are made here (no server): what a test writes is exactly what it
expects to read, so every count and every value is checked.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fxsocket_async.collect import (
    COLLECT_EXTRA,
    CsvSink,
    JsonlSink,
    ParquetSink,
    SinkError,
    coverage,
)
from fxsocket_async.types import Quote
from tests.helpers.poll import poll

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
ds = pytest.importorskip("pyarrow.dataset")

pytestmark = pytest.mark.anyio

START = datetime(2026, 1, 5, 23, 59, 59, 600_000, tzinfo=UTC)


def quotes(symbols: tuple[str, ...], count: int, *, start: datetime = START) -> list[Quote]:
    """``count`` ticks round-robin over ``symbols``, 1 ms apart, with distinct prices."""
    return [
        Quote(
            symbol=symbols[i % len(symbols)],
            bid=1.0 + i * 1e-5,
            ask=1.0001 + i * 1e-5,
            time=start + timedelta(milliseconds=i),
        )
        for i in range(count)
    ]


def table(root: Path) -> pa.Table:
    dataset = ds.dataset(root / "ticks", format="parquet", partitioning="hive")
    return dataset.to_table().sort_by([("receive_time", "ascending"), ("seq", "ascending")])


def ns(value: datetime) -> int:
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) * 1000


async def test_parquet_holds_every_tick_with_typed_columns(tmp_path: Path) -> None:
    sent = quotes(("EURUSD", "GBPUSD", "XAUUSD"), 900)
    async with ParquetSink(tmp_path, account="acc-1") as sink:
        for i in range(0, len(sent), 128):
            await sink.write(sent[i : i + 128])
    stats = sink.stats()
    assert stats.sent == 900
    assert {(c.symbol, c.received, c.written) for c in stats.counts} == {
        ("EURUSD", 300, 300),
        ("GBPUSD", 300, 300),
        ("XAUUSD", 300, 300),
    }
    got = table(tmp_path)
    assert got.num_rows == 900
    assert got["seq"].to_pylist() == list(range(900))
    assert got["symbol"].to_pylist() == [q.symbol for q in sent]
    assert got["bid"].to_pylist() == [q.bid for q in sent]
    assert got["ask"].to_pylist() == [q.ask for q in sent]
    assert got["broker_time"].cast(pa.int64()).to_pylist() == [ns(q.time) for q in sent]
    assert set(got["account"].to_pylist()) == {"acc-1"}
    assert set(got["session"].to_pylist()) == {sink.session}
    assert got.schema.field("receive_time").type == pa.timestamp("ns", tz="UTC")
    # The ticks cross the broker's midnight: two dates per symbol.
    assert sorted(set(got["date"].to_pylist())) == ["2026-01-05", "2026-01-06"]
    assert stats.files == 6


async def test_rotation_seals_readable_files_while_the_sink_runs(tmp_path: Path) -> None:
    async with ParquetSink(tmp_path, rotate=0.2, account="a") as sink:
        await sink.write(quotes(("EURUSD",), 50, start=datetime(2026, 2, 2, tzinfo=UTC)))
        await poll(lambda: sink.stats().files >= 1, timeout=10, what="a file sealed by rotation")
        (sealed,) = sorted((tmp_path / "ticks").rglob("*.parquet"))
        assert pq.read_table(sealed).num_rows == 50  # whole while the sink still runs
        await sink.write(quotes(("EURUSD",), 10, start=datetime(2026, 2, 2, 1, tzinfo=UTC)))
    assert table(tmp_path).num_rows == 60
    assert sink.stats().files == 2


async def test_max_file_mb_starts_new_files(tmp_path: Path) -> None:
    sent = quotes(("EURUSD",), 8_000, start=datetime(2026, 2, 2, tzinfo=UTC))
    async with ParquetSink(tmp_path, max_file_mb=0.02, account="a") as sink:
        for i in range(0, len(sent), 1000):
            await sink.write(sent[i : i + 1000])
            await poll(
                lambda i=i: sum(c.written for c in sink.stats().counts) >= i + 1000,
                timeout=10,
                what="the batch on disk",
            )
    assert sink.stats().files > 3
    assert table(tmp_path)["bid"].to_pylist() == [q.bid for q in sent]


@pytest.mark.parametrize("sink_class", [CsvSink, JsonlSink])
async def test_text_formats_hold_the_same_ticks(tmp_path: Path, sink_class: type) -> None:
    sent = quotes(("EURUSD", "GBPUSD"), 100, start=datetime(2026, 2, 2, tzinfo=UTC))
    async with sink_class(tmp_path, account="a") as sink:
        await sink.write(sent)
    files = sorted((tmp_path / "ticks").rglob(f"*.{sink_class.format}"))
    assert len(files) == 2
    if sink_class is CsvSink:
        import pyarrow.csv as reader
    else:
        import pyarrow.json as reader
    read = reader.read_json if sink_class is JsonlSink else reader.read_csv
    rows = pa.concat_tables([read(f) for f in files])
    assert sorted(rows["bid"].to_pylist()) == sorted(q.bid for q in sent)
    assert sorted(rows["seq"].to_pylist()) == list(range(100))


async def test_an_archive_is_continued_only_with_resume(tmp_path: Path) -> None:
    first = quotes(("EURUSD",), 10, start=datetime(2026, 2, 2, tzinfo=UTC))
    async with ParquetSink(tmp_path, account="a") as sink:
        await sink.write(first)
    with pytest.raises(FileExistsError, match="resume"):
        async with ParquetSink(tmp_path, account="a"):
            pass
    later = quotes(("EURUSD",), 5, start=datetime(2026, 2, 2, 0, 1, tzinfo=UTC))
    async with ParquetSink(tmp_path, account="a", resume=True) as resumed:
        # A server that repeats the last quote on a new subscription: skipped, once.
        await resumed.write([first[-1], *later])
    assert resumed.stats().duplicates == 1
    assert resumed.stats().restart_gaps == 1
    got = table(tmp_path)
    assert got["bid"].to_pylist() == [q.bid for q in first + later]
    (symbol,) = coverage(tmp_path).symbols
    assert [g.reason for g in symbol.gaps] == ["restart"]
    assert [s.how for s in coverage(tmp_path).sessions] == ["stopped", "stopped"]


async def test_after_resumed_a_repeat_of_the_last_tick_is_skipped(tmp_path: Path) -> None:
    sent = quotes(("EURUSD", "GBPUSD"), 10, start=datetime(2026, 2, 2, tzinfo=UTC))
    async with ParquetSink(tmp_path, account="a") as sink:
        await sink.write(sent)
        await sink.resumed()
        await sink.write([sent[-2], sent[-1]])  # each its symbol's last tick again
        await sink.write([sent[-1]])  # checked once: this one is new data now
    assert sink.stats().duplicates == 2
    assert table(tmp_path).num_rows == 11


async def test_gaps_are_recorded_beside_the_ticks(tmp_path: Path) -> None:
    start = datetime(2026, 2, 2, tzinfo=UTC)
    async with ParquetSink(tmp_path, account="a") as sink:
        await sink.listening(["EURUSD"])
        await sink.write(quotes(("EURUSD",), 3, start=start))
        await sink.gap(start, start + timedelta(seconds=2), "reconnect", symbols=["EURUSD"])
    gaps = pq.read_table(tmp_path / "gaps" / f"{sink.session}.parquet")
    assert gaps["reason"].to_pylist() == ["reconnect"]
    assert gaps["start"].cast(pa.int64()).to_pylist() == [ns(start)]
    assert gaps["end"].cast(pa.int64()).to_pylist() == [ns(start) + 2_000_000_000]
    sessions = pq.read_table(tmp_path / "sessions" / f"{sink.session}.parquet")
    assert sessions["how"].to_pylist() == ["stopped"]
    assert sessions["ticks"].to_pylist() == [3]


async def test_a_writer_that_cannot_write_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "ticks").write_text("not a folder")
    with pytest.raises(SinkError, match="writer process failed"):
        async with ParquetSink(tmp_path, account="a") as sink:
            await sink.write(quotes(("EURUSD",), 20_000))  # a flush: its folder cannot be made


async def test_without_pyarrow_a_sink_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ModuleNotFoundError, match=COLLECT_EXTRA.replace("[", r"\[")):
        async with ParquetSink(tmp_path):
            pass
