"""``python -m fxsocket_async.simulator``: its lines on stdout, keys, links, --help, signals.

Every test runs the real command as a subprocess on real ports, with bounded waits.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers.poll import poll

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]


class Running:
    def __init__(self, process: asyncio.subprocess.Process, stderr: Path) -> None:
        self.process = process
        self.stderr = stderr
        self.base_url = ""
        self.ws_url = ""
        self.api_key = ""
        #: The lines read from stdout, up to and including the ready lines.
        self.lines: list[str] = []

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")[-2000:]


@asynccontextmanager
async def simulator(tmp_path: Path, *args: str) -> AsyncIterator[Running]:
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fxsocket_async.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=ROOT,
        )
    running = Running(process, stderr)
    try:
        assert process.stdout is not None
        async with asyncio.timeout(15):
            for _ in range(100):
                line = (await process.stdout.readline()).decode().strip()
                if not line and process.stdout.at_eof():
                    break
                running.lines.append(line)
                if line.startswith("FXSOCKET_BASE_URL="):
                    running.base_url = line.partition("=")[2]
                if line.startswith("FXSOCKET_WS_URL="):
                    running.ws_url = line.partition("=")[2]
                if line.startswith("FXSOCKET_API_KEY="):
                    running.api_key = line.partition("=")[2]
                if running.base_url and running.ws_url and running.api_key:
                    break
        assert running.base_url, running.log()
        assert running.ws_url, running.log()
        yield running
    finally:
        if process.returncode is None:
            process.kill()
        async with asyncio.timeout(10):
            await process.communicate()  # drains stdout and reaps the process


async def terminate(running: Running) -> int:
    running.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(10):
        return await running.process.wait()


async def test_prints_loopback_urls(tmp_path: Path) -> None:
    async with simulator(tmp_path, "--api-key", "k1:read", "--seed", "3") as running:
        assert running.base_url.startswith("http://127.0.0.1:")
        port = running.base_url.rsplit(":", 1)[1]
        assert port.isdigit()
        assert int(port) > 0
        assert running.ws_url == f"ws://127.0.0.1:{port}/v1/stream"


async def test_api_key_with_scope(tmp_path: Path) -> None:
    args = ("--api-key", "k1:read", "--provision-delay", "0", "--seed", "3")
    async with simulator(tmp_path, *args) as running, aiohttp.ClientSession() as http:
        headers = {"X-API-Key": "k1"}
        async with http.get(f"{running.base_url}/v1/accounts", headers=headers) as reply:
            assert reply.status == 200
            assert await reply.json() == []
        body = {"server": "Sim-Demo", "login": 1, "password": "pw"}
        async with http.post(
            f"{running.base_url}/v1/accounts", json=body, headers=headers
        ) as reply:
            assert reply.status == 403
            error = await reply.json()
            assert isinstance(error["error"], str)
        async with http.get(f"{running.base_url}/v1/accounts", headers={"X-API-Key": "x"}) as reply:
            assert reply.status == 401
        assert await terminate(running) == 0, running.log()


async def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    async with simulator(tmp_path, "--api-key", "k1") as running:
        assert await terminate(running) == 0, running.log()


async def test_sigint_stops_it_too(tmp_path: Path) -> None:
    async with simulator(tmp_path, "--api-key", "k1") as running:
        running.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            code = await running.process.wait()
        assert code in (0, -signal.SIGINT, 130), running.log()


async def test_demo_key_without_api_key_option(tmp_path: Path) -> None:
    async with simulator(tmp_path, "--provision-delay", "0") as running:
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": "Bearer fxs_demo_key"}
            body = {"server": "Sim-Demo", "login": 2, "password": "pw"}
            url = f"{running.base_url}/v1/accounts"
            async with http.post(url, json=body, headers=headers) as reply:
                assert reply.status in (200, 201)  # full scope
            async with http.ws_connect(running.ws_url, headers=headers) as ws:
                await ws.send_json({"action": "ping", "id": 1})
                async with asyncio.timeout(5):
                    assert await ws.receive_json() == {"type": "pong", "id": 1}
        assert await terminate(running) == 0, running.log()


async def test_symbols_option_limits_the_instruments(tmp_path: Path) -> None:
    args = ("--provision-delay", "0", "--symbols", "EURUSD", "--quote-interval", "0")
    async with simulator(tmp_path, *args) as running, aiohttp.ClientSession() as http:
        headers = {"Authorization": "Bearer fxs_demo_key"}
        base = running.base_url
        body = {"server": "Sim-Demo", "login": 3, "password": "pw"}
        async with http.post(f"{base}/v1/accounts", json=body, headers=headers) as reply:
            account_id = (await reply.json())["id"]

        async def connected() -> bool:  # polling is the service's documented provisioning protocol
            async with http.get(f"{base}/v1/accounts/{account_id}", headers=headers) as reply:
                return (await reply.json())["status"] == "connected"

        await poll(connected, timeout=5, what=f"account {account_id} connected")
        route = f"{base}/v1/accounts/{account_id}/quotes"
        async with http.get(f"{route}/EURUSD", headers=headers) as reply:
            assert reply.status == 200
        async with http.get(f"{route}/XAUUSD", headers=headers) as reply:
            assert reply.status in (400, 404)
        assert await terminate(running) == 0, running.log()


# ------------------------------------------------------------------ the first hour

SIMULATOR = (sys.executable, "-m", "fxsocket_async.simulator")


async def run(*command: str, timeout: float = 30) -> tuple[int, str, str]:
    """Run a command to its end: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        async with asyncio.timeout(timeout):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def accounts(http: aiohttp.ClientSession, base_url: str, key: str) -> list[dict[str, Any]]:
    async with http.get(f"{base_url}/v1/accounts", headers={"X-API-Key": key}) as reply:
        assert reply.status == 200, await reply.text()
        body: list[dict[str, Any]] = await reply.json()
        return body


async def test_first_three_lines_are_the_urls_and_the_key(tmp_path: Path) -> None:
    async with simulator(tmp_path, "--api-key", "first:read", "--api-key", "second") as running:
        assert [line.partition("=")[0] for line in running.lines] == [
            "FXSOCKET_BASE_URL",
            "FXSOCKET_WS_URL",
            "FXSOCKET_API_KEY",
        ]
        assert running.api_key == "first"
        assert await terminate(running) == 0, running.log()


async def test_the_demo_key_is_printed_without_api_key_option(tmp_path: Path) -> None:
    async with simulator(tmp_path) as running:
        assert running.lines[2] == "FXSOCKET_API_KEY=fxs_demo_key"
        assert await terminate(running) == 0, running.log()


async def test_link_prelinks_connected_accounts_for_the_first_keys_owner(tmp_path: Path) -> None:
    args = (
        *("--api-key", "mine", "--api-key", "viewer:read", "--quote-interval", "0"),
        *("--provision-delay", "600"),  # the links do not wait for it
        *("--link", "Sim-Demo:1234:my:bot", "--link", "Other-Demo:77", "--link", "X-Broken:5"),
    )
    async with simulator(tmp_path, *args) as running, aiohttp.ClientSession() as http:
        listed = await accounts(http, running.base_url, "viewer")  # the same owner's key
        got = {(a["server"], a["login"]): (a["status"], a["nickname"]) for a in listed}
        assert got == {
            ("Sim-Demo", 1234): ("connected", "my:bot"),
            ("Other-Demo", 77): ("connected", ""),
            ("X-Broken", 5): ("error", ""),
        }
        first = next(a["id"] for a in listed if a["login"] == 1234)
        route = f"{running.base_url}/v1/accounts/{first}/quotes/EURUSD"
        async with http.get(route, headers={"Authorization": "Bearer mine"}) as reply:
            assert reply.status == 200, await reply.text()  # serving at once
        assert await terminate(running) == 0, running.log()


async def test_a_refused_link_exits_2_with_the_reason(tmp_path: Path) -> None:
    code, out, err = await run(
        *SIMULATOR, "--port", "0", "--link", "Sim-Demo:1", "--link", "Sim-Demo:1"
    )
    assert code == 2, err
    assert out == ""  # no lines: nothing listens for a reader
    assert "already_linked" in err


@pytest.mark.parametrize("link", ["Sim-Demo", "Sim-Demo:abc", ":12", "Sim-Demo:0"])
async def test_a_malformed_link_is_a_usage_error(link: str) -> None:
    code, out, err = await run(*SIMULATOR, "--port", "0", "--link", link)
    assert code == 2
    assert out == ""
    assert "SERVER:LOGIN[:NICKNAME]" in err


async def test_it_keeps_serving_when_the_reader_of_its_lines_goes_away(tmp_path: Path) -> None:
    # As after `... | head -3`: the pipe's reader is gone once it has the lines.
    read_fd, write_fd = os.pipe()
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            *SIMULATOR,
            *("--port", "0", "--quote-interval", "0.01", "--access-log"),
            stdout=write_fd,
            stderr=err,
            stdin=asyncio.subprocess.DEVNULL,
            cwd=ROOT,
        )
    os.close(write_fd)
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
    )
    try:
        async with asyncio.timeout(15):
            head = [await reader.readline() for _ in range(3)]
        transport.close()  # the reader goes away, as head does
        base_url = head[0].decode().strip().partition("=")[2]
        assert head[2].decode().strip() == "FXSOCKET_API_KEY=fxs_demo_key", head
        async with aiohttp.ClientSession() as http:
            for _ in range(3):
                assert await accounts(http, base_url, "fxs_demo_key") == []
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await process.wait() == 0, stderr.read_text()
        assert "Traceback" not in stderr.read_text()
    finally:
        transport.close()
        if process.returncode is None:
            process.kill()
            await process.wait()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaped does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc to see the process end")
async def test_detach_makes_export_of_its_lines_work(tmp_path: Path) -> None:
    script = (
        f'export $("{sys.executable}" -m fxsocket_async.simulator --detach --port 0 '
        "--quote-interval 0 --link Sim-Demo:4242:bot | head -4) && "
        'echo "$FXSOCKET_BASE_URL $FXSOCKET_WS_URL $FXSOCKET_API_KEY $FXSOCKET_SIMULATOR_PID"'
    )
    code, out, err = await run("bash", "-c", script)
    assert code == 0, err
    base_url, ws_url, key, pid_text = out.split()
    pid = int(pid_text)
    try:
        assert ws_url == base_url.replace("http://", "ws://") + "/v1/stream"
        assert "kill" in err
        async with aiohttp.ClientSession() as http:
            (account,) = await accounts(http, base_url, key)
            assert (account["login"], account["status"]) == (4242, "connected")
    finally:
        os.kill(pid, signal.SIGTERM)
    await poll(lambda: not alive(pid), timeout=10, what=f"the detached simulator {pid} stopped")


async def test_detach_reports_a_simulator_that_fails_to_start() -> None:
    code, out, err = await run(
        *SIMULATOR, "--detach", "--port", "0", "--link", "A-Demo:1", "--link", "A-Demo:1"
    )
    assert code == 2
    assert out == ""
    assert "already_linked" in err
    assert "did not start" in err


def _console_script() -> str | None:
    beside = Path(sys.executable).with_name("fxsocket-simulator")
    return str(beside) if beside.exists() else shutil.which("fxsocket-simulator")


ENTRY_POINTS = {
    "python -m fxsocket_async.simulator": SIMULATOR,
    "python -m fxsocket_async simulator": (sys.executable, "-m", "fxsocket_async", "simulator"),
    "fxsocket-simulator": (_console_script() or "fxsocket-simulator",),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
async def test_help_lists_every_option_with_its_default(entry: str) -> None:
    command = ENTRY_POINTS[entry]
    if entry == "fxsocket-simulator" and _console_script() is None:
        pytest.skip("the package is not installed (no console script)")
    from fxsocket_async.simulator.__main__ import build_parser

    code, out, err = await run(*command, "--help")
    assert code == 0, err
    options = [
        action.option_strings[-1]
        for action in build_parser()._actions
        if action.option_strings and action.option_strings[-1] != "--help"
    ]
    assert len(options) >= 14
    for option in options:
        help_text = _option_help(out, option)
        assert "(default:" in help_text, f"{option} shows no default under {entry}:\n{out}"


def _option_help(text: str, option: str) -> str:
    """The help paragraph of ``option`` in argparse's output."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().startswith(option + " ")]
    starts += [i for i, line in enumerate(lines) if line.strip() == option]
    assert starts, f"{option} is not in the help:\n{text}"
    block = [lines[starts[0]]]
    for line in lines[starts[0] + 1 :]:
        if line.strip().startswith("-") or not line.startswith(" "):
            break
        block.append(line)
    return " ".join(part.strip() for part in block)
