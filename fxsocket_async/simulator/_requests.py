"""Reading a REST request: its JSON body and its query parameters.

Each reader returns a plain value or raises ``SimError`` 400 with the wire's
code; nothing a client sends escapes as another exception (a body nested too
deep for the decoder is ``invalid_request`` like any other undecodable body).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec

from .._core.models import ORDER_TYPES, CreateOrderRequest
from ._errors import SimError

__all__ = [
    "PLATFORMS",
    "LinkBody",
    "decode_link",
    "decode_order",
    "decode_patch",
    "query_int",
    "query_order_type",
    "query_time",
]

T = TypeVar("T")


PLATFORMS: Final = ("mt5", "mt4")


class LinkBody(msgspec.Struct, frozen=True, kw_only=True):
    """The simulator's reading of ``POST /v1/accounts``.

    The contract's nickname is an optional string, so it is absent or a string,
    never null. ``platform`` is ``mt5`` (the default) or ``mt4``. The vendor
    SDK's extra fields (``trade_ea_symbol`` and the proxy's) are read
    leniently by ``decode_link``: shown back when well typed, else ignored.
    """

    server: str
    login: int
    password: str = msgspec.field(default="")
    nickname: str = ""
    platform: str = "mt5"
    trade_ea_symbol: str = ""
    proxy_address: str = ""
    proxy_type: str = ""
    proxy_local_port: int | None = None

    def __repr__(self) -> str:
        return f"LinkBody(server={self.server!r}, login={self.login!r}, password='***')"


class _LinkFields(msgspec.Struct, frozen=True, kw_only=True):
    server: str
    login: int
    password: str
    nickname: str = ""
    platform: str = "mt5"


_LINK_DECODER: Final = msgspec.json.Decoder(_LinkFields)
_EXTRAS_DECODER: Final = msgspec.json.Decoder(dict[str, Any])
_ORDER_DECODER: Final = msgspec.json.Decoder(CreateOrderRequest)
_PATCH_DECODER: Final = msgspec.json.Decoder(dict[str, Any])


def _decode(decoder: msgspec.json.Decoder[T], body: bytes) -> T:
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        reason = str(exc)
    except RecursionError:
        reason = "it is nested too deeply"
    raise SimError(400, "invalid_request", f"invalid request body: {reason}")


def decode_link(body: bytes) -> LinkBody:
    """The body of ``POST /v1/accounts``; raises ``SimError`` 400 ``invalid_request``."""
    link = _decode(_LINK_DECODER, body)
    if link.platform not in PLATFORMS:
        raise SimError(
            400,
            "invalid_request",
            f"platform must be one of {', '.join(PLATFORMS)}, not {link.platform!r}",
        )
    extras = _decode(_EXTRAS_DECODER, body)

    def text(name: str) -> str:
        value = extras.get(name)
        return value if isinstance(value, str) else ""

    port = extras.get("proxy_local_port")
    return LinkBody(
        server=link.server,
        login=link.login,
        password=link.password,
        nickname=link.nickname,
        platform=link.platform,
        trade_ea_symbol=text("trade_ea_symbol"),
        proxy_address=text("proxy_address"),
        proxy_type=text("proxy_type"),
        proxy_local_port=port if isinstance(port, int) and not isinstance(port, bool) else None,
    )


def decode_order(body: bytes) -> CreateOrderRequest:
    """The body of ``POST .../orders``; raises ``SimError`` 400 ``invalid_request``."""
    return _decode(_ORDER_DECODER, body)


def decode_patch(body: bytes) -> dict[str, Any]:
    """The body of ``PATCH .../orders/{id}`` as an object, checked field by field later."""
    return _decode(_PATCH_DECODER, body)


def query_time(query: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 time parameter, in UTC (naive reads as UTC); ``None`` when absent.

    Raises ``SimError`` 400 ``invalid_time`` for text that is not a time, or a
    time that falls off the calendar once moved to UTC.
    """
    text = query.get(name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise SimError(
            400, "invalid_time", f"{name} must be an ISO 8601 time, such as 2026-04-02T14:00:00Z"
        ) from None


def query_int(query: Mapping[str, str], name: str, default: int) -> int:
    """A whole-number parameter; raises ``SimError`` 400 ``invalid_<name>`` otherwise."""
    text = query.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise SimError(400, f"invalid_{name}", f"{name} must be a whole number") from None


def query_order_type(query: Mapping[str, str]) -> str | None:
    """The history's ``type`` filter: one of the six order types, or ``None`` when absent.

    Raises ``SimError`` 400 ``invalid_type`` for anything else.
    """
    text = query.get("type")
    if not text:
        return None
    if text not in ORDER_TYPES:
        raise SimError(
            400, "invalid_type", f"type must be one of {', '.join(ORDER_TYPES)}, not {text!r}"
        )
    return text
