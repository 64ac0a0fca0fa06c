"""``python -m fxsocket_async.simulator``: URLs on stdout, keys, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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
                if line.startswith("FXSOCKET_BASE_URL="):
                    running.base_url = line.partition("=")[2]
                if line.startswith("FXSOCKET_WS_URL="):
                    running.ws_url = line.partition("=")[2]
                if running.base_url and running.ws_url:
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
