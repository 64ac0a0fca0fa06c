"""Money: profit, margin, swap, currency conversion and the account figures.

Everything here is read from the current quotes and the broker clock; nothing
is stored, so equity, margin and floating profit follow every price move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from .._core.events import AccountUpdateData
from .._core.models import AccountSummary, Position, Quote
from ._config import SimulatorConfig
from ._errors import SimError
from ._market import Market
from ._records import AccountRecord, OrderRecord
from ._symbols import SymbolSpec

__all__ = ["Money", "close_price", "money", "open_orders"]


def money(amount: float) -> float:
    """``amount`` in cents."""
    # Adding 0.0 turns -0.0 into 0.0, which must never reach the wire.
    return round(amount, 2) + 0.0


def close_price(order: OrderRecord, quote: Quote) -> float:
    """The price a position closes at: the bid for a BUY, the ask for a SELL."""
    return quote.bid if order.is_buy else quote.ask


def open_orders(account: AccountRecord) -> Iterator[OrderRecord]:
    """The account's filled orders, that is its positions."""
    return (o for o in account.orders.values() if o.filled_at is not None)


class Money:
    """The broker's arithmetic over the market's current prices."""

    def __init__(
        self, config: SimulatorConfig, market: Market, *, now: Callable[[], datetime]
    ) -> None:
        self.config = config
        self.market = market
        self._now = now

    def spec(self, symbol: str) -> SymbolSpec:
        """The instrument ``symbol``; raises ``SimError`` 404 ``invalid_symbol`` if unknown."""
        spec = self.market.specs.get(symbol)
        if spec is None:
            known = ", ".join(self.market.specs)
            raise SimError(404, "invalid_symbol", f"unknown symbol {symbol!r}; known: {known}")
        return spec

    def quote(self, symbol: str) -> Quote:
        """The current quote; raises ``SimError`` 404 ``invalid_symbol`` if unknown."""
        self.spec(symbol)
        return self.market.quote(symbol)

    def profit(self, order: OrderRecord, close_price: float, volume: float | None = None) -> float:
        """The profit of ``volume`` lots (default: all) of ``order`` closed at ``close_price``.

        In the account currency. Raises ``SimError`` 500 if no quoted symbol
        converts its currency.
        """
        lots = order.volume if volume is None else volume
        return self.trade_profit(order.symbol, order.is_buy, order.price, close_price, lots)

    def trade_profit(
        self, symbol: str, is_buy: bool, open_price: float, close_price: float, volume: float
    ) -> float:
        """The profit of a trade of ``volume`` lots, in the account currency, rounded to cents.

        Raises ``SimError`` 404 for an unknown symbol, 500 if no quoted symbol
        converts its currency.
        """
        spec = self.spec(symbol)
        move = close_price - open_price if is_buy else open_price - close_price
        return round(self.to_account_currency(move * volume * spec.contract_size, spec.quote), 2)

    def margin(self, symbol: str, volume: float, price: float) -> float:
        """The margin ``volume`` lots at ``price`` tie up, unrounded.

        Raises ``SimError`` 500 if no quoted symbol converts its currency.
        """
        spec = self.spec(symbol)
        notional = volume * spec.contract_size
        if spec.base == self.config.currency:
            value = notional
        else:
            value = self.to_account_currency(notional * price, spec.quote)
        return value / self.config.leverage

    def swap(self, order: OrderRecord, until: datetime, volume: float | None = None) -> float:
        """The swap ``volume`` lots (default: all) of a position have accrued by ``until``:
        one charge per rollover held."""
        assert order.filled_at is not None
        rollovers = (until.date() - order.filled_at.date()).days
        rate = self.config.swap_long if order.is_buy else self.config.swap_short
        return money(rollovers * rate * (order.volume if volume is None else volume))

    def figures(self, account: AccountRecord) -> AccountUpdateData:
        """Balance, equity, margin and free margin at the current prices.

        Raises ``SimError`` 500 if no quoted symbol converts a position's currency.
        """
        floating = margin = 0.0
        for order in open_orders(account):
            quote = self.market.quote(order.symbol)
            floating += self.profit(order, close_price(order, quote))
            margin += self.margin(order.symbol, order.volume, order.price)
        equity = round(account.balance + floating, 2)
        margin = round(margin, 2)
        return AccountUpdateData(
            balance=round(account.balance, 2),
            equity=equity,
            margin=margin,
            free_margin=round(equity - margin, 2),
            currency=self.config.currency,
        )

    def summary(self, account: AccountRecord) -> AccountSummary:
        """The account's figures as the REST reply; raises as ``figures`` does."""
        figures = self.figures(account)
        return AccountSummary(
            id=account.id,
            balance=figures.balance,
            equity=figures.equity,
            margin=figures.margin,
            free_margin=figures.free_margin,
            currency=figures.currency,
        )

    def positions(self, account: AccountRecord) -> list[Position]:
        """The open positions with their floating profit and swap; raises as ``profit`` does."""
        now = self._now()
        result = []
        for order in open_orders(account):
            quote = self.market.quote(order.symbol)
            result.append(
                Position(
                    id=order.id,
                    symbol=order.symbol,
                    type=order.direction,
                    volume=order.volume,
                    open_price=order.price,
                    sl=order.sl,
                    tp=order.tp,
                    profit=self.profit(order, close_price(order, quote)),
                    swap=self.swap(order, now),
                    comment=order.comment,
                    opened_at=order.filled_at,
                )
            )
        return result

    def require_margin(self, account: AccountRecord, order: OrderRecord) -> None:
        """Raises ``SimError`` 400 ``not_enough_money`` if free margin cannot carry ``order``."""
        needed = self.margin(order.symbol, order.volume, order.price)
        free = self.figures(account).free_margin
        if needed > free:
            raise SimError(
                400,
                "not_enough_money",
                f"the order needs {needed:.2f} {self.config.currency} margin; "
                f"free margin is {free:.2f}",
            )

    def to_account_currency(self, amount: float, currency: str) -> float:
        """``amount`` of ``currency`` in the account currency, at the current mid prices.

        Raises ``SimError`` 500 if no quoted symbol converts it.
        """
        target = self.config.currency
        if currency == target:
            return amount
        for spec in self.market.specs.values():
            quote = self.market.quote(spec.name)
            mid = (quote.bid + quote.ask) / 2
            if spec.base == currency and spec.quote == target:
                return amount * mid
            if spec.base == target and spec.quote == currency:
                return amount / mid
        raise SimError(500, "internal_error", f"no rate converts {currency} to {target}")
