"""The reference dialect: the ``/v1`` routes and the one per-key WebSocket.

What the reference pages show, completed by ``CONTRACT.md`` (docs/protocol.md
says which fact comes from where): ``routes`` (paths, queries, headers),
``rest`` (the calls and error bodies), ``stream`` (the per-key socket whose
per-account events carry ``seq``). Sans-I/O.
"""

from .rest import ReferenceManagement, ReferenceRest, decode_error
from .routes import (
    DEFAULT_BASE_URL,
    DEFAULT_WS_URL,
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
    stream_headers,
    summary_path,
)
from .stream import EVENT_DECODER, ReferenceStream, decode_event

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_WS_URL",
    "EVENT_DECODER",
    "ReferenceManagement",
    "ReferenceRest",
    "ReferenceStream",
    "account_headers",
    "account_path",
    "accounts_path",
    "candles_path",
    "candles_query",
    "decode_error",
    "decode_event",
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
