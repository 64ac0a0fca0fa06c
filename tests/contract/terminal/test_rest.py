"""The terminal's read routes and the checks every terminal route shares."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from fxsocket_async.simulator import Simulator

from ..helpers import OTHER, READ, TRADE, Api, config, set_price, steer
from .helpers import TIMEFRAMES, Terminal, assert_terminal_error, connected_account

pytestmark = pytest.mark.anyio

READ_ROUTES = [
    "/AccountSummary",
    "/AccountInfo",
    "/OpenedOrders",
    "/OrderHistory",
    "/PositionHistory",
    "/ServerTimezone",
    "/symbols",
    "/getQuote?symbol=EURUSD",
    "/SymbolInfo?symbol=EURUSD",
    "/PriceHistory?symbol=EURUSD&timeframe=H1",
    "/OrderCalcMargin?symbol=EURUSD&operation=Buy&volume=1&price=1.1",
    "/OrderCalcProfit?symbol=EURUSD&operation=Sell&volume=1&priceOpen=1.1&priceClose=1.09",
]
TRADE_ROUTES = ["/OrderSend", "/OrderModify", "/OrderClose", "/CloseAll"]
HARMLESS: dict[str, Any] = {
    "/OrderSend": {"symbol": "EURUSD", "operation": "Buy", "volume": 0.01},
    "/OrderModify": {"ticket": 1},
    "/OrderClose": {"ticket": 1},
    "/CloseAll": {},
}


async def call(term: Terminal, route: str, **kwargs: Any) -> Any:
    if route in TRADE_ROUTES:
        return await term.post(route, HARMLESS[route], **kwargs)
    return await term.get(route, **kwargs)


# ------------------------------------------------------------------- the checks


@pytest.mark.parametrize("route", READ_ROUTES + TRADE_ROUTES)
async def test_every_route_needs_a_key_of_the_accounts_owner(term: Terminal, route: str) -> None:
    assert_terminal_error(await call(term, route, key=None), 401, "unauthorized")
    assert_terminal_error(await call(term, route, key="nobody"), 401, "unauthorized")
    # A key that may not see the account: 401 at the terminal, as the vendor SDK documents.
    assert_terminal_error(await call(term, route, key=OTHER), 401, "unauthorized")
    assert (await call(term, route, auth="bearer")).status == 200


@pytest.mark.parametrize("route", TRADE_ROUTES)
async def test_a_read_key_may_not_trade(term: Terminal, route: str) -> None:
    assert_terminal_error(await call(term, route, key=READ), 403, "forbidden")
    assert (await call(term, route, key=TRADE)).status == 200


@pytest.mark.parametrize("route", READ_ROUTES)
async def test_a_read_key_reads(term: Terminal, route: str) -> None:
    assert (await call(term, route, key=READ)).status == 200


async def test_an_unknown_account_is_404(http: aiohttp.ClientSession, account: dict[str, Any]):
    ghost = {**account, "rest_url": account["rest_url"].rsplit("/", 1)[0] + "/nope"}
    assert_terminal_error(await Terminal(http, ghost).get("/AccountSummary"), 404, "not_found")


@pytest.mark.parametrize("route", READ_ROUTES + TRADE_ROUTES)
async def test_every_route_is_503_while_the_account_is_not_connected(
    sim: Simulator, term: Terminal, account: dict[str, Any], route: str
) -> None:
    await steer(sim.set_account_status(account["id"], "disconnected"))
    assert_terminal_error(await call(term, route), 503, "terminal_not_ready")


async def test_an_unknown_path_and_a_wrong_method_answer_json(term: Terminal) -> None:
    assert_terminal_error(await term.get("/Nope"), 404, "not_found")
    reply = await term.request("PUT", "/AccountSummary")
    assert_terminal_error(reply, 405, "method_not_allowed")
    assert reply.headers["Allow"] == "GET"
    assert (await term.request("HEAD", "/AccountSummary")).status == 405
    assert (await term.request("GET", "/OrderSend")).headers["Allow"] == "POST"


async def test_a_body_over_a_mebibyte_is_413(term: Terminal) -> None:
    big = io.BytesIO(b'{"x": "' + b"x" * (1024 * 1024 + 1) + b'"}')
    assert_terminal_error(await term.request("POST", "/OrderSend", data=big), 413)  # type: ignore[arg-type]


async def test_the_rate_limit_is_the_accounts_shared_by_both_dialects(
    http: aiohttp.ClientSession,
) -> None:
    async with Simulator(config(rate_limit=3, terminal_interval=None)) as sim:
        api = Api(http, sim)
        account = await connected_account(api)
        term = Terminal(http, account)
        await api.summary(account["id"])  # the reference route spends the same bucket
        for _ in range(2):
            assert (await term.get("/AccountSummary")).status == 200
        reply = await term.get("/AccountSummary")
        assert_terminal_error(reply, 429, "rate_limited")
        assert int(reply.headers["Retry-After"]) >= 1


# ------------------------------------------------------------------- the routes


async def test_account_summary_and_info(term: Terminal, account: dict[str, Any]) -> None:
    summary = await term.ok("GET", "/AccountSummary")
    assert summary == {
        "balance": 10000.0,
        "credit": 0.0,
        "profit": 0.0,
        "equity": 10000.0,
        "margin": 0.0,
        "freeMargin": 10000.0,
        "marginLevel": 0.0,
        "leverage": 100,
        "currency": "USD",
        "type": "Demo",
    }
    info = await term.ok("GET", "/AccountInfo")
    assert info["login"] == account["login"]
    assert info["server"] == "Sim-Demo"
    assert info["company"] == "Sim"
    assert info["marginMode"] == "Hedging"
    assert info["tradeAllowed"] is True
    assert info["fifoClose"] is False
    assert set(info) == {
        "name",
        "login",
        "server",
        "company",
        "currency",
        "currencyDigits",
        "leverage",
        "type",
        "marginMode",
        "marginSoMode",
        "marginCallLevel",
        "stopOutLevel",
        "tradeAllowed",
        "tradeExpert",
        "limitOrders",
        "fifoClose",
    }


async def test_summary_follows_an_open_position(sim: Simulator, term: Terminal) -> None:
    await set_price(sim, "EURUSD", 1.10000, 1.10010)
    await term.buy(volume=1.0)
    await set_price(sim, "EURUSD", 1.10110, 1.10120)
    summary = await term.ok("GET", "/AccountSummary")
    assert summary["profit"] == pytest.approx(100.0)
    assert summary["equity"] == pytest.approx(10100.0)
    assert summary["margin"] == pytest.approx(1100.1)
    assert summary["marginLevel"] == pytest.approx(10100 / 1100.1 * 100, abs=0.01)


async def test_quote_and_symbols(sim: Simulator, term: Terminal) -> None:
    await set_price(sim, "EURUSD", 1.23450, 1.23460)
    got = await term.ok("GET", "/getQuote", params={"symbol": "EURUSD"})
    assert got["symbol"] == "EURUSD"
    assert (got["bid"], got["ask"]) == (1.2345, 1.2346)
    assert (got["last"], got["volume"]) == (0.0, 0)
    assert got["time"].endswith("Z")
    assert await term.ok("GET", "/symbols") == ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
    assert_terminal_error(await term.get("/getQuote", params={"symbol": "NOPE"}), 404)
    assert_terminal_error(await term.get("/getQuote"), 400, "MRPC_VALIDATION")


@pytest.mark.parametrize(
    ("symbol", "digits", "contract", "base"),
    [("EURUSD", 5, 100000.0, "EUR"), ("USDJPY", 3, 100000.0, "USD"), ("XAUUSD", 2, 100.0, "XAU")],
)
async def test_symbol_info(
    term: Terminal, symbol: str, digits: int, contract: float, base: str
) -> None:
    info = await term.ok("GET", "/SymbolInfo", params={"symbol": symbol})
    assert (info["symbol"], info["digits"], info["contractSize"]) == (symbol, digits, contract)
    assert info["point"] == pytest.approx(10.0**-digits)
    assert info["tickSize"] == info["point"]
    assert (info["volumeMin"], info["volumeMax"], info["volumeStep"]) == (0.01, 100.0, 0.01)
    assert info["currencyBase"] == base
    assert info["currencyMargin"] == base
    assert info["spread"] == round((info["ask"] - info["bid"]) / info["point"])
    assert (info["swapLong"], info["swapShort"]) == (-6.0, 1.5)
    assert info["stopsLevel"] == 0
    assert info["tradeMode"] == "Full"
    days = [s["day"] for s in info["sessions"]]
    assert days == ["SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY"]
    assert all((s["from"], s["to"]) == ("00:00", "24:00") for s in info["sessions"])
    [rule] = info["commissions"]
    assert rule["tiers"][0]["value"] == 7.0
    assert rule["currency"] == "USD"
    if info["currencyProfit"] == "USD":
        assert info["tickValue"] == pytest.approx(info["point"] * contract)


async def test_tick_value_converts_the_profit_currency(sim: Simulator, term: Terminal) -> None:
    await set_price(sim, "USDJPY", 150.000, 150.000)
    info = await term.ok("GET", "/SymbolInfo", params={"symbol": "USDJPY"})
    assert info["tickValue"] == pytest.approx(100 / 150, abs=1e-6)


@pytest.mark.parametrize("timeframe", TIMEFRAMES)
async def test_price_history_serves_every_timeframe(term: Terminal, timeframe: str) -> None:
    bars = await term.ok(
        "GET", "/PriceHistory", params={"symbol": "EURUSD", "timeframe": timeframe}
    )
    assert 1 <= len(bars) <= 1000
    assert set(bars[0]) == {
        "time",
        "open",
        "high",
        "low",
        "close",
        "tickVolume",
        "realVolume",
        "spread",
    }
    times = [b["time"] for b in bars]
    assert times == sorted(times)
    assert len(set(times)) == len(times)
    assert all(
        b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        for b in bars
    )


async def test_price_history_ranges(term: Terminal) -> None:
    params = {
        "symbol": "EURUSD",
        "timeframe": "M5",
        "from": "2026-01-05",
        "to": "2026-01-05T00:20:00",
    }
    bars = await term.ok("GET", "/PriceHistory", params=params)
    assert [b["time"] for b in bars] == [
        f"2026-01-05T00:{m:02d}:00.000Z" for m in (0, 5, 10, 15, 20)
    ]
    long = await term.ok(
        "GET", "/PriceHistory", params={"symbol": "EURUSD", "timeframe": "M1", "from": "2026-01-05"}
    )
    assert len(long) == 1000
    cases = [
        {"symbol": "EURUSD", "timeframe": "H2"},
        {"symbol": "EURUSD", "timeframe": "MN"},
        {"symbol": "EURUSD"},
        {"timeframe": "H1"},
        {"symbol": "EURUSD", "timeframe": "H1", "from": "yesterday"},
        {"symbol": "EURUSD", "timeframe": "H1", "from": "2026-02-01", "to": "2026-01-01"},
    ]
    for bad in cases:
        assert_terminal_error(await term.get("/PriceHistory", params=bad), 400, "MRPC_VALIDATION")
    missing = {"symbol": "NOPE", "timeframe": "H1"}
    assert_terminal_error(await term.get("/PriceHistory", params=missing), 404)


async def test_history_routes_filter_by_time(sim: Simulator, term: Terminal) -> None:
    ticket = await term.buy()
    await term.ok("POST", "/OrderClose", body={"ticket": ticket})
    deals = await term.ok("GET", "/OrderHistory")
    assert [(d["entry"], d["position"]) for d in deals] == [("In", ticket), ("Out", ticket)]
    rounds = await term.ok("GET", "/PositionHistory")
    assert [r["positionId"] for r in rounds] == [ticket]
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    assert await term.ok("GET", "/OrderHistory", params={"from": later}) == []
    assert await term.ok("GET", "/PositionHistory", params={"from": later}) == []
    earlier = "2020-01-01"
    assert len(await term.ok("GET", "/OrderHistory", params={"from": earlier, "to": later})) == 2
    bad = {"from": "2026-02-01", "to": "2026-01-01"}
    assert_terminal_error(await term.get("/OrderHistory", params=bad), 400, "MRPC_VALIDATION")


async def test_server_timezone_follows_the_brokers_offset(http: aiohttp.ClientSession) -> None:
    async with Simulator(config(broker_utc_offset=2, terminal_interval=None)) as sim:
        account = await connected_account(Api(http, sim))
        zone = await Terminal(http, account).ok("GET", "/ServerTimezone")
        assert zone["utcOffsetSeconds"] == 7200
        server = datetime.fromisoformat(zone["serverTime"]).replace(tzinfo=None)
        utc = datetime.now(UTC).replace(tzinfo=None)
        assert abs((server - utc) - timedelta(hours=2)) < timedelta(seconds=30)


async def test_calculators(term: Terminal) -> None:
    margin = await term.ok(
        "GET",
        "/OrderCalcMargin",
        params={"symbol": "EURUSD", "operation": "buy", "volume": 1, "price": 1.08},
    )
    assert margin == {
        "symbol": "EURUSD",
        "operation": "Buy",
        "volume": 1.0,
        "price": 1.08,
        "margin": 1080.0,
        "currency": "USD",
    }
    profit = await term.ok(
        "GET",
        "/OrderCalcProfit",
        params={
            "symbol": "EURUSD",
            "operation": "Sell",
            "volume": 2,
            "priceOpen": 1.1,
            "priceClose": 1.09,
        },
    )
    assert profit["profit"] == pytest.approx(2000.0)
    assert profit["operation"] == "Sell"
    assert profit["priceOpen"] == 1.1
    assert profit["priceClose"] == 1.09
    for bad in (
        {"symbol": "EURUSD", "operation": "Teleport", "volume": 1, "price": 1},
        {"symbol": "EURUSD", "operation": "Buy", "volume": 0, "price": 1},
        {"symbol": "EURUSD", "operation": "Buy", "volume": "x", "price": 1},
        {"symbol": "EURUSD", "operation": "Buy"},
    ):
        assert_terminal_error(
            await term.get("/OrderCalcMargin", params=bad), 400, "MRPC_VALIDATION"
        )


async def test_probes(sim: Simulator, term: Terminal, account: dict[str, Any]) -> None:
    status = await term.ok("GET", "/status")
    assert status["status"] == "ready"
    assert status["account"]["loggedIn"] is True
    assert status["broker"]["connected"] is True
    assert status["bridge"]["tradeEaReady"] is True
    assert status["account"]["login"] == account["login"]
    ready = {"status": "ready", "terminal": True, "broker": True, "account": True}
    for probe in ("/healthz", "/livez"):
        assert await term.ok("GET", probe) == ready
        assert (await term.get(probe, key=None)).status == 200  # probes need no key
    await steer(sim.set_account_status(account["id"], "error", "broker down"))
    assert (await term.ok("GET", "/status"))["status"] == "degraded"
    healthz = await term.get("/healthz")
    assert healthz.status == 503
    assert healthz.body["status"] == "degraded"
    assert (await term.get("/livez")).status == 200
    await steer(sim.set_account_status(account["id"], "disconnected"))
    livez = await term.get("/livez")
    assert livez.status == 503
    assert livez.body == {"status": "down", "terminal": False, "broker": False, "account": False}
    status = await term.ok("GET", "/status")  # always 200, with the reason
    assert status["status"] == "down"
    assert status["account"]["loggedIn"] is False
