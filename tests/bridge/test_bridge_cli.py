"""``fxsocket-async bridge`` as a user runs it: a real simulator process, a real
nats-server, the command in a process of its own; SIGTERM drains and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile

import anyio
import nats
import pytest

from fxsocket_async import AsyncFxSocket
from fxsocket_async.bridge import nats_server
from fxsocket_async.bridge._wire import Wire, decode_status
from tests.cli.helpers import simulator_process
from tests.helpers.poll import poll

from .conftest import WAIT

pytestmark = pytest.mark.anyio


@pytest.mark.dialects("auto")
async def test_the_command_publishes_status_and_exits_0_on_sigterm() -> None:
    with anyio.fail_after(WAIT * 3):
        async with simulator_process() as sim, nats_server() as url:
            e = sim.env
            async with AsyncFxSocket(e["FXSOCKET_API_KEY"], base_url=e["FXSOCKET_BASE_URL"],
                                     ws_url=e["FXSOCKET_WS_URL"]) as fx:  # fmt: skip
                account = await fx.accounts.link(server="Sim-Demo", login=4242, password="pw")
                await fx.accounts.wait_connected(account.id, timeout=WAIT)
            nc = await nats.connect(url)
            with tempfile.TemporaryFile() as err:
                command = [
                    sys.executable, "-m", "fxsocket_async", "bridge", "--nats", url,
                    "--account", account.id, "--symbols", "EURUSD", "--metrics-port", "0",
                ]  # fmt: skip
                async with await anyio.open_process(
                    command, env=sim.env, stdin=subprocess.DEVNULL, stderr=err
                ) as process:

                    async def status() -> bool:
                        try:
                            kv = await nc.jetstream().key_value(Wire().bridge_bucket)
                            keys = await kv.keys()
                        except Exception:
                            return False
                        return any(k.startswith("status.") for k in keys)

                    await poll(status, timeout=WAIT, what="the bridge's status", interval=0.05)

                    def said_ready() -> bool:
                        # pread: the child shares this file's offset, which must not move.
                        return b"bridging" in os.pread(err.fileno(), 1 << 20, 0)

                    await poll(said_ready, timeout=WAIT, what="the ready line", interval=0.05)
                    kv = await nc.jetstream().key_value(Wire().bridge_bucket)
                    key = next(k for k in await kv.keys() if k.startswith("status."))
                    entry = await kv.get(key)
                    assert decode_status(entry.value or b"").epoch
                    process.send_signal(signal.SIGTERM)
                    code = await process.wait()
                err.seek(0)
                text = err.read().decode(errors="replace")
            await nc.close()
    assert code == 0, text
    assert "stream on picows" in text  # --transport auto, and the dev extra installs picows
    assert "bridge stopped" in text
