"""``coverage(dir)`` from journals written here, and the recovery of a torn part.

The journals are written with the archive's own ``Journal`` (as a writer
does), with times chosen so that every span and gap is known exactly.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from fxsocket_async.collect import coverage, parse_duration
from fxsocket_async.collect._journal import (
    End,
    FileSealed,
    GapRecord,
    Journal,
    Listening,
    SessionStart,
    read_journal,
)
from fxsocket_async.collect._layout import Layout, PartName
from fxsocket_async.collect._timefmt import datetime_ns, iso_ns

S = 1_000_000_000
T0 = 1_767_600_000 * S  # 2026-01-05 08:00:00 UTC


def write_session(root: Path, session: str, *records: object, close: bool = True) -> Journal:
    journal = Journal(Layout(root).journal(session))
    for record in records:
        journal.append(record)  # type: ignore[arg-type]
    if close:
        journal.close()
    return journal


def file_record(symbol: str, first: int, last: int, rows: int = 10) -> FileSealed:
    return FileSealed(
        path=f"ticks/symbol={symbol}/x.parquet",
        account="a",
        symbol=symbol,
        rows=rows,
        first=first,
        last=last,
        first_seq=0,
        last_seq=rows - 1,
        last_tick=(last, 1.0, 1.1),
    )


def test_a_session_covers_from_its_subscription_to_its_end_minus_its_gaps(tmp_path: Path) -> None:
    write_session(
        tmp_path,
        "s1",
        SessionStart(session="s1", started=T0, format="parquet", subscriptions=[("a", ["EURUSD"])]),
        Listening(account="a", symbols=["EURUSD"], at=T0 + 1 * S),
        file_record("EURUSD", T0 + 1 * S, T0 + 9 * S),
        GapRecord(
            account="a",
            symbol="EURUSD",
            start=T0 + 4 * S,
            end=T0 + 5 * S,
            reason="reconnect",
            detail="lost",
        ),
        End(ended=T0 + 10 * S, how="stopped"),
    )
    report = coverage(tmp_path)
    (symbol,) = report.symbols
    assert [(s.start, s.end) for s in symbol.covered] == [
        (T0 + 1 * S, T0 + 4 * S),
        (T0 + 5 * S, T0 + 10 * S),
    ]
    assert [(g.start, g.end, g.reason, g.detail) for g in symbol.gaps] == [
        (T0 + 4 * S, T0 + 5 * S, "reconnect", "lost")
    ]
    assert symbol.ticks == 10
    assert report.to_json()["symbols"][0]["gaps"][0]["start"] == iso_ns(T0 + 4 * S)


def test_time_between_sessions_without_a_recorded_gap_is_not_collecting(tmp_path: Path) -> None:
    for name, start, end in (("s1", T0, T0 + 5 * S), ("s2", T0 + 8 * S, T0 + 9 * S)):
        write_session(
            tmp_path,
            name,
            SessionStart(
                session=name, started=start, format="parquet", subscriptions=[("a", ["GBPUSD"])]
            ),
            End(ended=end, how="stopped"),
        )
    (symbol,) = coverage(tmp_path).symbols
    assert [(g.start, g.end, g.reason) for g in symbol.gaps] == [
        (T0 + 5 * S, T0 + 8 * S, "not collecting")
    ]
    assert [(s.start, s.end) for s in symbol.covered] == [
        (T0, T0 + 5 * S),
        (T0 + 8 * S, T0 + 9 * S),
    ]


def test_a_crashed_session_ends_at_its_last_tick_and_a_running_one_is_running(
    tmp_path: Path,
) -> None:
    write_session(
        tmp_path,
        "s1",
        SessionStart(session="s1", started=T0, format="parquet"),
        file_record("EURUSD", T0, T0 + 3 * S),
    )
    running = write_session(
        tmp_path,
        "s2",
        SessionStart(session="s2", started=T0 + 4 * S, format="parquet"),
        close=False,  # its lock held: as a writer that still runs
    )
    try:
        report = coverage(tmp_path)
    finally:
        running.close()
    assert [(s.session, s.how, s.ended) for s in report.sessions] == [
        ("s1", "unfinished", T0 + 3 * S),
        ("s2", "running", None),
    ]
    assert report.sessions[0].missing == ("ticks/symbol=EURUSD/x.parquet",)


def test_no_archive_is_a_file_not_found_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no archive"):
        coverage(tmp_path)


def test_a_torn_journal_line_is_skipped(tmp_path: Path) -> None:
    write_session(tmp_path, "s1", SessionStart(session="s1", started=T0, format="parquet"))
    path = Layout(tmp_path).journal("s1")
    with path.open("ab") as f:
        f.write(b'{"type":"gap","account":"a","sym')  # a kill -9 mid-write
    journal = Journal(path)  # a later writer appends after a fresh line
    journal.append(End(ended=T0 + S, how="crashed"))
    journal.close()
    assert [type(r).__name__ for r in read_journal(path)] == ["SessionStart", "End"]


def test_a_torn_spool_is_recovered_up_to_its_last_whole_batch(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    from fxsocket_async.collect._parts import Part, next_midnight
    from fxsocket_async.collect._protocol import Tick
    from fxsocket_async.collect._recovery import recover_session
    from fxsocket_async.types import Quote

    layout = Layout(tmp_path)
    write_session(tmp_path, "s1", SessionStart(session="s1", started=T0, format="parquet"))
    start = datetime(2026, 1, 5, 8, tzinfo=UTC)
    part = Part(
        layout,
        PartName("EURUSD", "2026-01-05", "s1", 1),
        "acc",
        "parquet",
        T0,
        next_midnight(start),
    )
    for batch in range(3):
        quotes = [
            Quote(symbol="EURUSD", bid=1 + i / 1e4, ask=1.1, time=start + timedelta(seconds=i))
            for i in range(batch * 10, batch * 10 + 10)
        ]
        # As the writer holds them: decoded from what a sink sends.
        ticks = msgspec.msgpack.decode(msgspec.msgpack.encode(quotes), type=list[Tick])
        part.add(ticks, T0 + batch * S, (batch * 10, 10))
        part.flush()
    size = part.spool_path.stat().st_size
    os.truncate(part.spool_path, size - 7)  # the third batch torn by a crash
    assert recover_session(layout, "s1", "parquet", 1000) == 1
    sealed = layout.sealed(PartName("EURUSD", "2026-01-05", "s1", 1), "parquet")
    import pyarrow.parquet as pq

    got = pq.read_table(sealed)
    assert got["seq"].to_pylist() == list(range(20))
    times = got["broker_time"].cast(pa.int64()).to_pylist()
    assert times == [datetime_ns(start + timedelta(seconds=i)) for i in range(20)]
    assert set(got["account"].to_pylist()) == {"acc"}
    assert got.schema.field("broker_time").type == pa.timestamp("ns")
    assert not part.spool_path.exists()
    (session,) = coverage(tmp_path).sessions
    assert (session.how, session.ticks, session.ended) == ("crashed", 20, T0 + S)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("30s", 30), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("90", 90)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-1s", "1x", "h", "1h30", "inf"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message differs
        parse_duration(text)


def test_nanosecond_times_are_exact() -> None:
    moment = datetime(2026, 1, 5, 10, 0, 0, 123456, tzinfo=UTC)
    assert datetime_ns(moment) == 1_767_607_200_123_456_000
    assert iso_ns(1_767_607_200_123_456_789) == "2026-01-05T10:00:00.123456789Z"
