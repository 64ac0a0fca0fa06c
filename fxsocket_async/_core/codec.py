"""Bytes to Structs and back, for every dialect: one encoder, decoders built once.

A body or frame that does not match its type raises ``ProtocolError`` naming
the type and showing the body's start; nothing from msgspec escapes. Which
Structs a dialect's frames decode to is the dialect's business
(``fxsocket_async._dialects``); this module only knows how.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final, TypeVar, get_args, get_origin

import msgspec

from .._exceptions import ProtocolError

__all__ = [
    "ANY_DECODER",
    "decode_reply",
    "encode",
    "format_time",
    "parse_retry_after",
    "preview",
]

ANY_DECODER: Final = msgspec.json.Decoder(dict[str, Any])
_ENCODER: Final = msgspec.json.Encoder()
_REPLY_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}
_PREVIEW_BYTES: Final = 120

T = TypeVar("T")


def encode(message: object) -> bytes:
    """Encode a Struct (or a list of them): a request body, reply or stream message."""
    return _ENCODER.encode(message)


def preview(data: bytes | str) -> str:
    """The start of a body or frame, for an error message (never the whole of it)."""
    text = data if isinstance(data, str) else data[:_PREVIEW_BYTES].decode("utf-8", "replace")
    return text[:_PREVIEW_BYTES] + ("..." if len(data) > _PREVIEW_BYTES else "")


def decode_reply(
    body: bytes, reply_type: type[T] | Any, *, status: int | None = None, what: str = "reply"
) -> T:
    """Decode a successful REST reply (or another body, named by ``what``) into
    ``reply_type`` (a Struct, or ``list[...]``), with one decoder per type.

    Raises ``ProtocolError`` when the body does not match.
    """
    decoder = _REPLY_DECODERS.get(reply_type)
    if decoder is None:
        decoder = _REPLY_DECODERS[reply_type] = msgspec.json.Decoder(reply_type)
    try:
        result: T = decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as exc:
        # RecursionError: a body nested deeper than any decoder goes.
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        error = ProtocolError(
            f"{what} does not match {_type_name(reply_type)}: {reason}; "
            f"body starts {preview(body)!r}",
            status=status,
        )
    else:
        return result
    raise error


def _type_name(tp: Any) -> str:
    args = get_args(tp)
    if args:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(get_origin(tp), '__name__', tp)}[{inner}]"
    return getattr(tp, "__name__", str(tp))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date).

    ``None`` when the header is absent or unreadable; never negative. An HTTP
    date is measured against ``now`` (the caller's clock; this module reads none).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        if now is None:
            return None
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def format_time(value: datetime) -> str:
    """Format a time for a query string: ISO 8601 with a trailing ``Z``.

    A naive datetime is taken as broker time as it is; an aware one is first
    converted to UTC.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text + "Z"
