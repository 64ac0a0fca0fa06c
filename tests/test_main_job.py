"""The README's main job and the quickstart example, run as a user runs them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteReceiveStream
from anyio.streams.buffered import BufferedByteReceiveStream

from fxsocket_async import AsyncFxSocket
from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig

ROOT = Path(__file__).resolve().parent.parent
#: Upper bound of one wait on a child process (far below pytest-timeout).
WAIT = 30.0
#: Lines a child may print on one stream (bounds every read loop).
MAX_LINES = 500
#: The API key of the simulators these tests start.
KEY = "main-job-key"


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without FXSOCKET_*, unbuffered, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FXSOCKET_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )


@pytest.mark.timeout(60)
def test_demo_runs_against_the_embedded_simulator() -> None:
    result = _run("-m", "fxsocket_async", "demo")
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
    lines = result.stdout.splitlines()
    statuses = [line.strip() for line in lines if line.strip().startswith("status:")]
    assert statuses == ["status: connecting", "status: connected"]
    for expected in (
        "[consumer 1] EURUSD",
        "[consumer 1] GBPUSD",
        "[consumer 2] XAUUSD",
        "opened BUY 0.1 EURUSD",
        "[events] order_opened",
        "[events] order_modified",
        "moved the stop loss",
        "closed at",
        "[events] order_closed",
        "history: BUY",
    ):
        assert any(expected in line for line in lines), (expected, result.stdout)
    assert lines[-1].startswith("account: balance")
    assert "demo-password" not in result.stdout + result.stderr


@pytest.mark.timeout(60)
def test_quickstart_example_runs() -> None:
    result = _run("examples/quickstart.py")
    assert result.returncode == 0, result.stderr
    assert "embedded simulator" in result.stderr
    assert re.search(r"^closed \S+ at [0-9.]+, profit", result.stdout, re.M)
    assert "Trade(" in result.stdout
    assert "[fast] EURUSD" in result.stdout
    assert "[events] OrderClosed" in result.stdout


def test_unknown_command_is_refused() -> None:
    result = _run("-m", "fxsocket_async", "dance")
    assert result.returncode == 2
    assert "No such command 'dance'" in result.stderr


# ---------------------------------------------------------------- Ctrl-C
#
# Each run is interrupted where it waits for something that takes a while
# (a terminal provisioning, quotes from a simulator whose prices stand still),
# so the signal always lands mid-tour, however slow the machine.

Ready = Callable[[], Awaitable[object]]


async def _interrupted(
    args: list[str],
    env: Mapping[str, str],
    *,
    marker: str = "",
    on_stderr: bool = False,
    ready: Ready | None = None,
) -> tuple[int | None, str, str]:
    """Run ``python *args``; send SIGINT once ``ready()`` returns, or once a line of its
    stdout (``on_stderr``: stderr) contains ``marker``. Returns the exit code, stdout and
    stderr. Every wait is bounded by ``WAIT`` seconds, and each stream by ``MAX_LINES``."""
    out: list[str] = []
    err: list[str] = []
    seen = anyio.Event()

    async def collect(stream: ByteReceiveStream, lines: list[str], watch: bool) -> None:
        buffered = BufferedByteReceiveStream(stream)
        for _ in range(MAX_LINES):
            try:
                line = (await buffered.receive_until(b"\n", 1 << 16)).decode()
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.ClosedResourceError):
                lines.append(bytes(buffered.buffer).decode())
                break
            lines.append(line + "\n")
            if watch and marker and marker in line:
                seen.set()
        if watch:
            seen.set()  # the end of the stream: the caller looks at what was seen

    async with await anyio.open_process(
        [sys.executable, *args], cwd=ROOT, env=dict(env), stdin=subprocess.DEVNULL
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        async with anyio.create_task_group() as readers:
            readers.start_soon(collect, process.stdout, out, not on_stderr)
            readers.start_soon(collect, process.stderr, err, on_stderr)
            try:
                with anyio.fail_after(WAIT):
                    await (ready() if ready is not None else seen.wait())
            except TimeoutError:
                process.kill()
                raise
            if ready is None and not any(marker in line for line in (err if on_stderr else out)):
                process.kill()
                pytest.fail(f"never printed {marker!r}: stdout {out}, stderr {err}")
            process.send_signal(signal.SIGINT)
            with anyio.fail_after(WAIT):
                code = await process.wait()
    return code, "".join(out), "".join(err)


#: What the demo and the quickstart say on stderr as they start.
NOTICES = ("FXSOCKET_API_KEY is not set", "using the server at")


def _assert_interrupted(code: int | None, stderr: str) -> None:
    said = f"exit {code}; stderr: {stderr}"
    assert "Traceback" not in stderr, said
    lines = [line for line in stderr.splitlines() if not line.startswith(NOTICES)]
    assert lines == ["interrupted"], said
    assert code == 130, said


async def _quotes_subscribed(sim: Simulator) -> None:
    await sim.wait_for_subscriptions(
        lambda subs: any(channel == "quotes" for _, channel, _ in subs), timeout=WAIT
    )


def _still_market() -> SimulatorConfig:
    """A simulator whose prices never move: a quote consumer waits until interrupted."""
    return SimulatorConfig(api_keys=(ApiKey(KEY),), provision_delay=0.1, quote_interval=None)


def _env_for(sim: Simulator) -> dict[str, str]:
    return _clean_env(
        FXSOCKET_API_KEY=KEY, FXSOCKET_BASE_URL=sim.base_url, FXSOCKET_WS_URL=sim.ws_url
    )


@pytest.mark.anyio
async def test_ctrl_c_while_provisioning_stops_the_demo_with_one_line() -> None:
    code, _, stderr = await _interrupted(
        ["-m", "fxsocket_async", "demo"], _clean_env(), marker="status: connecting"
    )
    _assert_interrupted(code, stderr)


@pytest.mark.anyio
async def test_ctrl_c_while_streaming_stops_the_demo_with_one_line() -> None:
    async with Simulator(_still_market()) as sim:
        async with AsyncFxSocket(KEY, base_url=sim.base_url, ws_url=sim.ws_url) as fx:
            account = await fx.accounts.link(server="VTMarkets-Demo", login=1, password="pw")
            sim.complete_provisioning(account.id)
        code, stdout, stderr = await _interrupted(
            ["-m", "fxsocket_async", "demo"], _env_for(sim), ready=lambda: _quotes_subscribed(sim)
        )
    assert "streaming quotes" in stdout
    _assert_interrupted(code, stderr)


@pytest.mark.anyio
async def test_ctrl_c_while_starting_stops_the_quickstart_with_one_line() -> None:
    code, _, stderr = await _interrupted(
        ["examples/quickstart.py"], _clean_env(), marker="embedded simulator", on_stderr=True
    )
    _assert_interrupted(code, stderr)


@pytest.mark.anyio
async def test_ctrl_c_while_streaming_stops_the_quickstart_with_one_line() -> None:
    async with Simulator(_still_market()) as sim:
        code, _, stderr = await _interrupted(
            ["examples/quickstart.py"], _env_for(sim), ready=lambda: _quotes_subscribed(sim)
        )
    _assert_interrupted(code, stderr)


# ---------------------------------------------------------------- one server, run twice


@pytest.mark.anyio
async def test_quickstart_runs_twice_against_one_server() -> None:
    """The quickstart from the environment, twice: the second run reuses the linked account."""
    config = SimulatorConfig(api_keys=(ApiKey(KEY),), provision_delay=0.1, quote_interval=0.05)
    async with Simulator(config) as sim:
        env = _env_for(sim)
        for run in (1, 2):
            with anyio.fail_after(WAIT):
                result = await anyio.run_process(
                    [sys.executable, "examples/quickstart.py"], cwd=ROOT, env=env, check=False
                )
            stdout, stderr = result.stdout.decode(), result.stderr.decode()
            assert result.returncode == 0, (run, stderr)
            assert "embedded simulator" not in stderr
            assert re.search(r"^closed \S+ at [0-9.]+, profit", stdout, re.M), stdout
        assert len(sim.accounts()) == 1
