"""The simulated broker behind the routes: one facade over accounts, money and orders.

Synchronous and free of I/O: the web layer decodes a request, calls one method
here and encodes what comes back. Refusals are ``SimError`` with the wire's
status and code. The rules live in ``_accounts`` (linking, provisioning,
status, the event ledger), ``_money`` (profit, margin, swap, account figures),
``_orders`` (placing and changing), ``_lifecycle`` (fills, closes, price
moves) and ``_history``. Three things come from outside: ``schedule`` (a
timer, for terminal provisioning and throttled account updates), ``publish``
(hands each per-account event to the reference stream hub, in ``seq`` order)
and ``observe`` (hands each event and deal to the terminal side).

Both dialects drive one ``Engine``: an order placed through one shows in the other.
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
from ._account_json import AccountBody, TerminalUrls, public_account
from ._accounts import Accounts
from ._config import SimulatorConfig
from ._history import history_page
from ._lifecycle import Lifecycle
from ._market import Market
from ._money import Money
from ._orders import Orders
from ._records import AccountRecord, Observe, Publish, Schedule, Tickets
from ._requests import LinkBody

__all__ = ["Engine"]


class Engine:
    """The broker behind the simulator's routes. See docs/simulator.md for the rules.

    Every route and steering handle goes through these methods (so a test can
    wrap one, such as ``create_order``, on ``sim.engine``). The terminal
    dialect also reaches ``money``, ``orders`` and ``lifecycle`` directly.
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
        observe: Observe | None = None,
        urls: TerminalUrls | None = None,
        wall: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.market = market
        self.now = now
        # Account ids come from one seeded sequence, in the order they are made,
        # so a seed reproduces every id; tickets count up from fixed numbers.
        ids = random.Random(f"ids:{config.seed}")
        tickets = Tickets()
        self.money = Money(config, market, now=now)
        self.registry = Accounts(
            config,
            self.money,
            ids,
            now=now,
            monotonic=monotonic,
            schedule=schedule,
            publish=publish,
            observe=observe,
            urls=urls,
        )
        self.lifecycle = Lifecycle(
            config, self.registry, self.money, tickets, now=now, monotonic=monotonic
        )
        # Idempotency keys expire on ``wall`` (real time, default ``now``): a replay's
        # broker clock may race through hours, and a retry must still find its key.
        self.orders = Orders(
            config, self.registry, self.money, self.lifecycle, tickets, now=now, wall=wall
        )

    # ------------------------------------------------------------ accounts

    def accounts(self, owner: str) -> list[Account]:
        return [public_account(body) for body in self.registry.bodies(owner)]

    def account(self, owner: str, account_id: str) -> Account:
        """Raises ``SimError`` 404 ``not_found`` unless ``owner`` linked the account."""
        return public_account(self.account_body(owner, account_id))

    def account_bodies(self, owner: str) -> list[AccountBody]:
        """The accounts' JSON as ``GET /v1/accounts`` answers it."""
        return self.registry.bodies(owner)

    def account_body(self, owner: str, account_id: str) -> AccountBody:
        """Raises ``SimError`` 404 ``not_found`` unless ``owner`` linked the account."""
        return self.registry.body(self.registry.find(owner, account_id))

    def link(self, owner: str, request: LinkBody | LinkAccountRequest) -> Account:
        """Link an account; raises ``SimError`` as ``Accounts.link`` documents."""
        return public_account(self.link_body(owner, request))

    def link_body(self, owner: str, request: LinkBody | LinkAccountRequest) -> AccountBody:
        """``link``, answering the account's JSON."""
        return self.registry.body(self.registry.link(owner, request))

    def complete_provisioning(self, account_id: str) -> None:
        """Bring a connecting account's terminal up now (or fail it, for ``-Broken``)."""
        self.registry.complete_provisioning(account_id)

    def set_status(self, account_id: str, status: str, error: str = "") -> None:
        """Move the account to ``status``; raises ``KeyError`` if it is not linked."""
        self.registry.set_status(account_id, status, error)

    def unlink(self, owner: str, account_id: str) -> None:
        """Forget the account; raises ``SimError`` 404 ``not_found`` unless ``owner`` linked it."""
        self.registry.unlink(owner, account_id)

    def resolve(self, owner: str, account_id: str | None) -> AccountRecord:
        """The account a per-account route acts on; raises as ``Accounts.resolve`` does."""
        return self.registry.resolve(owner, account_id)

    @staticmethod
    def require_connected(account: AccountRecord) -> None:
        """Raises ``SimError`` 503 ``terminal_not_ready`` unless the account is connected."""
        Accounts.require_connected(account)

    def owner_of(self, account_id: str) -> str | None:
        return self.registry.owner_of(account_id)

    def ledger(self, account_id: str) -> list[AccountEvent]:
        """Raises ``KeyError`` for an account that is not linked."""
        return self.registry.ledger(account_id)

    # --------------------------------------------------------------- money

    def summary(self, account: AccountRecord) -> AccountSummary:
        return self.money.summary(account)

    def positions(self, account: AccountRecord) -> list[Position]:
        return self.money.positions(account)

    def quote(self, symbol: str) -> Quote:
        """Raises ``SimError`` 404 ``invalid_symbol`` for an unknown symbol."""
        return self.money.quote(symbol)

    # -------------------------------------------------------------- orders

    def pending_orders(self, account: AccountRecord) -> list[OrderReply]:
        return self.orders.pending_orders(account)

    def create_order(
        self,
        account: AccountRecord,
        request: CreateOrderRequest,
        idempotency_key: str | None = None,
    ) -> tuple[OrderReply, bool]:
        """Place an order; returns the reply and whether it was an idempotent replay.

        Raises ``SimError`` as ``Orders.create_order`` documents.
        """
        return self.orders.create_order(account, request, idempotency_key)

    def modify_order(
        self, account: AccountRecord, order_id: str, body: dict[str, Any]
    ) -> ModifyOrderReply:
        """Change SL, TP or a pending price; raises as ``Orders.modify_order`` documents."""
        return self.orders.modify_order(account, order_id, body)

    def close_order(self, account: AccountRecord, order_id: str) -> CloseOrderReply:
        """Close a position or cancel a pending order; raises 404 ``order_not_found``."""
        return self.orders.close_order(account, order_id)

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """React to new prices: trigger pending orders, SL and TP; move equity."""
        self.lifecycle.on_quotes(quotes)

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
