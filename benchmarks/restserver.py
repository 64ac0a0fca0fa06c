"""The simulator for the REST suite, with the vendor SDK's route form added (benchmark only).

Runs in its own process (``python -m benchmarks.restserver``): the simulator
with rate limiting off and automatic price ticks off, one linked and connected
account, and one extra route for the vendor SDK's terminal client:

- ours: ``GET /v1/accounts/{account_id}/quotes/{symbol}`` (the simulator's
  own route), ``Authorization: Bearer``;
- the vendor SDK's ``AsyncTerminalClient.quote(symbol)``: ``GET
  /getQuote?symbol=EURUSD`` relative to the account's terminal URL, with
  ``X-API-Key``, replying ``{symbol, bid, ask, time, last, volume}``.

The adapter does the same work as the simulator's own quote route (the same
middleware, the same key check, account resolution and "connected" check
through the simulator's route object, the same market quote, msgspec
encoding); only the reply's shape differs, to match what the vendor SDK
validates.

Prints ``BASE_URL=...`` and ``ACCOUNT=...`` once it listens.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from datetime import datetime

import msgspec
from aiohttp import web

from fxsocket_async._core.models import LinkAccountRequest
from fxsocket_async.simulator import ApiKey, Simulator, SimulatorConfig

API_KEY = "bench"


class _VendorQuote(msgspec.Struct):
    symbol: str
    bid: float
    ask: float
    time: datetime
    last: float = 0.0
    volume: int = 0


_ENCODE = msgspec.json.Encoder().encode


def _add_vendor_routes(sim: Simulator) -> None:
    app = sim._app
    # The simulator's route object (authentication, account resolution, limits).
    routes = None
    for resource in app.router.resources():
        if resource.canonical == "/v1/quotes/{symbol}":
            routes = next(iter(resource)).handler.__self__  # type: ignore[attr-defined]
    assert routes is not None, "the simulator's quote route moved"

    async def get_quote(request: web.Request) -> web.Response:
        routes.trading(request)  # the key's only account, must be connected
        q = sim.engine.quote(request.query.get("symbol", ""))
        body = _VendorQuote(symbol=q.symbol, bid=q.bid, ask=q.ask, time=q.time)
        return web.Response(body=_ENCODE(body), content_type="application/json")

    app.router.add_get("/getQuote", get_quote)


async def _main() -> None:
    config = SimulatorConfig(
        api_keys=(ApiKey(API_KEY, "full"),),
        rate_limit=None,
        quote_interval=None,
        provision_delay=60.0,
    )
    sim = Simulator(config)
    _add_vendor_routes(sim)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim:
        account = sim.engine.link(
            "default", LinkAccountRequest(server="Bench-Demo", login=1, password="bench")
        )
        sim.complete_provisioning(account.id)
        print(f"BASE_URL={sim.base_url}", flush=True)
        print(f"ACCOUNT={account.id}", flush=True)
        await stop.wait()


def main() -> int:
    asyncio.run(_main())
    return 0


if __name__ == "__main__":
    sys.exit(main())
