"""``watch_routes(sim)``: the simulator's per-route counters, made something to wait on.

``sim.stats.routes`` counts requests per route as the server receives them.
Replaced by a ``RouteCounter``, a test can wait until a route has been
requested ``n`` times (``await routes.reached(route, n)``) instead of
polling, and, given a clock, read when each request arrived
(``routes.times[route]``, in that clock's seconds).
"""

from __future__ import annotations

from collections import Counter, defaultdict

import anyio

from fxsocket_async._clock import Clock
from fxsocket_async.simulator import Simulator

from .sim import ACTIVE, WAIT

__all__ = ["RouteCounter", "route", "watch_routes"]

_TERMINAL = "/terminal/{account_id}"
#: One account's operations and the route that carries each, per dialect.
_ROUTES: dict[str, tuple[str, str]] = {
    "summary": ("GET /v1/accounts/{account_id}/account", f"GET {_TERMINAL}/AccountSummary"),
    "positions": ("GET /v1/accounts/{account_id}/positions", f"GET {_TERMINAL}/OpenedOrders"),
    "pending": ("GET /v1/accounts/{account_id}/orders", f"GET {_TERMINAL}/OpenedOrders"),
    "quote": ("GET /v1/accounts/{account_id}/quotes/{symbol}", f"GET {_TERMINAL}/getQuote"),
    "candles": ("GET /v1/accounts/{account_id}/candles/{symbol}", f"GET {_TERMINAL}/PriceHistory"),
    "history": ("GET /v1/accounts/{account_id}/history", f"GET {_TERMINAL}/PositionHistory"),
    "create": ("POST /v1/accounts/{account_id}/orders", f"POST {_TERMINAL}/OrderSend"),
    "modify": (
        "PATCH /v1/accounts/{account_id}/orders/{order_id}",
        f"POST {_TERMINAL}/OrderModify",
    ),
    "close": ("DELETE /v1/accounts/{account_id}/orders/{order_id}", f"POST {_TERMINAL}/OrderClose"),
}


def route(operation: str, dialect: str | None = None) -> str:
    """The simulator's route name of one account ``operation`` in ``dialect`` (default:
    the dialect the test runs in; "auto" means the terminal's, as the simulator serves it).
    A route name itself (``"GET /v1/accounts"``) is returned as it is."""
    if operation not in _ROUTES:
        return operation
    reference, terminal = _ROUTES[operation]
    return reference if (dialect or ACTIVE["dialect"]) == "reference" else terminal


class RouteCounter(Counter[str]):
    """``sim.stats.routes`` that a test can wait on: ``await routes.reached(route, n)``."""

    def __init__(self, initial: Counter[str], clock: Clock | None = None) -> None:
        self._waiters: list[tuple[str, int, anyio.Event]] = []
        self._clock = clock
        #: When each request of a route arrived, on ``clock`` (none without one).
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        super().__init__()
        dict.update(self, initial)  # what was counted before: no times for those

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        if self._clock is not None:
            self.times[key].append(self._clock.monotonic())
        for route, count, event in self._waiters:
            if route == key and value >= count:
                event.set()

    async def reached(self, route: str, count: int) -> None:
        """Return once the server has received ``count`` requests of ``route``.

        Raises ``TimeoutError`` after ``WAIT`` real seconds.
        """
        if self[route] >= count:
            return
        event = anyio.Event()
        self._waiters.append((route, count, event))
        with anyio.fail_after(WAIT):
            await event.wait()


def watch_routes(sim: Simulator, clock: Clock | None = None) -> RouteCounter:
    """Put a ``RouteCounter`` in place of ``sim.stats.routes``; ``clock`` stamps arrivals."""
    routes = RouteCounter(sim.stats.routes, clock)
    sim.stats.routes = routes
    return routes
