"""The simulated broker behind the routes: one facade over accounts, money and orders.

Synchronous and free of I/O: the web layer decodes a request, calls one method
here and encodes what comes back. Refusals are ``SimError`` with the wire's
status and code. The rules live in ``_accounts`` (linking, provisioning,
status, the event ledger), ``_money`` (profit, margin, swap, account figures),
``_orders`` (trading and reacting to prices) and ``_history``. Two things come
from outside: ``schedule`` (a timer, for terminal provisioning and throttled
account updates) and ``publish`` (hands each per-account event to the stream
hub, in ``seq`` order).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from .._core.events import AccountEvent
from .._core.models import (
    Account,
    AccountSummary,
    CloseOrderReply,
    CreateOrderRequest,
    HistoryPage,
    LinkAccountRequest,
    ModifyOrderReply,
    OrderReply,
    Position,
    Quote,
)
from ._accounts import Accounts
from ._config import SimulatorConfig
from ._history import history_page
from ._market import Market
from ._money import Money
from ._orders import Orders
from ._records import AccountRecord, Publish, Schedule

__all__ = ["Engine"]


class Engine:
    """The broker behind the simulator's routes. See docs/simulator.md for the rules.

    Every route and steering handle goes through these methods (so a test can
    wrap one, such as ``create_order``, on ``sim.engine``).
    """

    def __init__(
        self,
        config: SimulatorConfig,
        market: Market,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        schedule: Schedule,
        publish: Publish,
    ) -> None:
        self.config = config
        self.market = market
        # Account and order ids come from one seeded sequence, in the order
        # they are made, so a seed reproduces every id.
        ids = random.Random(f"ids:{config.seed}")
        self._money = Money(config, market, now=now)
        self._accounts = Accounts(
            config,
            self._money,
            ids,
            now=now,
            monotonic=monotonic,
            schedule=schedule,
            publish=publish,
        )
        self._orders = Orders(
            config, self._accounts, self._money, ids, now=now, monotonic=monotonic
        )

    # ------------------------------------------------------------ accounts

    def accounts(self, owner: str) -> list[Account]:
        return self._accounts.accounts(owner)

    def account(self, owner: str, account_id: str) -> Account:
        """Raises ``SimError`` 404 ``not_found`` unless ``owner`` linked the account."""
        return self._accounts.account(owner, account_id)

    def link(self, owner: str, request: LinkAccountRequest) -> Account:
        """Link an account; raises ``SimError`` as ``Accounts.link`` documents."""
        return self._accounts.link(owner, request)

    def complete_provisioning(self, account_id: str) -> None:
        """Bring a connecting account's terminal up now (or fail it, for ``-Broken``)."""
        self._accounts.complete_provisioning(account_id)

    def set_status(self, account_id: str, status: str, error: str = "") -> None:
        """Move the account to ``status``; raises ``KeyError`` if it is not linked."""
        self._accounts.set_status(account_id, status, error)

    def unlink(self, owner: str, account_id: str) -> None:
        """Forget the account; raises ``SimError`` 404 ``not_found`` unless ``owner`` linked it."""
        self._accounts.unlink(owner, account_id)

    def resolve(self, owner: str, account_id: str | None) -> AccountRecord:
        """The account a per-account route acts on; raises as ``Accounts.resolve`` does."""
        return self._accounts.resolve(owner, account_id)

    @staticmethod
    def require_connected(account: AccountRecord) -> None:
        """Raises ``SimError`` 503 ``terminal_not_ready`` unless the account is connected."""
        Accounts.require_connected(account)

    def owner_of(self, account_id: str) -> str | None:
        return self._accounts.owner_of(account_id)

    def ledger(self, account_id: str) -> list[AccountEvent]:
        """Raises ``KeyError`` for an account that is not linked."""
        return self._accounts.ledger(account_id)

    # --------------------------------------------------------------- money

    def summary(self, account: AccountRecord) -> AccountSummary:
        return self._money.summary(account)

    def positions(self, account: AccountRecord) -> list[Position]:
        return self._money.positions(account)

    def quote(self, symbol: str) -> Quote:
        """Raises ``SimError`` 404 ``invalid_symbol`` for an unknown symbol."""
        return self._money.quote(symbol)

    # -------------------------------------------------------------- orders

    def pending_orders(self, account: AccountRecord) -> list[OrderReply]:
        return self._orders.pending_orders(account)

    def create_order(
        self,
        account: AccountRecord,
        request: CreateOrderRequest,
        idempotency_key: str | None = None,
    ) -> tuple[OrderReply, bool]:
        """Place an order; returns the reply and whether it was an idempotent replay.

        Raises ``SimError`` as ``Orders.create_order`` documents.
        """
        return self._orders.create_order(account, request, idempotency_key)

    def modify_order(
        self, account: AccountRecord, order_id: str, body: dict[str, Any]
    ) -> ModifyOrderReply:
        """Change SL, TP or a pending price; raises as ``Orders.modify_order`` documents."""
        return self._orders.modify_order(account, order_id, body)

    def close_order(self, account: AccountRecord, order_id: str) -> CloseOrderReply:
        """Close a position or cancel a pending order; raises 404 ``order_not_found``."""
        return self._orders.close_order(account, order_id)

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """React to new prices: trigger pending orders, SL and TP; move equity."""
        self._orders.on_quotes(quotes)

    # ------------------------------------------------------------- history

    def history(
        self,
        account: AccountRecord,
        *,
        start: datetime | None,
        end: datetime | None,
        symbol: str | None,
        order_type: str | None,
        offset: int,
        limit: int,
    ) -> HistoryPage:
        """A page of closed trades; raises ``SimError`` 400 for a bad limit, offset or range."""
        return history_page(
            account,
            start=start,
            end=end,
            symbol=symbol,
            order_type=order_type,
            offset=offset,
            limit=limit,
        )
