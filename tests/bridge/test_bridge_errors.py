"""The bridge's own failures are ours, bounded in time, and say what to do."""

from __future__ import annotations

import socket

import anyio
import pytest

from fxsocket_async.bridge import Bridge, BridgeUnavailableError
from fxsocket_async.simulator import Simulator

from .conftest import WAIT, link, session

pytestmark = pytest.mark.anyio


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.dialects("reference")
async def test_an_unreachable_nats_fails_the_start_within_the_connect_timeout(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"nats://127.0.0.1:{_closed_port()}"
    with anyio.fail_after(WAIT):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            bridge = Bridge(fx, nats=url, accounts=[account.id], connect_timeout=0.5)
            with pytest.raises(BridgeUnavailableError) as raised:
                async with bridge:
                    pass
    assert raised.value.code == "bridge_unavailable"
    assert url in raised.value.message
    assert "no server accepted within 0.5 s" in raised.value.message
    # nats-py's own default would print a traceback per attempt.
    assert not any(record.exc_info for record in caplog.records)
