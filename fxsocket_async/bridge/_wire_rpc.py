"""The REST half of the wire (re-exported by ``_wire``): request/reply bodies, ops, errors.

``RpcRequest`` goes to ``<prefix>.<account>.rpc`` (or ``<prefix>.rpc``), an
``RpcReply`` comes back; an error travels as ``RpcError`` (our exception's
class name, the server's code and message) and is raised again, as the very
class, on the consumer's side.
"""

# No "from __future__ import annotations": msgspec resolves these Structs' annotations.
from typing import Any, Final

import msgspec

from .. import _exceptions
from .._core.codec import decode_reply as decode_body
from .._core.market import (
    CloseAllSummary,
    MarginCalc,
    ProfitCalc,
    ServerTimezone,
    SymbolInfo,
    TerminalHealth,
)
from .._core.models import (
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
from .._exceptions import (
    AccountError,
    APIError,
    FxSocketError,
    RateLimitedError,
    ValidationError,
    error_from_response,
)
from . import _errors

__all__ = [
    "ACCOUNT_OPS",
    "KEY_OPS",
    "OPS",
    "REMOVE_TOKEN",
    "RpcError",
    "RpcReply",
    "RpcRequest",
    "decode_request",
    "decode_rpc_reply",
    "encode_reply",
    "encode_request",
    "error_reply",
    "exception_from_error",
    "ok_reply",
    "reply_result",
    "rpc_error_from_exception",
]

_encoder: Final = msgspec.json.Encoder()
#: ``orders.modify``'s ``sl=REMOVE`` / ``tp=REMOVE`` as JSON (the bridge turns it back).
REMOVE_TOKEN: Final = "REMOVE"


class RpcRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A REST call through the bridge: ``op`` (see ``OPS``) with its arguments.

    ``args`` are positional, ``kwargs`` by name, both as JSON (datetimes as
    ISO 8601 strings: the bridge converts them to the method's types).
    ``deadline_ms`` is how long the caller still waits, in milliseconds: the
    bridge bounds its upstream call by it. ``idempotency_key`` is required
    for ``orders.create`` (the remote side mints one per call and re-sends it
    with every retry).
    """

    op: str
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    idempotency_key: str | None = None
    deadline_ms: int | None = None


class RpcError(msgspec.Struct, frozen=True, kw_only=True):
    """The exception a call raised: our class name, the server's code and message."""

    type: str
    message: str
    code: str = ""
    status: int | None = None
    retry_after: float | None = None
    #: ``AccountError`` only: the account it concerns.
    account_id: str | None = None


_NULL: Final = msgspec.Raw(b"null")


class RpcReply(msgspec.Struct, frozen=True, kw_only=True):
    """The answer: ``ok`` with ``result`` (the reply Struct's JSON), or ``error``."""

    ok: bool
    #: Raw JSON (``null`` on errors and for ops that return nothing): ``reply_result``
    #: decodes it as the op's type.
    result: msgspec.Raw = _NULL
    error: RpcError | None = None


#: Account ops (``<prefix>.<account>.rpc``) and what their result decodes to.
ACCOUNT_OPS: Final[dict[str, Any]] = {
    "info": Account,
    "quote": Quote,
    "symbols": list[str],
    "symbol_info": SymbolInfo,
    "candles": list[Candle],
    "summary": AccountSummary,
    "positions": list[Position],
    "newest_trades": list[Trade],
    "history_page": HistoryPage,
    "server_timezone": ServerTimezone,
    "calc_margin": MarginCalc,
    "calc_profit": ProfitCalc,
    "health": TerminalHealth,
    "orders.create": OrderReply,
    "orders.modify": ModifyOrderReply,
    "orders.close": CloseOrderReply,
    "orders.close_all": CloseAllSummary,
    "orders.pending": list[OrderReply],
}
#: The key's own ops (``<prefix>.rpc``).
KEY_OPS: Final[dict[str, Any]] = {
    "accounts.list": list[Account],
    "accounts.get": Account,
}
OPS: Final[dict[str, Any]] = {**ACCOUNT_OPS, **KEY_OPS}

_request_decoder: Final = msgspec.json.Decoder(RpcRequest)


def encode_request(request: RpcRequest) -> bytes:
    return _encoder.encode(request)


def decode_request(body: bytes) -> RpcRequest:
    """A request body; raises ``ValidationError`` when it is not one."""
    try:
        return _request_decoder.decode(body)
    except msgspec.DecodeError as exc:
        reason = str(exc)
    raise ValidationError(f"not an RPC request: {reason}", code="invalid_request")


def ok_reply(result: Any) -> RpcReply:
    """A successful reply carrying ``result`` (a Struct, a list of them, ``None``...)."""
    return RpcReply(ok=True, result=msgspec.Raw(_encoder.encode(result)))


def error_reply(exc: FxSocketError) -> RpcReply:
    return RpcReply(ok=False, error=rpc_error_from_exception(exc))


def encode_reply(reply: RpcReply) -> bytes:
    return _encoder.encode(reply)


def decode_rpc_reply(body: bytes) -> RpcReply:
    """A reply body; raises ``ProtocolError`` when it is not one."""
    return decode_body(body, RpcReply, what="RPC reply")


def reply_result(reply: RpcReply, op: str) -> Any:
    """The result of a reply as ``op``'s type, or its error raised as our exception.

    Raises the exception the bridge met (the same class, code and message),
    ``ProtocolError`` for a result that does not decode, ``ValidationError``
    for an unknown op.
    """
    if not reply.ok or reply.error is not None:
        error = reply.error or RpcError(type="ProtocolError", message="error reply without error")
        raise exception_from_error(error)
    try:
        result_type = OPS[op]
    except KeyError:
        raise ValidationError(f"unknown op {op!r}", code="invalid_op") from None
    return decode_body(bytes(reply.result), result_type, what=f"{op} result")


def rpc_error_from_exception(exc: FxSocketError) -> RpcError:
    """What travels for ``exc``: its class name, message, code, status, retry_after."""
    return RpcError(
        type=type(exc).__name__,
        message=exc.message,
        code=exc.code,
        status=exc.status,
        retry_after=getattr(exc, "retry_after", None),
        account_id=getattr(exc, "account_id", None),
    )


def _error_classes() -> dict[str, type[FxSocketError]]:
    classes: dict[str, type[FxSocketError]] = {}
    for namespace in (vars(_exceptions), vars(_errors)):
        for name, obj in namespace.items():
            if isinstance(obj, type) and issubclass(obj, FxSocketError):
                classes[name] = obj
    return classes


_ERROR_CLASSES: Final = _error_classes()


def exception_from_error(error: RpcError) -> FxSocketError:
    """The exception ``error`` describes: the very class, or the closest by status."""
    cls = _ERROR_CLASSES.get(error.type)
    if cls is None:
        if error.status is not None:
            return error_from_response(
                error.status, error.code, error.message, retry_after=error.retry_after
            )
        return FxSocketError(error.message, code=error.code)
    exc = cls.__new__(cls)
    Exception.__init__(exc, error.message)
    exc.message = error.message
    exc.code = error.code
    exc.status = error.status
    if issubclass(cls, APIError) and error.status is None:
        exc.status = 500
    if issubclass(cls, RateLimitedError) or error.retry_after is not None:
        exc.retry_after = error.retry_after  # type: ignore[attr-defined]
    if issubclass(cls, AccountError):
        exc.account_id = error.account_id or ""  # type: ignore[attr-defined]
    return exc
