"""``fxsocket-async collect`` as a user runs it: a subprocess against a simulator, the
archive read back with pyarrow.

What must hold: the files hold exactly the ticks delivered, per symbol in
order, never twice; a kill -9 leaves every finished file readable and the
next ``--resume`` recovers the part in progress and records the hole; a
severed stream is a gap; Ctrl-C and SIGTERM seal the files and exit 0.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig
from tests.helpers.poll import poll

from .helpers import (
    SYMBOLS,
    WAIT,
    cli,
    cli_process,
    coverage_json,
    env_for,
    journal,
    listening,
    parquet_files,
    read_ticks,
    simulator_process,
    spooled_receive_times,
    spools,
    summary_counts,
)

pa = pytest.importorskip("pyarrow")
pc = pytest.importorskip("pyarrow.compute")
pq = pytest.importorskip("pyarrow.parquet")

pytestmark = pytest.mark.anyio

KEY = "collect-key"
LINK = ("--link", "Sim-Demo:4242", "--provision-delay", "0")


def gap_end(entry: dict[str, Any]) -> int:
    from fxsocket_async.collect._recovery import _parse_iso_ns

    return _parse_iso_ns(entry["gaps"][0]["end"])


def _per_symbol(table: Any, symbol: str) -> Any:
    return table.filter(pc.equal(table["symbol"], symbol))


def _assert_in_order_and_unique(rows: Any) -> None:
    # Rows come in arrival order (see read_ticks): ordered, and never twice.
    order = list(zip(rows["session"].to_pylist(), rows["seq"].to_pylist(), strict=True))
    assert len(set(order)) == len(order)
    broker = rows["broker_time"].cast(pa.int64()).to_pylist()
    received = rows["receive_time"].cast(pa.int64()).to_pylist()
    assert broker == sorted(broker)
    assert received == sorted(received)
    ticks = list(zip(broker, rows["bid"].to_pylist(), rows["ask"].to_pylist(), strict=True))
    assert len(set(ticks)) == len(ticks), "a tick was written twice"


def _quotes_of(subscriptions: list[tuple[str, str, tuple[str, ...]]]) -> bool:
    return any(
        channel == "quotes" and set(symbols) == set(SYMBOLS)
        for _, channel, symbols in subscriptions
    )


@pytest.mark.parametrize(
    ("option", "client"), [((), "picows"), (("--transport", "aiohttp"), "aiohttp")]
)
async def test_the_stream_client_is_picows_when_installed_unless_asked_otherwise(
    tmp_path: Path, option: tuple[str, ...], client: str
) -> None:
    # The dev extra installs picows, so the default (auto) takes it here.
    async with simulator_process(*LINK, "--quote-interval", "0.01") as sim:
        result = await cli(
            "collect", "--out", str(tmp_path / "archive"), "--count", "20", "--quiet",
            *option, "EURUSD", env=sim.env,
        )  # fmt: skip
    assert result.code == 0, result.err
    assert f"stream: {client}" in result.out.splitlines()
    assert summary_counts(result.out)["EURUSD"][0] >= 20


async def test_four_symbols_for_a_few_seconds_hold_every_delivered_tick_once(
    tmp_path: Path,
) -> None:
    out = tmp_path / "archive"
    async with simulator_process(*LINK, "--quote-interval", "0.02") as sim:
        result = await cli(
            "collect", "--out", str(out), "--duration", "3s", "--quiet", *SYMBOLS, env=sim.env
        )
    assert result.code == 0, result.err
    assert "Traceback" not in result.err
    counts = summary_counts(result.out)
    table = read_ticks(out)
    assert table.schema.field("symbol").type == pa.string()
    assert table.schema.field("bid").type == pa.float64()
    assert table.schema.field("ask").type == pa.float64()
    assert table.schema.field("broker_time").type == pa.timestamp("ns")
    assert table.schema.field("receive_time").type == pa.timestamp("ns", tz="UTC")
    assert table.schema.field("account").type == pa.string()
    assert table.schema.field("seq").type == pa.int64()
    for symbol in SYMBOLS:
        rows = _per_symbol(table, symbol)
        delivered, written = counts[symbol]
        assert rows.num_rows == delivered == written > 10, (symbol, counts)
        _assert_in_order_and_unique(rows)
    assert counts["total"] == (table.num_rows, table.num_rows)
    assert not spools(out)  # nothing left in progress
    for path in parquet_files(out):
        assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    report = await coverage_json(out, sim.env)
    assert [s["how"] for s in report["sessions"]] == ["stopped"]
    for entry in report["symbols"]:
        assert entry["gaps"] == []
        assert len(entry["covered"]) == 1
        assert 2.5 < entry["covered"][0]["seconds"] < 10


async def test_count_writes_exactly_the_ticks_the_server_sent_in_order(tmp_path: Path) -> None:
    config = SimulatorConfig(api_keys=(ApiKey(KEY),), provision_delay=0, quote_interval=None)
    out = tmp_path / "archive"
    ticks = 30
    async with Simulator(config) as sim:
        sim.link_account("Sim-Demo", 4243)
        env = env_for(sim.base_url, sim.ws_url, KEY)
        args = ("collect", "--out", str(out), "--count", str(ticks * len(SYMBOLS)), "--quiet")
        async with cli_process(tmp_path, *args, *SYMBOLS, env=env) as running:
            await poll(lambda: listening(out), timeout=WAIT, what="the collector listening")
            sent = [quote for _ in range(ticks) for quote in sim.tick(SYMBOLS)]
            assert await running.wait() == 0, running.err
    table = read_ticks(out)
    got = list(zip(table["symbol"].to_pylist(), table["bid"].to_pylist(), strict=True))
    assert got == [(q.symbol, q.bid) for q in sent]
    broker = table["broker_time"].cast(pa.int64()).to_pylist()
    assert broker == [round(q.time.timestamp() * 1e6) * 1000 for q in sent]
    assert summary_counts(running.out)["total"] == (len(sent), len(sent))


async def test_a_severed_stream_is_a_gap_and_ctrl_c_seals_the_files(tmp_path: Path) -> None:
    config = SimulatorConfig(api_keys=(ApiKey(KEY),), provision_delay=0, quote_interval=0.02)
    out = tmp_path / "archive"
    async with Simulator(config) as sim:
        sim.link_account("Sim-Demo", 4244)
        env = env_for(sim.base_url, sim.ws_url, KEY)
        args = ("collect", "--out", str(out), *SYMBOLS)
        async with cli_process(tmp_path, *args, env=env) as running:
            await poll(lambda: listening(out), timeout=WAIT, what="the collector listening")
            sim.faults.drop_connections()
            gap = await poll(
                lambda: next((r for r in journal(out) if r.get("reason") == "reconnect"), None),
                timeout=WAIT,
                what="the reconnect recorded as a gap",
            )
            await poll(
                lambda: any(t > gap["end"] for t in spooled_receive_times(out)),
                timeout=WAIT,
                what="ticks after the reconnect on disk",
            )
            running.signal(signal.SIGINT)
            assert await running.wait() == 0, running.err
    assert "Traceback" not in running.err
    assert "reconnects 1" in running.out
    report = await coverage_json(out, env)
    table = read_ticks(out)
    for entry in report["symbols"]:
        reasons = [gap["reason"] for gap in entry["gaps"]]
        assert reasons == ["reconnect"], entry
        gap = entry["gaps"][0]
        assert gap["start"] < gap["end"]
        assert len(entry["covered"]) == 2  # before and after
        rows = _per_symbol(table, entry["symbol"])
        _assert_in_order_and_unique(rows)
        received = rows["receive_time"].cast(pa.int64()).to_pylist()
        assert any(t > gap_end(entry) for t in received), "no tick after the reconnect"


async def test_kill_9_then_resume_keeps_every_file_readable_and_shows_the_hole(
    tmp_path: Path,
) -> None:
    out = tmp_path / "archive"
    collect = ("collect", "--out", str(out), *SYMBOLS)
    async with simulator_process(*LINK, "--quote-interval", "0.01") as sim:
        first = await cli(*collect, "--duration", "1s", "--quiet", env=sim.env)
        assert first.code == 0, first.err
        # The crashed run: its part in progress (an hour's file) has ticks in it.
        async with cli_process(tmp_path, *collect, "--resume", env=sim.env) as running:
            await poll(
                lambda: len(spooled_receive_times(out)) > 40,
                timeout=WAIT,
                what="ticks in the part in progress",
            )
            running.kill_group()
            assert await running.wait() == -signal.SIGKILL
        left = len(spooled_receive_times(out))
        assert left > 40
        in_progress = len([p for p in spools(out) if p.stat().st_size > 0])
        for path in parquet_files(out):
            pq.read_table(path)  # every finished file is whole
        before = await coverage_json(out, sim.env)
        assert [s["how"] for s in before["sessions"]] == ["stopped", "unfinished"]

        refused = await cli(*collect, "--quiet", env=sim.env)
        assert refused.code == 2
        assert "--resume" in refused.err

        resume = await cli(*collect, "--resume", "--count", "40", "--quiet", env=sim.env)
        assert resume.code == 0, resume.err
        assert f"recovered {in_progress} files left by a crashed session" in resume.out
        report = await coverage_json(out, sim.env)
    assert not spools(out)
    sessions = report["sessions"]
    assert [s["how"] for s in sessions] == ["stopped", "crashed", "stopped"]
    assert sessions[1]["ticks"] == left  # the part in progress, recovered whole
    table = read_ticks(out)
    assert table.num_rows == sum(s["ticks"] for s in sessions)
    for entry in report["symbols"]:
        gaps = entry["gaps"]
        assert [g["reason"] for g in gaps] == ["restart", "restart"], entry
        assert gaps[0]["start"] == sessions[0]["ended"]  # a clean end
        assert gaps[1]["start"] == sessions[1]["ended"]  # the crash: its last tick written
        assert all(g["end"] > g["start"] for g in gaps)
        _assert_in_order_and_unique(_per_symbol(table, entry["symbol"]))


async def test_a_collector_killed_alone_leaves_its_writer_to_seal_what_it_received(
    tmp_path: Path,
) -> None:
    out = tmp_path / "archive"
    async with simulator_process(*LINK, "--quote-interval", "0.01") as sim:
        async with cli_process(
            tmp_path, "collect", "--out", str(out), *SYMBOLS, env=sim.env
        ) as running:
            await poll(lambda: len(spooled_receive_times(out)) > 40, timeout=WAIT, what="ticks")
            os.kill(running.process.pid, signal.SIGKILL)  # the collector, not its writer
            assert await running.wait() == -signal.SIGKILL
            await poll(
                lambda: any(r.get("type") == "end" for r in journal(out)),
                timeout=WAIT,
                what="the writer ending the session",
            )
        report = await coverage_json(out, sim.env)
    assert not spools(out)
    (session,) = report["sessions"]
    assert session["how"] == "orphaned"
    assert session["ticks"] == read_ticks(out).num_rows > 40


async def test_sigterm_seals_the_files_and_all_collects_every_connected_account(
    tmp_path: Path,
) -> None:
    out = tmp_path / "archive"
    links = ("--link", "Sim-Demo:4245", "--link", "Other-Demo:4246", "--provision-delay", "0")
    async with simulator_process(*links, "--quote-interval", "0.02") as sim:
        args = ("collect", "--out", str(out), "--all", "EURUSD", "GBPUSD")
        async with cli_process(tmp_path, *args, env=sim.env) as running:
            await poll(
                lambda: sum(r.get("type") == "listening" for r in journal(out)) == 2,
                timeout=WAIT,
                what="both accounts' subscriptions in",
            )
            await poll(lambda: len(spooled_receive_times(out)) > 20, timeout=WAIT, what="ticks")
            running.signal(signal.SIGTERM)
            assert await running.wait() == 0, running.err
    table = read_ticks(out)
    accounts = set(table["account"].to_pylist())
    assert len(accounts) == 2
    as_last_cell = [[a] for a in accounts]
    rows = [
        cells for cells in map(str.split, running.out.splitlines()) if cells[-1:] in as_last_cell
    ]
    assert {(row[0], row[3]) for row in rows} == {
        (symbol, account) for symbol in ("EURUSD", "GBPUSD") for account in accounts
    }
    for symbol, delivered, written, account in rows:
        got = table.filter(
            pc.and_(pc.equal(table["symbol"], symbol), pc.equal(table["account"], account))
        )
        assert got.num_rows == int(delivered) == int(written) > 0
        _assert_in_order_and_unique(got)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_csv_and_json_lines_hold_the_same_columns(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "archive"
    async with simulator_process(*LINK, "--quote-interval", "0.01") as sim:
        result = await cli(
            "collect",
            "--out",
            str(out),
            "--format",
            fmt,
            "--count",
            "60",
            "--quiet",
            *SYMBOLS,
            env=sim.env,
        )
    assert result.code == 0, result.err
    files = sorted((out / "ticks").rglob(f"*.{fmt}"))
    assert len(files) == len(SYMBOLS)
    rows = 0
    for path in files:
        if fmt == "csv":
            import pyarrow.csv as pacsv

            table = pacsv.read_csv(path)
        else:
            import pyarrow.json as pajson

            table = pajson.read_json(path)
        assert table.column_names == [
            "symbol",
            "bid",
            "ask",
            "broker_time",
            "receive_time",
            "account",
            "session",
            "seq",
        ]
        rows += table.num_rows
    assert rows == 60 == summary_counts(result.out)["total"][1]


async def test_without_the_collect_extra_collect_names_it_and_demo_still_runs(
    tmp_path: Path,
) -> None:
    from .helpers import NO_EXTRAS, clean_env, run

    blocked = NO_EXTRAS + "from fxsocket_async.cli import main; sys.exit(main(sys.argv[1:]))"
    result = await run(
        "python", "-c", blocked, "collect", "--out", str(tmp_path), "EURUSD", env=clean_env()
    )
    assert result.code == 1
    assert "pip install 'fxsocket-async[collect]'" in result.err
    assert "Traceback" not in result.err
    demo = await run("python", "-c", blocked, "demo", env=clean_env(), timeout=45)
    assert demo.code == 0, demo.err
    assert "account: balance" in demo.out


async def test_the_readmes_polars_read_of_a_day_runs_as_written(tmp_path: Path) -> None:
    pytest.importorskip("polars")
    import re

    from .helpers import ROOT, run

    readme = (ROOT / "README.md").read_text()
    match = re.search(r"python - <<'EOF'\n(.*?)\nEOF", readme, re.S)
    assert match, "the README's polars read is not there"
    async with simulator_process(*LINK, "--quote-interval", "0.01") as sim:
        result = await cli(
            "collect",
            "--out",
            str(tmp_path / "archive"),
            "--count",
            "20",
            "--quiet",
            "EURUSD",
            env=sim.env,
        )
        assert result.code == 0, result.err
        day = read_ticks(tmp_path / "archive")["date"][0].as_py()
        code = match.group(1).replace("2026-01-05", day)
        done = await run("python", "-c", code, env=sim.env, cwd=tmp_path)
    assert done.code == 0, done.err
    assert "EURUSD" in done.out or "bid" in done.out
