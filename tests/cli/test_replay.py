"""``python -m fxsocket_async.simulator --replay DIR`` as a user runs it: a production
day becomes a test.

Collect from a simulator with ``fxsocket-async collect`` (a subprocess), replay
the archive in another simulator process, and a client receives the very
ticks the collector wrote; a folder that cannot be replayed, or a missing
pyarrow, is one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import pytest

from fxsocket_async import AsyncFxSocket
from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig
from fxsocket_async.types import Quote
from tests.helpers.poll import poll

from .helpers import (
    NO_EXTRAS,
    SYMBOLS,
    WAIT,
    clean_env,
    cli_process,
    env_for,
    listening,
    run,
    simulator_process,
)

pytest.importorskip("pyarrow")

pytestmark = pytest.mark.anyio

KEY = "replay-key"


def key(quote: Quote) -> tuple[str, float, float, object]:
    return (quote.symbol, quote.bid, quote.ask, quote.time)


async def collect_ticks(tmp_path: Path, out: Path, rounds: int) -> list[Quote]:
    """Run ``fxsocket-async collect --count`` against a simulator that ticks ``rounds`` times."""
    config = SimulatorConfig(api_keys=(ApiKey(KEY),), provision_delay=0, quote_interval=None)
    async with Simulator(config) as sim:
        sim.link_account("Sim-Demo", 4251)
        env = env_for(sim.base_url, sim.ws_url, KEY)
        count = str(rounds * len(SYMBOLS))
        args = ("collect", "--out", str(out), "--count", count, "--quiet", *SYMBOLS)
        async with cli_process(tmp_path, *args, env=env) as running:
            await poll(lambda: listening(out), timeout=WAIT, what="the collector listening")
            sent = [quote for _ in range(rounds) for quote in sim.tick(SYMBOLS)]
            assert await running.wait() == 0, running.err
    return sent


async def test_a_collected_archive_replayed_by_the_cli_serves_the_same_ticks(
    tmp_path: Path,
) -> None:
    out = tmp_path / "archive"
    sent = await collect_ticks(tmp_path, out, rounds=25)
    args = ("--replay", str(out), "--speed", "max", "--replay-start", "subscribed")
    link = ("--link", "Sim-Demo:4242", "--provision-delay", "0")
    async with simulator_process(*args, *link) as sim:
        env = sim.env
        got: list[Quote] = []
        async with AsyncFxSocket(
            env["FXSOCKET_API_KEY"],
            base_url=env["FXSOCKET_BASE_URL"],
            ws_url=env["FXSOCKET_WS_URL"],
        ) as fx:
            (account,) = await fx.accounts.list()
            async with fx.quotes(*SYMBOLS, account=account.id, mode="all") as quotes:
                with anyio.fail_after(WAIT):
                    async for quote in quotes:
                        got.append(quote)
                        if len(got) == len(sent):
                            break
            trading = fx.account(account.id)
            final = sent[-1]
            quote = await trading.quote(final.symbol)
            assert (quote.bid, quote.ask, quote.time) == (final.bid, final.ask, final.time)
    assert [key(q) for q in got] == [key(q) for q in sent]


async def test_a_folder_that_is_no_archive_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = await run(
        sys.executable, "-m", "fxsocket_async.simulator", "--replay", str(tmp_path), env=clean_env()
    )
    assert result.code == 2
    assert result.out == ""
    assert result.err.strip() == (
        f"error: --replay {tmp_path}: {tmp_path} is not an archive of fxsocket-async collect: "
        "it has no ticks/ folder"
    )


async def test_without_pyarrow_the_cli_names_the_extra(tmp_path: Path) -> None:
    code = (
        NO_EXTRAS + "from fxsocket_async.simulator.__main__ import main; "
        f"sys.exit(main(['--replay', {str(tmp_path)!r}]))"
    )
    result = await run(sys.executable, "-c", code, env=clean_env())
    assert result.code == 2
    assert result.out == ""
    assert "pip install 'fxsocket-async[collect]'" in result.err
    assert "Traceback" not in result.err


async def test_replay_options_without_replay_are_refused() -> None:
    result = await run(
        sys.executable, "-m", "fxsocket_async.simulator", "--speed", "max", env=clean_env()
    )
    assert result.code == 2
    assert result.out == ""
    assert "need --replay DIR" in result.err


async def test_help_describes_the_replay_options() -> None:
    result = await run(sys.executable, "-m", "fxsocket_async.simulator", "--help", env=clean_env())
    assert result.code == 0
    text = " ".join(result.out.split())
    for words in (
        "--replay DIR",
        "--speed 1|10|max",
        "--loop",
        "--replay-start {now,subscribed}",
        "--replay-account ID",
        "pip install 'fxsocket-async[collect]'",
    ):
        assert words in text, words
