"""The engine's state as the terminal dialect shows it: its read-only replies and pushes.

Pure functions from the one engine to the Structs of ``_terminal_wire``; the
reference dialect reads the same accounts, orders, deals and prices.
Conventions (the simulator's, see docs/protocol.md): order types are written
``Buy``, ``BuyLimit``, ``BuyStopLimit``...; an absent SL or TP is ``0``; times
are broker time; on MT4 a deal ticket is 0 and ``OrderHistory`` has one row
per close of an order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ._engine import Engine
from ._money import close_price
from ._records import AccountRecord, DealRecord, OrderRecord
from ._terminal_wire import (
    TAccountHealth,
    TAccountInfo,
    TAccountSummary,
    TBridgeHealth,
    TBrokerHealth,
    TCandle,
    TCommissionRule,
    TCommissionTier,
    THealth,
    THealthChecks,
    THistoryDeal,
    TOpenedOrder,
    TPositionTrade,
    TQuote,
    TServerTimezone,
    TSymbolInfo,
    TTerminalHealth,
    TTerminalStatus,
    TTradeEvent,
    TTradingSession,
    broker_time,
)

__all__ = [
    "TERMINAL_TIMEFRAMES",
    "account_info",
    "account_summary",
    "candles",
    "health",
    "health_checks",
    "mt_type",
    "opened_orders",
    "order_history",
    "position_history",
    "quote",
    "server_timezone",
    "symbol_info",
    "terminal_status",
    "trade_event",
]

#: The terminal's nine timeframe labels -> the engine's (``MN1`` is the reference's ``MN``).
TERMINAL_TIMEFRAMES: Final = {
    "M1": "M1",
    "M5": "M5",
    "M15": "M15",
    "M30": "M30",
    "H1": "H1",
    "H4": "H4",
    "D1": "D1",
    "W1": "W1",
    "MN1": "MN",
}
_DAYS: Final = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")
_CURRENCIES: Final = {
    "EUR": "Euro",
    "USD": "US Dollar",
    "GBP": "Great Britain Pound",
    "JPY": "Japanese Yen",
    "XAU": "Gold",
}
#: The simulator's terminal build (``/status``); there is no real terminal behind it.
BUILD: Final = 0
VERSION: Final = "fxsocket-async-simulator"


def mt_type(order_type: str) -> str:
    """``BUY_STOP_LIMIT`` -> ``BuyStopLimit``: the engine's type in MetaTrader spelling."""
    return "".join(part.capitalize() for part in order_type.split("_"))


def _stop(value: float | None) -> float:
    return 0.0 if value is None else value


def _account_type(account: AccountRecord) -> str:
    return "Demo" if "demo" in account.server.lower() else "Real"


# ---------------------------------------------------------------- account


def account_summary(engine: Engine, account: AccountRecord) -> TAccountSummary:
    figures = engine.money.figures(account)
    margin_level = round(figures.equity / figures.margin * 100, 2) if figures.margin else 0.0
    return TAccountSummary(
        balance=figures.balance,
        credit=0.0,
        profit=round(figures.equity - figures.balance, 2),
        equity=figures.equity,
        margin=figures.margin,
        free_margin=figures.free_margin,
        margin_level=margin_level,
        leverage=int(engine.config.leverage),
        currency=figures.currency,
        type=_account_type(account),
    )


def account_info(engine: Engine, account: AccountRecord) -> TAccountInfo:
    return TAccountInfo(
        name=account.nickname or f"Simulated {account.login}",
        login=account.login,
        server=account.server,
        company=account.broker,
        currency=engine.config.currency,
        currency_digits=2,
        leverage=int(engine.config.leverage),
        type=_account_type(account),
        margin_mode="Hedging",
        margin_so_mode="Percent",
        margin_call_level=100.0,
        stop_out_level=50.0,
        trade_allowed=account.status == "connected",
        trade_expert=True,
        limit_orders=0,
        fifo_close=False,
    )


def opened_orders(engine: Engine, account: AccountRecord) -> list[TOpenedOrder]:
    """The open positions and pending orders, in the order they were placed."""
    return [_opened(engine, account, order) for order in account.orders.values()]


def _opened(engine: Engine, account: AccountRecord, order: OrderRecord) -> TOpenedOrder:
    quote = engine.market.quote(order.symbol)
    if order.filled_at is None:
        current = quote.ask if order.is_buy else quote.bid
        profit = swap = 0.0
        kind, opened, kind_type = "Pending", order.placed_at, order.type
    else:
        current = close_price(order, quote)
        profit = engine.money.profit(order, current)
        swap = engine.money.swap(order, engine.now())
        # A filled pending order is a plain Buy or Sell position, as in MetaTrader.
        kind, opened, kind_type = "Position", order.filled_at, order.direction
    return TOpenedOrder(
        ticket=order.ticket,
        symbol=order.symbol,
        type=mt_type(kind_type),
        kind=kind,
        lots=order.volume,
        open_price=order.price,
        current_price=current,
        stop_loss=_stop(order.sl),
        take_profit=_stop(order.tp),
        swap=swap,
        profit=profit,
        magic=order.magic,
        comment=order.comment,
        open_time=broker_time(opened),
    )


def _between(time: datetime, start: datetime | None, end: datetime | None) -> bool:
    return (start is None or time >= start) and (end is None or time <= end)


def order_history(
    account: AccountRecord, start: datetime | None, end: datetime | None
) -> list[THistoryDeal]:
    """The deals in ``[start, end]``, oldest first; on MT4 one row per close of an order."""
    deals = [d for d in account.deals if _between(d.time, start, end)]
    if account.platform == "mt4":
        return [
            THistoryDeal(
                ticket=d.position,
                order=d.position,
                position=d.position,
                symbol=d.symbol,
                type=mt_type("SELL" if d.type == "BUY" else "BUY"),  # the order's own type
                entry=d.entry,
                volume=d.volume,
                price=d.price,
                commission=d.commission,
                swap=d.swap,
                profit=d.profit,
                magic=d.magic,
                comment=d.comment,
                time=broker_time(d.time),
            )
            for d in deals
            if d.entry == "Out"
        ]
    return [
        THistoryDeal(
            ticket=d.ticket,
            order=d.order,
            position=d.position,
            symbol=d.symbol,
            type=mt_type(d.type),
            entry=d.entry,
            volume=d.volume,
            price=d.price,
            commission=d.commission,
            swap=d.swap,
            profit=d.profit,
            magic=d.magic,
            comment=d.comment,
            time=broker_time(d.time),
        )
        for d in deals
    ]


def position_history(
    account: AccountRecord, start: datetime | None, end: datetime | None
) -> list[TPositionTrade]:
    """Closed round trips (positions no longer open) whose last close is in ``[start, end]``."""
    rounds: dict[int, list[DealRecord]] = {}
    for deal in account.deals:
        rounds.setdefault(deal.position, []).append(deal)
    result = []
    for position, deals in rounds.items():
        if account.order(position) is not None:
            continue  # still open
        ins = [d for d in deals if d.entry == "In"]
        outs = [d for d in deals if d.entry == "Out"]
        if not ins or not outs or not _between(outs[-1].time, start, end):
            continue
        opened = ins[0]
        closed_volume = sum(d.volume for d in outs)
        average = sum(d.price * d.volume for d in outs) / closed_volume
        profit = round(sum(d.profit for d in outs), 2)
        swap = round(sum(d.swap for d in deals), 2)
        commission = round(sum(d.commission for d in deals), 2)
        result.append(
            TPositionTrade(
                position_id=position,
                symbol=opened.symbol,
                type=mt_type(opened.type),
                volume=opened.volume,
                open_time=broker_time(opened.time),
                open_price=opened.price,
                close_time=broker_time(outs[-1].time),
                close_price=round(average, 10),
                profit=profit,
                swap=swap,
                commission=commission,
                net_profit=round(profit + swap + commission, 2),
                magic=opened.magic,
                comment=opened.comment,
            )
        )
    result.sort(key=lambda r: r.close_time)
    return result


def server_timezone(engine: Engine) -> TServerTimezone:
    return TServerTimezone(
        server_time=broker_time(engine.now()),
        utc_offset_seconds=round(engine.config.broker_utc_offset * 3600),
    )


# ------------------------------------------------------------ market data


def quote(engine: Engine, symbol: str) -> TQuote:
    """Raises ``SimError`` 404 ``invalid_symbol`` for an unknown symbol."""
    q = engine.quote(symbol)
    return TQuote(symbol=q.symbol, bid=q.bid, ask=q.ask, time=broker_time(q.time))


def symbol_info(engine: Engine, symbol: str) -> TSymbolInfo:
    """Raises ``SimError`` 404 ``invalid_symbol`` for an unknown symbol."""
    spec = engine.money.spec(symbol)
    q = engine.market.quote(symbol)
    config = engine.config
    currency = config.currency
    tier = TCommissionTier(
        mode="SYMBOL_COMMISSION_MONEY_DEPOSIT",
        volume_type="SYMBOL_COMMISSION_VOLUME_TYPE_VOLUME",
        value=config.commission_per_lot,
        min_value=0.0,
        max_value=0.0,
        range_from=0.0,
        range_to=0.0,
        currency=currency,
    )
    rule = TCommissionRule(
        currency=currency,
        range_mode="SYMBOL_COMMISSION_RANGE_VOLUME",
        charge_mode="SYMBOL_COMMISSION_CHARGE_INSTANT",
        entry_mode="SYMBOL_COMMISSION_ENTRY_OUT",
        direction_mode="SYMBOL_COMMISSION_DIRECTION_BOTH",
        profit_mode="SYMBOL_COMMISSION_PROFIT_ALL",
        tiers=[tier],
    )
    names = [_CURRENCIES.get(c, c) for c in (spec.base, spec.quote)]
    tick = spec.point * spec.contract_size  # one point of one lot, in the profit currency
    return TSymbolInfo(
        symbol=spec.name,
        description=" vs ".join(names),
        digits=spec.digits,
        point=spec.point,
        tick_size=spec.point,
        tick_value=round(engine.money.to_account_currency(tick, spec.quote), 6),
        contract_size=spec.contract_size,
        volume_min=0.01,
        volume_max=100.0,
        volume_step=0.01,
        stops_level=0,
        freeze_level=0,
        spread=round((q.ask - q.bid) / spec.point),
        trade_mode="Full",
        swap_long=config.swap_long,
        swap_short=config.swap_short,
        bid=q.bid,
        ask=q.ask,
        currency_base=spec.base,
        currency_profit=spec.quote,
        currency_margin=spec.base,
        commissions=[rule] if config.commission_per_lot else [],
        sessions=[TTradingSession(day=day, start="00:00", end="24:00") for day in _DAYS],
    )


def candles(
    engine: Engine,
    symbol: str,
    timeframe: str,
    *,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> list[TCandle]:
    """Bid bars of ``symbol`` (a terminal ``timeframe``), oldest first, as ``Market.candles``."""
    spec = engine.money.spec(symbol)
    typical = sum(spec.spread_points) // 2
    bars = engine.market.candles(
        symbol, TERMINAL_TIMEFRAMES[timeframe], start=start, end=end, limit=limit
    )
    return [
        TCandle(
            time=broker_time(bar.time),
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            tick_volume=int(bar.volume),
            real_volume=0,
            spread=typical,
        )
        for bar in bars
    ]


# ----------------------------------------------------------------- stream


def trade_event(account: AccountRecord, deal: DealRecord) -> TTradeEvent:
    """A deal as the ``trades`` topic pushes it (on MT4 ``deal`` is 0, ``order`` the ticket)."""
    mt4 = account.platform == "mt4"
    return TTradeEvent(
        deal=0 if mt4 else deal.ticket,
        order=deal.position if mt4 else deal.order,
        position=deal.position,
        symbol=deal.symbol,
        type=mt_type(deal.type),
        entry=deal.entry,
        volume=deal.volume,
        price=deal.price,
        profit=deal.profit,
        commission=deal.commission,
        swap=deal.swap,
        magic=deal.magic,
        comment=deal.comment,
        time=broker_time(deal.time),
    )


def terminal_status(engine: Engine, account: AccountRecord) -> TTerminalStatus:
    connected = account.status == "connected"
    return TTerminalStatus(
        connected=connected, trade_allowed=connected, server_time=broker_time(engine.now())
    )


# ----------------------------------------------------------------- health

_HEALTH: Final = {
    "connected": "ready",
    "connecting": "starting",
    "error": "degraded",
    "disconnected": "down",
}


def health(engine: Engine, account: AccountRecord) -> THealth:
    """``/status``: ``ready`` when connected, ``starting``, ``degraded`` (error) or ``down``."""
    connected = account.status == "connected"
    return THealth(
        status=_HEALTH.get(account.status, "down"),
        terminal=TTerminalHealth(
            alive=account.status != "disconnected", build=BUILD, ping_ms=1 if connected else 0
        ),
        broker=TBrokerHealth(connected=connected, server=account.server),
        account=TAccountHealth(
            logged_in=connected,
            login=account.login,
            currency=engine.config.currency if connected else "",
            type=_account_type(account) if connected else "",
            trade_allowed=connected,
        ),
        bridge=TBridgeHealth(
            version=VERSION,
            trade_ea_ready=connected,
            trade_ea_heartbeat_age_ms=0 if connected else -1,
            symbols_synced=connected,
        ),
        server_time=broker_time(engine.now()),
    )


def health_checks(account: AccountRecord) -> THealthChecks:
    """The probes' PII-free body (``/healthz``, ``/livez``)."""
    connected = account.status == "connected"
    return THealthChecks(
        status=_HEALTH.get(account.status, "down"),
        terminal=account.status != "disconnected",
        broker=connected,
        account=connected,
    )
