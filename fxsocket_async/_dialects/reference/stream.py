"""The reference dialect's WebSocket: one per key, subscriptions by request id, numbered events."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, Literal

import msgspec

from ..._core.codec import ANY_DECODER, encode, preview
from ..._core.dialect import Acked, Notice, Refused, StreamEndpoint, Topic, WireMessage
from ..._core.events import (
    EVENT_TYPES,
    ErrorEvent,
    Ping,
    Pong,
    QuoteEvent,
    ServerEvent,
    StreamEvent,
    Subscribe,
    Subscribed,
    UnknownEvent,
    Unsubscribe,
    Unsubscribed,
)
from ..._exceptions import ProtocolError
from .routes import stream_headers

__all__ = ["EVENT_DECODER", "ReferenceStream", "decode_event"]

# Built once: decoders carry their type's compiled plan. The stream's reader
# calls EVENT_DECODER.decode directly on its hot path and falls back to
# decode_event only when that raises.
EVENT_DECODER: Final = msgspec.json.Decoder(ServerEvent)
#: The quote frame alone, which most frames are: see ``StreamDialect.decode_quote``.
QUOTE_DECODER: Final = msgspec.json.Decoder(QuoteEvent)


def decode_event(frame: bytes | str) -> StreamEvent:
    """Decode one stream frame.

    Returns the event Struct, or ``UnknownEvent`` for a type this version does
    not know. Raises ``ProtocolError`` when the frame is not JSON, is not an
    object with a string ``type``, or is a known type missing required fields.
    """
    try:
        event: ServerEvent = EVENT_DECODER.decode(frame)
    except msgspec.ValidationError as exc:
        return _unknown_or_raise(frame, exc)
    except (msgspec.DecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        error = ProtocolError(
            f"stream frame is not valid JSON ({reason}): {preview(frame)!r}",
            code="malformed_frame",
        )
    else:
        return event
    raise error


def _unknown_or_raise(frame: bytes | str, exc: msgspec.ValidationError) -> UnknownEvent:
    try:
        raw = ANY_DECODER.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        raw = None
    if raw is None:
        raise ProtocolError(
            f"stream frame is not a JSON object: {preview(frame)!r}", code="malformed_frame"
        )
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            f"stream frame has no string 'type' field: {preview(frame)!r}",
            code="malformed_frame",
        )
    if kind in EVENT_TYPES:
        raise ProtocolError(
            f"{kind!r} frame does not match the contract ({exc}): {preview(frame)!r}",
            code="malformed_frame",
        )
    return UnknownEvent(type=kind, raw=raw)


#: The reference's channels behind each kind of topic.
_EVENT_CHANNELS: Final = ("orders", "account")


class ReferenceStream:
    """The per-key WebSocket: subscriptions by request id, numbered events."""

    name = "reference"
    scope: Literal["key"] = "key"
    events_carry_seq = True
    quote_type = QuoteEvent
    decode = staticmethod(EVENT_DECODER.decode)
    decode_quote = staticmethod(QUOTE_DECODER.decode)
    decode_quote_lines = staticmethod(QUOTE_DECODER.decode_lines)
    topic_kinds: frozenset[str] = frozenset({"quotes", "events"})

    def __init__(self, ws_url: str, api_key: str) -> None:
        self._endpoint = StreamEndpoint(ws_url, stream_headers(api_key), ws_url)

    def __repr__(self) -> str:
        return f"ReferenceStream(url={self._endpoint.shown!r})"

    def endpoint(self, account_id: str | None) -> StreamEndpoint:
        return self._endpoint

    def event_topics(self, account_id: str) -> list[Topic]:
        return [Topic(account_id, "events")]

    def decode_slowly(self, frame: bytes | str) -> Any:
        return decode_event(frame)

    def interpret(self, event: Any) -> Any:
        match event:
            case Subscribed(id=request_id) | Unsubscribed(id=request_id):
                return Acked(request_id)
            case Pong():
                return None
            case ErrorEvent(id=None):
                return Notice(event.error, event.message)
            case ErrorEvent(id=request_id):
                return Refused(request_id, event.error, event.message)
        return event

    def subscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[WireMessage]:
        messages = []
        for account_id, symbols, kinds in _grouped(topics):
            if symbols:
                request_id = next(ids)
                frame = Subscribe(
                    id=request_id, channel="quotes", account_id=account_id, symbols=symbols
                )
                covered = tuple(Topic(account_id, "quotes", s) for s in symbols)
                messages.append(WireMessage(encode(frame), request_id, covered))
            if "events" in kinds:
                for channel in _EVENT_CHANNELS:
                    request_id = next(ids)
                    frame = Subscribe(id=request_id, channel=channel, account_id=account_id)
                    messages.append(
                        WireMessage(encode(frame), request_id, (Topic(account_id, "events"),))
                    )
        return messages

    def unsubscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[bytes]:
        frames = []
        for account_id, symbols, kinds in _grouped(topics):
            if symbols:
                frames.append(
                    encode(
                        Unsubscribe(
                            id=next(ids), channel="quotes", account_id=account_id, symbols=symbols
                        )
                    )
                )
            if "events" in kinds:
                for channel in _EVENT_CHANNELS:
                    frames.append(
                        encode(Unsubscribe(id=next(ids), channel=channel, account_id=account_id))
                    )
        return frames

    def ping(self, request_id: int) -> bytes:
        return encode(Ping(id=request_id))


def _grouped(topics: Sequence[Topic]) -> list[tuple[str, list[str], set[str]]]:
    # One quotes message per account (its symbols sorted), then its events channels.
    by_account: dict[str, tuple[list[str], set[str]]] = {}
    for topic in topics:
        symbols, kinds = by_account.setdefault(topic.account_id, ([], set()))
        if topic.kind == "quotes" and topic.symbol is not None:
            symbols.append(topic.symbol)
        else:
            kinds.add(topic.kind)
    return [(a, sorted(s), k) for a, (s, k) in by_account.items()]
