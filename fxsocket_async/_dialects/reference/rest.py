"""The reference dialect's REST calls and error bodies (``{"error", "message"}``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

import msgspec

from ..._core.codec import decode_reply, encode, parse_retry_after, preview
from ..._core.dialect import HttpReply, HttpRequest, RestCall
from ..._core.market import (
    CloseAllSummary,
    ClosedPosition,
    Deal,
    HealthChecks,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
)
from ..._core.models import (
    Account,
    AccountSummary,
    Candle,
    CandlesReply,
    CloseOrderReply,
    CreateOrderRequest,
    ErrorBody,
    HistoryPage,
    LinkAccountRequest,
    ModifyOrderReply,
    ModifyOrderRequest,
    OrderReply,
    Position,
    Quote,
)
from ..._exceptions import APIError, UnsupportedError, error_from_response
from .routes import (
    account_headers,
    account_path,
    accounts_path,
    candles_path,
    candles_query,
    history_path,
    history_query,
    management_headers,
    order_path,
    orders_path,
    positions_path,
    quote_path,
    summary_path,
)

__all__ = ["ReferenceManagement", "ReferenceRest", "decode_error"]

T = TypeVar("T")


def decode_error(
    status: int, body: bytes, *, retry_after: str | None = None, now: datetime | None = None
) -> APIError:
    """Turn an error reply into the matching exception of our tree.

    A body that is not the contract's ``{"error", "message"}`` still gives an
    exception of the status's class, with the body's start as its message.
    """
    try:
        parsed = msgspec.json.decode(body, type=ErrorBody)
        code, message = parsed.error, parsed.message or parsed.error
    except (msgspec.DecodeError, RecursionError):
        code = f"http_{status}"
        message = preview(body).strip() or f"HTTP {status} with no error body"
    return error_from_response(
        status, code, message, retry_after=parse_retry_after(retry_after, now=now)
    )


def _reader(reply_type: Any) -> Callable[[HttpReply], Any]:
    """How to read a reply whose success body is ``reply_type`` (``None``: no body)."""

    def read(reply: HttpReply) -> Any:
        if reply.status >= 400:
            raise decode_error(
                reply.status,
                reply.body,
                retry_after=reply.headers.get("Retry-After"),
                now=reply.received_at,
            )
        if reply_type is None:
            return None
        return decode_reply(reply.body, reply_type, status=reply.status)

    return read


def _candles(reply: HttpReply) -> list[Candle]:
    page: CandlesReply = _CANDLES_READER(reply)
    return page.candles


_CANDLES_READER: Final = _reader(CandlesReply)


class _Routes:
    """Builds ``RestCall``s against one base URL."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url.rstrip("/")

    def _call(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        read: Callable[[HttpReply], T],
        *,
        idempotent: bool = True,
        query: dict[str, str] | None = None,
        body: msgspec.Struct | None = None,
    ) -> RestCall[T]:
        request = HttpRequest(
            method,
            self._base_url + path,
            headers=headers,
            query=query,
            body=None if body is None else encode(body),
        )
        return RestCall(request, read, idempotent)


class ReferenceManagement(_Routes):
    """The key's management routes (``/v1/accounts``), shared by both dialects."""

    def __init__(self, base_url: str, api_key: str) -> None:
        super().__init__(base_url)
        self._headers = management_headers(api_key)

    def __repr__(self) -> str:
        return f"ReferenceManagement(base_url={self._base_url!r})"

    def list_accounts(self) -> RestCall[list[Account]]:
        return self._call("GET", accounts_path(), self._headers, _reader(list[Account]))

    def get_account(self, account_id: str) -> RestCall[Account]:
        return self._call("GET", account_path(account_id), self._headers, _reader(Account))

    def link_account(self, request: LinkAccountRequest) -> RestCall[Account]:
        # Never sent twice after an ambiguous failure: a link is not idempotent.
        return self._call(
            "POST", accounts_path(), self._headers, _reader(Account), idempotent=False, body=request
        )

    def unlink_account(self, account_id: str) -> RestCall[None]:
        # A repeated unlink is judged by its reply (404 after a lost reply).
        return self._call("DELETE", account_path(account_id), self._headers, _reader(None))


class ReferenceRest(_Routes):
    """One account's operations in the reference dialect (``account_id=None``: bare routes)."""

    name = "reference"
    modify_reply_complete = True
    close_reply_complete = True

    def __init__(self, base_url: str, api_key: str, account_id: str | None) -> None:
        super().__init__(base_url)
        self._api_key = api_key
        self._headers = account_headers(api_key)
        self.account_id = account_id

    def __repr__(self) -> str:
        return f"ReferenceRest(base_url={self._base_url!r}, account_id={self.account_id!r})"

    def summary(self) -> RestCall[AccountSummary]:
        return self._call(
            "GET", summary_path(self.account_id), self._headers, _reader(AccountSummary)
        )

    def positions(self) -> RestCall[list[Position]]:
        return self._call(
            "GET", positions_path(self.account_id), self._headers, _reader(list[Position])
        )

    def pending_orders(self) -> RestCall[list[OrderReply]]:
        return self._call(
            "GET", orders_path(self.account_id), self._headers, _reader(list[OrderReply])
        )

    def submission_marker(self, order: CreateOrderRequest, idempotency_key: str) -> None:
        return None  # the idempotency key makes a retry safe

    def open_orders(self) -> None:
        return None  # two routes: positions, then pending orders

    def create_order(self, order: CreateOrderRequest, idempotency_key: str) -> RestCall[OrderReply]:
        # Idempotent because the key travels with every attempt: a replay trades nothing.
        headers = account_headers(self._api_key, idempotency_key=idempotency_key)
        return self._call(
            "POST", orders_path(self.account_id), headers, _reader(OrderReply), body=order
        )

    def modify_order(self, order_id: str, change: ModifyOrderRequest) -> RestCall[ModifyOrderReply]:
        # Absolute values: sending the same change twice leaves the same order.
        return self._call(
            "PATCH",
            order_path(self.account_id, order_id),
            self._headers,
            _reader(ModifyOrderReply),
            body=change,
        )

    def close_order(self, order_id: str, volume: float | None = None) -> RestCall[CloseOrderReply]:
        # Judged by its reply: a 404 after a retry is checked against the history.
        if volume is not None:
            raise _unsupported("a partial close (volume=)")
        return self._call(
            "DELETE", order_path(self.account_id, order_id), self._headers, _reader(CloseOrderReply)
        )

    def quote(self, symbol: str) -> RestCall[Quote]:
        return self._call("GET", quote_path(self.account_id, symbol), self._headers, _reader(Quote))

    def candles(
        self,
        symbol: str,
        timeframe: str,
        start: datetime | None,
        end: datetime | None,
        limit: int | None,
        now: datetime,
    ) -> RestCall[list[Candle]]:
        # ``now`` is not needed: without ``from`` the route answers the last bars.
        return self._call(
            "GET",
            candles_path(self.account_id, symbol),
            self._headers,
            _candles,
            query=candles_query(timeframe, start, end, limit),
        )

    def history_page(
        self,
        offset: int,
        limit: int,
        start: datetime | None = None,
        end: datetime | None = None,
        symbol: str | None = None,
        order_type: str | None = None,
    ) -> RestCall[HistoryPage]:
        return self._call(
            "GET",
            history_path(self.account_id),
            self._headers,
            _reader(HistoryPage),
            query=history_query(start, end, symbol, order_type, offset, limit),
        )

    # ------------------------------------- what only an account's terminal offers

    def symbols(self) -> RestCall[list[str]]:
        raise _unsupported("symbols()")

    def symbol_info(self, symbol: str) -> RestCall[SymbolInfo]:
        raise _unsupported("symbol_info()")

    def server_timezone(self) -> RestCall[ServerTimezone]:
        raise _unsupported("server_timezone()")

    def close_all(
        self, symbol: str | None, magic: int | None, delete_pending: bool
    ) -> RestCall[CloseAllSummary]:
        raise _unsupported("close_all()")

    def calc_margin(
        self, symbol: str, order_type: str, volume: float, price: float
    ) -> RestCall[MarginCalc]:
        raise _unsupported("calc_margin()")

    def calc_profit(
        self, symbol: str, order_type: str, volume: float, price_open: float, price_close: float
    ) -> RestCall[ProfitCalc]:
        raise _unsupported("calc_profit()")

    def order_history(self, start: datetime | None, end: datetime | None) -> RestCall[list[Deal]]:
        raise _unsupported("order_history()")

    def position_history(
        self, start: datetime | None, end: datetime | None
    ) -> RestCall[list[ClosedPosition]]:
        raise _unsupported("position_history()")

    def status(self) -> RestCall[dict[str, Any]]:
        raise _unsupported("health()")

    def probe(self, path: str) -> RestCall[HealthChecks]:
        raise _unsupported("health()")


def _unsupported(what: str) -> UnsupportedError:
    return UnsupportedError(
        f"{what} needs the account's own terminal (the terminal dialect): this account "
        "is served by the reference routes, which have no such operation"
    )
