"""REST through the bridge: ``RemoteFxSocket.account(id)`` and ``.accounts``.

Every call is one ``RpcRequest`` on ``<prefix>.<account>.rpc`` answered by the
bridge's session, so all processes share its pacing budget, its retries and
its idempotency keys. Arguments are checked here, before anything is sent,
with the same checks ``AccountClient`` makes.

Re-sending: a request that no bridge took (``NoRespondersError``: none is
subscribed, e.g. it is restarting) is sent again until the call's deadline; a
request the bridge took but did not answer in ``attempt_timeout`` is sent
again only where a second copy cannot do harm: reads, ``orders.create`` (the
same idempotency key, so the bridge and the server carry it out once),
modify, full closes and ``close_all``. A partial close is never re-sent
after a silence, as a second one would close more.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import anyio
import nats.errors

from .._core.market import (
    CloseAllSummary,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
    TerminalHealth,
)
from .._core.models import (
    CANDLES_MAX_LIMIT,
    HISTORY_DEFAULT_LIMIT,
    Account,
    AccountSummary,
    Candle,
    CloseOrderReply,
    HistoryPage,
    ModifyOrderReply,
    OrderReply,
    Position,
    Quote,
    Trade,
)
from .._core.validation import (
    REMOVE,
    Remove,
    check_account_id,
    check_history_query,
    check_idempotency_key,
    check_modify,
    check_offset,
    check_order,
    check_order_type,
    check_page_size,
    check_positive,
    check_range,
    check_symbol,
    check_timeframe,
)
from .._exceptions import FxSocketError, ValidationError
from ._errors import BridgeTimeoutError, BridgeUnavailableError
from ._wire import REMOVE_TOKEN, RpcRequest, Wire, decode_rpc_reply, encode_request, reply_result

if TYPE_CHECKING:
    from nats.aio.client import Client

__all__ = ["RemoteAccount", "RemoteAccounts", "RemoteOrders", "RpcCaller", "RpcStats"]

log = logging.getLogger("fxsocket_async.bridge")

#: Pause between re-sends to a bridge that is not there (grows to _MAX_PAUSE).
_FIRST_PAUSE: Final = 0.05
_MAX_PAUSE: Final = 0.5
_MAX_ATTEMPTS: Final = 10_000  # bounded; the deadline ends a call far sooner


@dataclass
class RpcStats:
    """What the RPC side counts (``RemoteFxSocket.stats()["rpc"]``)."""

    calls: int = 0
    resends: int = 0
    errors: int = 0
    by_op: dict[str, int] = field(default_factory=dict)


class RpcCaller:
    """Sends ``RpcRequest``s with a deadline; re-sends as the module docstring says."""

    def __init__(self, nc: Client, wire: Wire, *, timeout: float, attempt_timeout: float) -> None:
        self._nc = nc
        self._wire = wire
        self.timeout = timeout
        self.attempt_timeout = attempt_timeout
        self.stats = RpcStats()

    async def call(
        self,
        account: str | None,
        op: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        resend_after_silence: bool = True,
        timeout: float | None = None,
    ) -> Any:
        """One call through the bridge; returns the op's result type.

        Raises the bridge's error as our very exception class,
        ``BridgeUnavailableError`` when no bridge answers before the deadline,
        ``BridgeTimeoutError`` when the bridge took the request but answered
        none of its copies in time, ``ProtocolError`` for an unreadable reply.
        """
        subject = self._wire.rpc_subject(account)
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        self.stats.calls += 1
        self.stats.by_op[op] = self.stats.by_op.get(op, 0) + 1
        pause = _FIRST_PAUSE
        failure: FxSocketError = BridgeTimeoutError(f"no time left for {op} on {subject}")
        for attempt in range(_MAX_ATTEMPTS):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if attempt:
                self.stats.resends += 1
            request = RpcRequest(
                op=op,
                args=args or [],
                kwargs=kwargs or {},
                idempotency_key=idempotency_key,
                deadline_ms=max(1, int(left * 1000)),
            )
            wait = min(left, self.attempt_timeout) if resend_after_silence else left
            try:
                msg = await self._nc.request(subject, encode_request(request), timeout=wait)
            except nats.errors.NoRespondersError:
                failure = BridgeUnavailableError(
                    f"no bridge answers {op} on {subject} (is one running with prefix "
                    f"{self._wire.prefix!r}?)"
                )
            except nats.errors.TimeoutError:
                failure = BridgeTimeoutError(
                    f"the bridge did not answer {op} on {subject} within {budget:g} s"
                )
                if not resend_after_silence:
                    break
                continue  # the wait itself was the pause
            except nats.errors.Error as exc:
                failure = BridgeUnavailableError(
                    f"NATS failed during {op} on {subject}: {type(exc).__name__}",
                    code="nats_error",
                )
            else:
                return self._result(msg.data, op)
            await anyio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, _MAX_PAUSE)
        self.stats.errors += 1
        raise failure

    def _result(self, body: bytes, op: str) -> Any:
        try:
            return reply_result(decode_rpc_reply(body), op)
        except FxSocketError:
            self.stats.errors += 1
            raise


class _Remote:
    def __init__(self, caller: RpcCaller, account_id: str | None) -> None:
        self._caller = caller
        self.account_id = account_id

    async def _call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        return await self._caller.call(self.account_id, op, list(args), kwargs)


class RemoteOrders(_Remote):
    """Orders of one account through the bridge: ``fx.account(id).orders``."""

    async def create(
        self,
        symbol: str,
        type: str,
        volume: float,
        *,
        price: float | None = None,
        sl: float | None = None,
        tp: float | None = None,
        comment: str | None = None,
        idempotency_key: str | None = None,
    ) -> OrderReply:
        """Place an order through the bridge's session, once.

        One idempotency key is minted per call (or ``idempotency_key`` is
        used) and every re-send carries it, so a submission re-sent through a
        bridge restart trades once: the bridge records the key before it
        sends upstream and answers a key it has done from its record.

        Raises ``ValidationError`` (before sending) for bad input, what
        ``AsyncFxSocket``'s ``orders.create`` raises (``BrokerRejectedError``,
        ``IdempotencyConflictError``, ...), ``BridgeUnavailableError`` /
        ``BridgeTimeoutError`` when no bridge answers before the deadline.
        """
        kind = check_order(symbol, type, volume, price, sl, tp)
        check_idempotency_key(idempotency_key)
        key = idempotency_key or f"fxsa-{uuid.uuid4()}"
        kwargs = _given(price=price, sl=sl, tp=tp, comment=comment)
        result: OrderReply = await self._caller.call(
            self.account_id,
            "orders.create",
            [symbol, kind, float(volume)],
            kwargs,
            idempotency_key=key,
        )
        return result

    async def modify(
        self,
        order_id: str,
        *,
        sl: float | Remove | None = None,
        tp: float | Remove | None = None,
        price: float | None = None,
    ) -> ModifyOrderReply:
        """Change an order's SL, TP or pending price (``REMOVE`` removes a stop).

        Raises ``ValidationError`` (before sending), ``NotFoundError``, another
        ``FxSocketError``, or the bridge errors of ``create``.
        """
        check_modify(sl, tp, price)
        kwargs = _given(sl=_stop(sl), tp=_stop(tp), price=price)
        result: ModifyOrderReply = await self._call("orders.modify", _order_id(order_id), **kwargs)
        return result

    async def close(self, order_id: str, *, volume: float | None = None) -> CloseOrderReply:
        """Close a position or cancel a pending order; ``volume``: close that part.

        A partial close is not re-sent after the bridge fell silent (it may
        have been carried out). Raises ``NotFoundError``, ``ValidationError``
        (before sending), ``UnsupportedError``, another ``FxSocketError``, or
        the bridge errors of ``create``.
        """
        if volume is not None:
            volume = check_positive("volume", volume)
        result: CloseOrderReply = await self._caller.call(
            self.account_id,
            "orders.close",
            [_order_id(order_id)],
            _given(volume=volume),
            resend_after_silence=volume is None,
        )
        return result

    async def close_all(
        self, *, symbol: str | None = None, magic: int | None = None, pending: bool = False
    ) -> CloseAllSummary:
        """Close every open position (of ``symbol``/``magic``); ``pending`` deletes pending
        orders too. Raises ``ValidationError`` (before sending), ``UnsupportedError``,
        another ``FxSocketError``, or the bridge errors of ``create``."""
        if symbol is not None:
            check_symbol(symbol)
        if magic is not None and (isinstance(magic, bool) or not isinstance(magic, int)):
            raise ValidationError(
                f"magic must be an integer (the EA's magic number), not {magic!r}",
                code="invalid_magic",
            )
        kwargs = _given(symbol=symbol, magic=magic)
        result: CloseAllSummary = await self._call("orders.close_all", pending=pending, **kwargs)
        return result

    async def pending(self) -> list[OrderReply]:
        """Pending orders. Raises ``FxSocketError`` subclasses (bridge errors included)."""
        result: list[OrderReply] = await self._call("orders.pending")
        return result


class RemoteAccount(_Remote):
    """One account through the bridge: the calls of ``AccountClient`` that travel as JSON.

    Every method raises what the same method of ``AccountClient`` raises
    (the bridge's error, re-raised as the very class), ``ValidationError``
    before sending, and ``BridgeUnavailableError`` / ``BridgeTimeoutError``
    when no bridge answers before the call's deadline.
    """

    def __init__(self, caller: RpcCaller, account_id: str) -> None:
        super().__init__(caller, check_account_id(account_id))
        self.orders = RemoteOrders(caller, account_id)

    def __repr__(self) -> str:
        return f"RemoteAccount(account_id={self.account_id!r})"

    async def info(self) -> Account:
        """The account's record. Raises ``NotFoundError`` or bridge errors."""
        result: Account = await self._call("info")
        return result

    async def quote(self, symbol: str) -> Quote:
        """The current bid/ask of ``symbol``. Raises ``ValidationError``, ``NotFoundError``..."""
        result: Quote = await self._call("quote", check_symbol(symbol))
        return result

    async def symbols(self) -> list[str]:
        """The symbols the terminal quotes. Raises ``UnsupportedError`` on the reference routes."""
        result: list[str] = await self._call("symbols")
        return result

    async def symbol_info(self, symbol: str) -> SymbolInfo:
        """A symbol's contract. Raises ``UnsupportedError`` on the reference routes..."""
        result: SymbolInfo = await self._call("symbol_info", check_symbol(symbol))
        return result

    async def summary(self) -> AccountSummary:
        """Balance, equity, margin. Raises ``TerminalNotReadyError``, ``NotFoundError``..."""
        result: AccountSummary = await self._call("summary")
        return result

    async def positions(self) -> list[Position]:
        """Open positions. Raises what ``summary()`` raises."""
        result: list[Position] = await self._call("positions")
        return result

    async def candles(
        self,
        symbol: str,
        timeframe: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """OHLCV bars, oldest first (the bridge splits long ranges as ``AccountClient`` does).

        Raises ``ValidationError`` (before sending), or another ``FxSocketError``.
        """
        check_symbol(symbol)
        frame = check_timeframe(timeframe)
        check_range(start, end)
        if limit is not None:
            check_page_size(limit, CANDLES_MAX_LIMIT if start is None else 10**9)
        kwargs = _given(start=start, end=end, limit=limit)
        result: list[Candle] = await self._call("candles", symbol, frame, **kwargs)
        return result

    async def newest_trades(self, count: int = 50) -> list[Trade]:
        """The ``count`` most recently closed trades, oldest first.

        Raises ``ValidationError`` (before sending), or another ``FxSocketError``.
        """
        check_page_size(count)
        result: list[Trade] = await self._call("newest_trades", count)
        return result

    async def history_page(
        self,
        offset: int = 0,
        limit: int = HISTORY_DEFAULT_LIMIT,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        type: str | None = None,
    ) -> HistoryPage:
        """One page of closed trades (``total`` says how many match).

        Raises ``ValidationError`` (before sending), or another ``FxSocketError``.
        """
        order_type = check_history_query(start, end, limit, type)
        check_offset(offset)
        kwargs = _given(start=start, end=end, symbol=symbol, type=order_type)
        result: HistoryPage = await self._call("history_page", offset, limit, **kwargs)
        return result

    async def server_timezone(self) -> ServerTimezone:
        """The broker server's clock. Raises ``UnsupportedError`` on the reference routes..."""
        result: ServerTimezone = await self._call("server_timezone")
        return result

    async def calc_margin(self, symbol: str, type: str, volume: float, price: float) -> MarginCalc:
        """The margin an order would need. Raises ``ValidationError`` (before sending)..."""
        check_symbol(symbol)
        kind = check_order_type(type)
        check_positive("volume", volume), check_positive("price", price)
        result: MarginCalc = await self._call("calc_margin", symbol, kind, volume, price)
        return result

    async def calc_profit(
        self, symbol: str, type: str, volume: float, price_open: float, price_close: float
    ) -> ProfitCalc:
        """The profit of a trade. Raises ``ValidationError`` (before sending)..."""
        check_symbol(symbol)
        kind = check_order_type(type)
        for name, value in (("volume", volume), ("price_open", price_open)):
            check_positive(name, value)
        check_positive("price_close", price_close)
        args = (symbol, kind, volume, price_open, price_close)
        result: ProfitCalc = await self._call("calc_profit", *args)
        return result

    async def health(self) -> TerminalHealth:
        """The terminal's health. Raises ``UnsupportedError`` on the reference routes..."""
        result: TerminalHealth = await self._call("health")
        return result


class RemoteAccounts:
    """``fx.accounts`` through the bridge: the key's accounts (read-only)."""

    def __init__(self, caller: RpcCaller) -> None:
        self._caller = caller

    def __repr__(self) -> str:
        return "RemoteAccounts()"

    async def list(self) -> list[Account]:
        """Every account linked to the bridge's key. Raises ``FxSocketError`` subclasses."""
        result: list[Account] = await self._caller.call(None, "accounts.list")
        return result

    async def get(self, account_id: str) -> Account:
        """One account by id. Raises ``NotFoundError`` or another ``FxSocketError``."""
        result: Account = await self._caller.call(
            None, "accounts.get", [check_account_id(account_id)]
        )
        return result


def _given(**values: Any) -> dict[str, Any]:
    """Only the arguments given, so the bridge applies the method's own defaults."""
    return {name: value for name, value in values.items() if value is not None}


def _stop(value: float | Remove | None) -> float | str | None:
    return REMOVE_TOKEN if value is REMOVE or isinstance(value, Remove) else value


def _order_id(order_id: object) -> str:
    if not isinstance(order_id, str) or not order_id:
        raise ValidationError("order_id must be a non-empty string", code="invalid_order_id")
    return order_id
