"""The simulated broker: accounts, their terminals, orders, positions and history.

Synchronous and free of I/O so that every rule can be read in one place: the
web layer decodes a request, calls one method here and encodes what comes
back. Refusals are ``SimError`` with the wire's status and code. Two things
come from outside: ``schedule`` (a timer, for terminal provisioning) and
``publish`` (hands each per-account event to the stream hub, in ``seq`` order).
"""

from __future__ import annotations

import hashlib
import math
import random
import string
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from .._core.codec import encode
from .._core.events import (
    AccountEvent,
    AccountStatusChanged,
    AccountStatusData,
    AccountUpdate,
    AccountUpdateData,
    OrderCancelled,
    OrderCancelledData,
    OrderClosed,
    OrderClosedData,
    OrderFilled,
    OrderFilledData,
    OrderModified,
    OrderModifiedData,
    OrderOpened,
    OrderOpenedData,
)
from .._core.models import (
    HISTORY_MAX_LIMIT,
    MARKET_ORDER_TYPES,
    ORDER_TYPES,
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
    Trade,
)
from ._config import SimulatorConfig
from ._market import Market, SymbolSpec

__all__ = ["Engine", "SimError"]

IDEMPOTENCY_TTL = timedelta(minutes=15)
MIN_VOLUME, MAX_VOLUME, VOLUME_STEP = 0.01, 100.0, 0.01
LEDGER_LIMIT = 100_000
_ID_ALPHABET = string.ascii_letters + string.digits


class SimError(Exception):
    """A refusal the web layer turns into ``status`` + ``{"error", "message"}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class Cancel(Protocol):
    def cancel(self) -> None: ...


Schedule = Callable[[float, Callable[[], None]], Cancel]
Publish = Callable[[str, str, bytes], None]


@dataclass(slots=True)
class _Order:
    """A pending order or, once filled, a position (same id, as MT5 tickets)."""

    id: str
    symbol: str
    type: str  # the order type as placed
    volume: float
    price: float  # pending price, or open price once filled
    sl: float | None
    tp: float | None
    comment: str
    placed_at: datetime
    filled_at: datetime | None = None

    @property
    def is_buy(self) -> bool:
        return self.type.startswith("BUY")

    @property
    def direction(self) -> str:
        return "BUY" if self.is_buy else "SELL"


@dataclass(slots=True)
class _Account:
    id: str
    owner: str
    server: str
    login: int
    password: str = field(repr=False)
    nickname: str
    created_at: datetime
    balance: float
    status: str = "connecting"
    error: str = ""
    seq: int = 0
    orders: dict[str, _Order] = field(default_factory=dict)  # pending and open, by id
    history: list[Trade] = field(default_factory=list)
    idempotency: dict[str, tuple[bytes, datetime, OrderReply]] = field(default_factory=dict)
    ledger: deque[AccountEvent] = field(default_factory=lambda: deque(maxlen=LEDGER_LIMIT))
    last_account_event: float = -math.inf
    last_account_data: AccountUpdateData | None = None
    provisioning: Cancel | None = None
    trailing_update: Cancel | None = None

    def public(self) -> Account:
        return Account(
            id=self.id,
            nickname=self.nickname,
            platform="mt5",
            server=self.server,
            login=self.login,
            status=self.status,
            error=self.error,
            created_at=self.created_at,
            broker=self.server.rsplit("-", 1)[0],
        )


class Engine:
    """The broker behind the simulator's routes. See docs/simulator.md for the rules."""

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
        self._now = now
        self._monotonic = monotonic
        self._schedule = schedule
        self._publish = publish
        self._accounts: dict[str, _Account] = {}
        self._ids = random.Random(f"ids:{config.seed}")

    # ------------------------------------------------------------ accounts

    def accounts(self, owner: str) -> list[Account]:
        return [a.public() for a in self._accounts.values() if a.owner == owner]

    def account(self, owner: str, account_id: str) -> Account:
        return self._find(owner, account_id).public()

    def link(self, owner: str, request: LinkAccountRequest) -> Account:
        """Link an account; its terminal comes up after the provision delay."""
        if not request.server.strip():
            raise SimError(400, "invalid_request", "server must be the broker's server name")
        if request.login <= 0:
            raise SimError(400, "invalid_request", "login must be a positive account number")
        if not request.password:
            raise SimError(400, "invalid_request", "password is required")
        owned = [a for a in self._accounts.values() if a.owner == owner]
        if any(a.server == request.server and a.login == request.login for a in owned):
            raise SimError(
                409,
                "already_linked",
                f"account {request.login} on {request.server} is already linked",
            )
        if len(owned) >= self.config.plan_limit:
            raise SimError(
                402,
                "plan_limit",
                f"your plan allows {self.config.plan_limit} linked accounts; unlink one first",
            )
        if request.password == "invalid":
            raise SimError(
                400,
                "broker_rejected",
                f"{request.server} rejected the login for account {request.login}: "
                "invalid account or password",
            )
        account = _Account(
            id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            owner=owner,
            server=request.server,
            login=request.login,
            password=request.password,
            nickname=request.nickname or "",
            created_at=self._now().replace(microsecond=0),
            balance=self.config.balance,
        )
        self._accounts[account.id] = account
        account.provisioning = self._schedule(
            self.config.provision_delay, lambda: self.complete_provisioning(account.id)
        )
        return account.public()

    def complete_provisioning(self, account_id: str) -> None:
        """Bring a connecting account's terminal up now (or fail it, for ``-Broken``)."""
        account = self._accounts.get(account_id)
        if account is None or account.status != "connecting":
            return
        if account.provisioning is not None:
            account.provisioning.cancel()
            account.provisioning = None
        if account.server.endswith("-Broken"):
            self.set_status(
                account_id,
                "error",
                f"terminal provisioning failed: broker server {account.server} did not answer",
            )
        else:
            self.set_status(account_id, "connected")

    def set_status(self, account_id: str, status: str, error: str = "") -> None:
        account = self._accounts[account_id]
        if (account.status, account.error) == (status, error):
            return
        account.status, account.error = status, error
        self._emit(account, AccountStatusChanged, AccountStatusData(status=status, error=error))
        if status == "connected":
            self._emit_account_update(account, force=True)

    def unlink(self, owner: str, account_id: str) -> None:
        """Tear the terminal down and forget the account."""
        account = self._find(owner, account_id)
        for timer in (account.provisioning, account.trailing_update):
            if timer is not None:
                timer.cancel()
        account.status = "disconnected"
        self._emit(account, AccountStatusChanged, AccountStatusData(status="disconnected"))
        del self._accounts[account_id]

    def resolve(self, owner: str, account_id: str | None) -> _Account:
        """The account a per-account route acts on (``None``: the bare route form)."""
        if account_id is not None:
            return self._find(owner, account_id)
        owned = [a for a in self._accounts.values() if a.owner == owner]
        if not owned:
            raise SimError(404, "not_found", "no account is linked to this API key")
        if len(owned) > 1:
            raise SimError(
                400,
                "account_required",
                f"this key has {len(owned)} linked accounts: use /v1/accounts/{{account_id}}/...",
            )
        return owned[0]

    @staticmethod
    def require_connected(account: _Account) -> None:
        if account.status != "connected":
            detail = f": {account.error}" if account.error else ""
            raise SimError(
                503,
                "terminal_not_ready",
                f"account {account.id} is {account.status}{detail}; its terminal is not ready",
            )

    def exists(self, account_id: str) -> bool:
        return account_id in self._accounts

    def owner_of(self, account_id: str) -> str | None:
        account = self._accounts.get(account_id)
        return None if account is None else account.owner

    def ledger(self, account_id: str) -> list[AccountEvent]:
        return list(self._accounts[account_id].ledger)

    def _find(self, owner: str, account_id: str) -> _Account:
        account = self._accounts.get(account_id)
        if account is None or account.owner != owner:
            raise SimError(404, "not_found", f"no account {account_id!r} is linked to this key")
        return account

    # -------------------------------------------------------- money and prices

    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.market.specs.get(symbol)
        if spec is None:
            known = ", ".join(self.market.specs)
            raise SimError(404, "invalid_symbol", f"unknown symbol {symbol!r}; known: {known}")
        return spec

    def _to_account_currency(self, amount: float, currency: str) -> float:
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

    def _profit(self, order: _Order, close_price: float) -> float:
        spec = self._spec(order.symbol)
        move = close_price - order.price if order.is_buy else order.price - close_price
        return round(
            self._to_account_currency(move * order.volume * spec.contract_size, spec.quote), 2
        )

    def _margin(self, symbol: str, volume: float, price: float) -> float:
        spec = self._spec(symbol)
        notional = volume * spec.contract_size
        if spec.base == self.config.currency:
            value = notional
        else:
            value = self._to_account_currency(notional * price, spec.quote)
        return value / self.config.leverage

    @staticmethod
    def _close_price(order: _Order, quote: Quote) -> float:
        return quote.bid if order.is_buy else quote.ask

    def _open_orders(self, account: _Account) -> Iterable[_Order]:
        return (o for o in account.orders.values() if o.filled_at is not None)

    def _swap(self, order: _Order, until: datetime) -> float:
        assert order.filled_at is not None
        rollovers = (until.date() - order.filled_at.date()).days
        rate = self.config.swap_long if order.is_buy else self.config.swap_short
        return _money(rollovers * rate * order.volume)

    def _figures(self, account: _Account) -> AccountUpdateData:
        floating = margin = 0.0
        for order in self._open_orders(account):
            quote = self.market.quote(order.symbol)
            floating += self._profit(order, self._close_price(order, quote))
            margin += self._margin(order.symbol, order.volume, order.price)
        equity = round(account.balance + floating, 2)
        margin = round(margin, 2)
        return AccountUpdateData(
            balance=round(account.balance, 2),
            equity=equity,
            margin=margin,
            free_margin=round(equity - margin, 2),
            currency=self.config.currency,
        )

    def summary(self, account: _Account) -> AccountSummary:
        figures = self._figures(account)
        return AccountSummary(
            id=account.id,
            balance=figures.balance,
            equity=figures.equity,
            margin=figures.margin,
            free_margin=figures.free_margin,
            currency=figures.currency,
        )

    def positions(self, account: _Account) -> list[Position]:
        now = self._now()
        result = []
        for order in self._open_orders(account):
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
                    profit=self._profit(order, self._close_price(order, quote)),
                    swap=self._swap(order, now),
                    comment=order.comment,
                    opened_at=order.filled_at,
                )
            )
        return result

    def pending_orders(self, account: _Account) -> list[OrderReply]:
        return [self._order_reply(o) for o in account.orders.values() if o.filled_at is None]

    def quote(self, symbol: str) -> Quote:
        self._spec(symbol)
        return self.market.quote(symbol)

    # ------------------------------------------------------------- orders

    def create_order(
        self,
        account: _Account,
        request: CreateOrderRequest,
        idempotency_key: str | None = None,
    ) -> tuple[OrderReply, bool]:
        """Place an order; returns the reply and whether it was an idempotent replay."""
        if idempotency_key is not None:
            replay = self._idempotent_replay(account, request, idempotency_key)
            if replay is not None:
                return replay, True
        reply = self._place(account, request)
        if idempotency_key is not None:
            account.idempotency[idempotency_key] = (
                _fingerprint(request),
                self._now() + IDEMPOTENCY_TTL,
                reply,
            )
        return reply, False

    def _idempotent_replay(
        self, account: _Account, request: CreateOrderRequest, key: str
    ) -> OrderReply | None:
        now = self._now()
        for stale in [k for k, (_, expires, _) in account.idempotency.items() if expires <= now]:
            del account.idempotency[stale]
        stored = account.idempotency.get(key)
        if stored is None:
            return None
        fingerprint, _, reply = stored
        if fingerprint != _fingerprint(request):
            raise SimError(
                409,
                "idempotency_conflict",
                "this Idempotency-Key was used with a different request body; use a new key",
            )
        return reply

    def _place(self, account: _Account, request: CreateOrderRequest) -> OrderReply:
        spec = self._spec_for_order(request.symbol)
        if request.type not in ORDER_TYPES:
            raise SimError(
                400,
                "invalid_type",
                f"unknown order type {request.type!r}; use one of {', '.join(ORDER_TYPES)}",
            )
        _check_volume(request.volume)
        quote = self.market.quote(spec.name)
        is_buy = request.type.startswith("BUY")
        if request.type in MARKET_ORDER_TYPES:
            if request.price is not None:
                raise SimError(
                    400,
                    "invalid_price",
                    "price is not accepted for market orders: they fill at the market",
                )
            entry = quote.ask if is_buy else quote.bid
        else:
            entry = self._check_pending_price(request.type, request.price, quote)
        sl = _stop(request.sl, "sl")
        tp = _stop(request.tp, "tp")
        _check_stops(is_buy, entry, sl, tp)
        now = self._now()
        order = _Order(
            id=self._new_order_id(),
            symbol=spec.name,
            type=request.type,
            volume=request.volume,
            price=spec.round(entry),
            sl=sl,
            tp=tp,
            comment=request.comment or "",
            placed_at=now,
        )
        if request.type in MARKET_ORDER_TYPES:
            self._require_margin(account, order)
            order.filled_at = now
        account.orders[order.id] = order
        self._emit(
            account,
            OrderOpened,
            OrderOpenedData(
                id=order.id,
                symbol=order.symbol,
                type=order.type,
                volume=order.volume,
                price=order.price,
                sl=order.sl,
                tp=order.tp,
            ),
        )
        if order.filled_at is not None:
            self._emit_account_update(account, force=True)
        return self._order_reply(order)

    def _spec_for_order(self, symbol: str) -> SymbolSpec:
        try:
            return self._spec(symbol)
        except SimError as exc:
            raise SimError(400, exc.code, exc.message) from None

    @staticmethod
    def _check_pending_price(order_type: str, price: float | None, quote: Quote) -> float:
        if price is None:
            raise SimError(400, "invalid_price", f"price is required for {order_type} orders")
        if not (math.isfinite(price) and price > 0):
            raise SimError(400, "invalid_price", "price must be a positive finite number")
        rules = {
            "BUY_LIMIT": (price < quote.ask, "below the ask"),
            "SELL_LIMIT": (price > quote.bid, "above the bid"),
            "BUY_STOP": (price > quote.ask, "above the ask"),
            "SELL_STOP": (price < quote.bid, "below the bid"),
        }
        ok, where = rules[order_type]
        if not ok:
            raise SimError(
                400,
                "invalid_price",
                f"a {order_type} price must be {where} (bid {quote.bid}, ask {quote.ask})",
            )
        return price

    def _require_margin(self, account: _Account, order: _Order) -> None:
        needed = self._margin(order.symbol, order.volume, order.price)
        free = self._figures(account).free_margin
        if needed > free:
            raise SimError(
                400,
                "not_enough_money",
                f"the order needs {needed:.2f} {self.config.currency} margin; "
                f"free margin is {free:.2f}",
            )

    def _new_order_id(self) -> str:
        return "ord_" + "".join(self._ids.choices(_ID_ALPHABET, k=10))

    def _order(self, account: _Account, order_id: str) -> _Order:
        order = account.orders.get(order_id)
        if order is None:
            raise SimError(
                404, "order_not_found", f"no open position or pending order {order_id!r}"
            )
        return order

    @staticmethod
    def _order_reply(order: _Order) -> OrderReply:
        return OrderReply(
            id=order.id,
            symbol=order.symbol,
            type=order.type,
            volume=order.volume,
            price=order.price,
            sl=order.sl,
            tp=order.tp,
            status="pending" if order.filled_at is None else "filled",
            comment=order.comment,
        )

    def modify_order(
        self, account: _Account, order_id: str, body: dict[str, Any]
    ) -> ModifyOrderReply:
        """Change SL, TP or a pending price. ``0`` removes an SL or TP; absent keeps it."""
        immutable = sorted({"symbol", "type", "volume"} & body.keys())
        if immutable:
            raise SimError(
                400,
                "immutable_field",
                f"{', '.join(immutable)} cannot change; close the order and place a new one",
            )
        unknown = sorted(body.keys() - {"sl", "tp", "price"})
        if unknown:
            raise SimError(400, "invalid_request", f"unknown fields: {', '.join(unknown)}")
        if all(body.get(k) is None for k in ("sl", "tp", "price")):
            raise SimError(400, "invalid_request", "give at least one of sl, tp, price")
        order = self._order(account, order_id)
        spec = self._spec(order.symbol)
        price = order.price
        if body.get("price") is not None:
            if order.filled_at is not None:
                raise SimError(400, "invalid_price", "the price of a filled position cannot change")
            price = self._check_pending_price(
                order.type, _number(body["price"], "price"), self.market.quote(order.symbol)
            )
            price = spec.round(price)
        sl = order.sl if body.get("sl") is None else _stop(_number(body["sl"], "sl"), "sl")
        tp = order.tp if body.get("tp") is None else _stop(_number(body["tp"], "tp"), "tp")
        if order.filled_at is None:
            _check_stops(order.is_buy, price, sl, tp)
        else:
            _check_stops(
                order.is_buy, self._close_price(order, self.market.quote(order.symbol)), sl, tp
            )
        changed = (sl, tp, price) != (order.sl, order.tp, order.price)
        order.sl, order.tp, order.price = sl, tp, price
        if changed:
            self._emit(
                account,
                OrderModified,
                OrderModifiedData(id=order.id, sl=sl, tp=tp, price=price),
            )
        return ModifyOrderReply(id=order.id, sl=sl, tp=tp, price=price, updated=changed)

    def close_order(self, account: _Account, order_id: str) -> CloseOrderReply:
        """Close a position at the market, or cancel a pending order."""
        order = self._order(account, order_id)
        if order.filled_at is None:
            self._cancel(account, order)
            return CloseOrderReply(id=order.id, status="cancelled", close_price=None, profit=0.0)
        close_price, profit = self._close(account, order, self.market.quote(order.symbol))
        return CloseOrderReply(id=order.id, status="closed", close_price=close_price, profit=profit)

    def _cancel(self, account: _Account, order: _Order) -> None:
        del account.orders[order.id]
        account.history.append(
            Trade(
                id=order.id,
                symbol=order.symbol,
                type=order.type,
                volume=order.volume,
                open_price=order.price,
                opened_at=order.placed_at,
                closed_at=self._now(),
                status="cancelled",
            )
        )
        self._emit(account, OrderCancelled, OrderCancelledData(id=order.id))

    def _close(self, account: _Account, order: _Order, quote: Quote) -> tuple[float, float]:
        now = self._now()
        close_price = self._close_price(order, quote)
        profit = self._profit(order, close_price)
        commission = _money(-self.config.commission_per_lot * order.volume)
        swap = self._swap(order, now)
        del account.orders[order.id]
        account.balance += profit + commission + swap
        account.history.append(
            Trade(
                id=order.id,
                symbol=order.symbol,
                type=order.direction,
                volume=order.volume,
                open_price=order.price,
                close_price=close_price,
                profit=profit,
                commission=commission,
                swap=swap,
                opened_at=order.filled_at,
                closed_at=now,
            )
        )
        self._emit(
            account,
            OrderClosed,
            OrderClosedData(id=order.id, close_price=close_price, profit=profit),
        )
        self._emit_account_update(account, force=True)
        return close_price, profit

    # ------------------------------------------------------------- history

    def history(
        self,
        account: _Account,
        *,
        start: datetime | None,
        end: datetime | None,
        symbol: str | None,
        order_type: str | None,
        offset: int,
        limit: int,
    ) -> HistoryPage:
        if not 1 <= limit <= HISTORY_MAX_LIMIT:
            raise SimError(400, "invalid_limit", f"limit must be between 1 and {HISTORY_MAX_LIMIT}")
        if offset < 0:
            raise SimError(400, "invalid_offset", "offset must be >= 0")
        if start is not None and end is not None and start > end:
            raise SimError(400, "invalid_range", "from must not be later than to")
        matches = [
            t
            for t in account.history
            if (symbol is None or t.symbol == symbol)
            and (order_type is None or t.type == order_type)
            and (start is None or (t.closed_at is not None and t.closed_at >= start))
            and (end is None or (t.closed_at is not None and t.closed_at <= end))
        ]
        return HistoryPage(trades=matches[offset : offset + limit], total=len(matches))

    # --------------------------------------------------------- price moves

    def on_quotes(self, quotes: Iterable[Quote]) -> None:
        """React to new prices: trigger pending orders, SL and TP; move equity."""
        moved = {q.symbol: q for q in quotes}
        if not moved:
            return
        now_mono = self._monotonic()
        for account in list(self._accounts.values()):
            if account.status != "connected":
                continue
            touched = False
            for order in list(account.orders.values()):
                quote = moved.get(order.symbol)
                if quote is None:
                    continue
                touched = True
                if order.filled_at is None:
                    if _triggered(order, quote):
                        self._fill(account, order)
                elif _stopped_out(order, quote):
                    self._close(account, order, quote)
            if touched:
                self._throttled_account_update(account, now_mono)

    def _fill(self, account: _Account, order: _Order) -> None:
        try:
            self._require_margin(account, order)
        except SimError:
            self._cancel(account, order)
            return
        order.filled_at = self._now()
        self._emit(account, OrderFilled, OrderFilledData(id=order.id, price=order.price))
        self._emit_account_update(account, force=True)

    # -------------------------------------------------------------- events

    def _emit(self, account: _Account, kind: type[AccountEvent], data: Any) -> None:
        account.seq += 1
        event = kind(account_id=account.id, seq=account.seq, data=data)
        account.ledger.append(event)
        channel = "account" if kind in (AccountUpdate, AccountStatusChanged) else "orders"
        self._publish(account.id, channel, encode(event))

    def _throttled_account_update(self, account: _Account, now: float) -> None:
        # At most one update per interval, but the last move is always sent: a
        # trailing update goes out when the interval ends.
        wait = account.last_account_event + self.config.account_event_interval - now
        if wait <= 0:
            self._emit_account_update(account)
        elif account.trailing_update is None:
            account.trailing_update = self._schedule(
                wait, lambda: self._send_trailing_update(account.id)
            )

    def _send_trailing_update(self, account_id: str) -> None:
        account = self._accounts.get(account_id)
        if account is None:
            return
        account.trailing_update = None
        if account.status == "connected":
            self._emit_account_update(account)

    def _emit_account_update(self, account: _Account, *, force: bool = False) -> None:
        figures = self._figures(account)
        if figures == account.last_account_data and not force:
            return
        account.last_account_data = figures
        account.last_account_event = self._monotonic()
        self._emit(account, AccountUpdate, figures)


def _money(amount: float) -> float:
    # Cents, and never "-0.0" on the wire.
    return round(amount, 2) + 0.0


def _fingerprint(request: CreateOrderRequest) -> bytes:
    # The decoded body, re-encoded, so whitespace and key order do not matter.
    return hashlib.sha256(encode(request)).digest()


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SimError(400, "invalid_request", f"{name} must be a number")
    return float(value)


def _check_volume(volume: float) -> None:
    if not math.isfinite(volume) or volume <= 0:
        raise SimError(400, "invalid_volume", "volume must be a positive finite number of lots")
    if not MIN_VOLUME <= volume <= MAX_VOLUME:
        raise SimError(
            400, "invalid_volume", f"volume must be between {MIN_VOLUME} and {MAX_VOLUME} lots"
        )
    steps = volume / VOLUME_STEP
    if abs(steps - round(steps)) > 1e-6:
        raise SimError(400, "invalid_volume", f"volume must be a multiple of {VOLUME_STEP} lots")


def _stop(value: float | None, name: str) -> float | None:
    # 0 means "no stop", as in MetaTrader.
    if value is None or value == 0:
        return None
    if not (math.isfinite(value) and value > 0):
        raise SimError(
            400, "invalid_stops", f"{name} must be a positive finite price, or 0 for none"
        )
    return value


def _check_stops(is_buy: bool, reference: float, sl: float | None, tp: float | None) -> None:
    side = "BUY" if is_buy else "SELL"
    if sl is not None and (sl >= reference if is_buy else sl <= reference):
        where = "below" if is_buy else "above"
        raise SimError(400, "invalid_stops", f"a {side} stop loss must be {where} {reference}")
    if tp is not None and (tp <= reference if is_buy else tp >= reference):
        where = "above" if is_buy else "below"
        raise SimError(400, "invalid_stops", f"a {side} take profit must be {where} {reference}")


def _triggered(order: _Order, quote: Quote) -> bool:
    if order.type == "BUY_LIMIT":
        return quote.ask <= order.price
    if order.type == "SELL_LIMIT":
        return quote.bid >= order.price
    if order.type == "BUY_STOP":
        return quote.ask >= order.price
    return quote.bid <= order.price  # SELL_STOP


def _stopped_out(order: _Order, quote: Quote) -> bool:
    price = quote.bid if order.is_buy else quote.ask
    if order.is_buy:
        return (order.sl is not None and price <= order.sl) or (
            order.tp is not None and price >= order.tp
        )
    return (order.sl is not None and price >= order.sl) or (
        order.tp is not None and price <= order.tp
    )
