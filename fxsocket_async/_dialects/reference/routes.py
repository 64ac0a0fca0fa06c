"""The reference dialect's routes, query strings and headers (sans-I/O).

Management routes authenticate with ``X-API-Key``; per-account routes live
under ``/v1/accounts/{id}/...`` (or the bare ``/v1/...`` form acting on the
key's only account) with ``Authorization: Bearer``; so does the handshake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from urllib.parse import quote as _quote

from ..._core.codec import format_time
from ..._core.models import (
    HISTORY_DEFAULT_LIMIT,
    IDEMPOTENCY_KEY_HEADER,
    IDEMPOTENCY_KEY_MAX_LENGTH,
)
from ..._exceptions import ValidationError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_WS_URL",
    "account_headers",
    "account_path",
    "accounts_path",
    "candles_path",
    "candles_query",
    "history_path",
    "history_query",
    "management_headers",
    "order_path",
    "orders_path",
    "positions_path",
    "quote_path",
    "stream_headers",
    "summary_path",
]

DEFAULT_BASE_URL: Final = "https://api.fxsocket.com"
DEFAULT_WS_URL: Final = "wss://ws.fxsocket.com/v1/stream"


def _segment(value: str) -> str:
    return _quote(value, safe="")


def accounts_path() -> str:
    """Management route: list or link accounts."""
    return "/v1/accounts"


def account_path(account_id: str) -> str:
    """Management route: one account (get, unlink)."""
    return f"/v1/accounts/{_segment(account_id)}"


def _account_route(account_id: str | None, *parts: str) -> str:
    # None selects the reference's bare form, which acts on the key's only account.
    tail = "/".join(_segment(p) for p in parts)
    if account_id is None:
        return f"/v1/{tail}"
    return f"/v1/accounts/{_segment(account_id)}/{tail}"


def summary_path(account_id: str | None) -> str:
    return _account_route(account_id, "account")


def positions_path(account_id: str | None) -> str:
    return _account_route(account_id, "positions")


def orders_path(account_id: str | None) -> str:
    return _account_route(account_id, "orders")


def order_path(account_id: str | None, order_id: str) -> str:
    return _account_route(account_id, "orders", order_id)


def quote_path(account_id: str | None, symbol: str) -> str:
    return _account_route(account_id, "quotes", symbol)


def candles_path(account_id: str | None, symbol: str) -> str:
    return _account_route(account_id, "candles", symbol)


def history_path(account_id: str | None) -> str:
    return _account_route(account_id, "history")


def candles_query(
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
) -> dict[str, str]:
    """Query parameters of ``GET .../candles/{symbol}``."""
    query = {"timeframe": timeframe}
    if start is not None:
        query["from"] = format_time(start)
    if end is not None:
        query["to"] = format_time(end)
    if limit is not None:
        query["limit"] = str(limit)
    return query


def history_query(
    start: datetime | None = None,
    end: datetime | None = None,
    symbol: str | None = None,
    order_type: str | None = None,
    offset: int = 0,
    limit: int = HISTORY_DEFAULT_LIMIT,
) -> dict[str, str]:
    """Query parameters of ``GET .../history``."""
    query = {"offset": str(offset), "limit": str(limit)}
    if start is not None:
        query["from"] = format_time(start)
    if end is not None:
        query["to"] = format_time(end)
    if symbol is not None:
        query["symbol"] = symbol
    if order_type is not None:
        query["type"] = order_type
    return query


_JSON_HEADERS: Final = {"Accept": "application/json", "Content-Type": "application/json"}


def management_headers(api_key: str) -> dict[str, str]:
    """Headers for the management routes (``/v1/accounts``...): ``X-API-Key``."""
    return {**_JSON_HEADERS, "X-API-Key": api_key}


def account_headers(api_key: str, *, idempotency_key: str | None = None) -> dict[str, str]:
    """Headers for per-account routes: ``Authorization: Bearer``.

    Raises ``ValidationError`` when an idempotency key is not 1 to 128 chars.
    """
    headers = {**_JSON_HEADERS, "Authorization": f"Bearer {api_key}"}
    if idempotency_key is not None:
        if not 1 <= len(idempotency_key) <= IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ValidationError(
                f"an idempotency key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} characters long",
                code="invalid_idempotency_key",
            )
        headers[IDEMPOTENCY_KEY_HEADER] = idempotency_key
    return headers


def stream_headers(api_key: str) -> dict[str, str]:
    """Headers for the WebSocket handshake: ``Authorization: Bearer``."""
    return {"Authorization": f"Bearer {api_key}"}
