"""The bridge's Prometheus endpoint, scraped over HTTP as Prometheus would."""

from __future__ import annotations

import aiohttp
import anyio
import pytest
from nats.aio.client import Client as NatsClient

from fxsocket_async.simulator import Simulator
from tests.helpers.poll import poll

from .conftest import WAIT, bridge_for, link, read_events, session

pytestmark = pytest.mark.anyio


async def test_metrics_endpoint_reports_state_events_and_consumer_lag(
    sim: Simulator, nats_url: str, nc: NatsClient
) -> None:
    with anyio.fail_after(WAIT * 2):
        async with session(sim) as fx:
            account = await link(fx, connected=True)
            async with bridge_for(fx, nats_url, [account.id], metrics_port=0) as bridge:
                js = nc.jetstream()
                # A durable consumer that reads nothing: its lag is what the bridge published.
                await js.pull_subscribe(bridge.wire.events_subject(account.id), durable="lagging")
                await fx.account(account.id).orders.create("EURUSD", "BUY", 0.1)
                await poll(lambda: read_events(nc, account.id), timeout=WAIT, what="an event")
                url = f"http://127.0.0.1:{bridge.metrics_port}/metrics"

                async def scrape() -> str:
                    async with aiohttp.ClientSession() as http, http.get(url) as response:
                        text = await response.text()
                    lag = 'fxsocket_bridge_consumer_pending{consumer="lagging"}'
                    return text if lag in text and f"{lag} 0.0" not in text else ""

                text = await poll(scrape, timeout=WAIT, what="the consumer's lag", interval=0.05)
    assert f'fxsocket_bridge_events_published_total{{account="{account.id}"}}' in text
    state = f'account="{account.id}",fxsocket_bridge_upstream_state="live"'
    assert f"fxsocket_bridge_upstream_state{{{state}}} 1.0" in text
    assert "fxsocket_bridge_publish_errors" in text
