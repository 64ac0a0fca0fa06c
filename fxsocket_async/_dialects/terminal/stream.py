"""The terminal dialect's WebSocket: one per account, topics, acks by topic, no ``seq``.

From the vendor SDK (``terminal/stream.py``): the socket authenticates with
``?api_key=`` in its URL; the client subscribes topics (``prices`` with a
symbol, ``bars`` with a symbol and a timeframe, ``account``, ``positions``,
``trades``, ``terminal``); the server answers ``subscribed`` / ``error`` naming
the topic only, so answers are matched to requests per topic, first in first
out; a ``warning`` frame counts messages it dropped for a slow client. No
application ping: WebSocket ping frames keep it alive.

Order events come as deals (``trade``) and as snapshots of every open
position and pending order (``positions``): the protocol's account feed turns
them into the library's order events (``_core.feeds``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import msgspec

from ..._core.codec import ANY_DECODER, encode, preview
from ..._core.dialect import (
    Acked,
    DealReport,
    Refused,
    ServerDropped,
    StreamEndpoint,
    Topic,
    TopicKind,
    WireMessage,
)
from ..._core.events import AccountUpdate, AccountUpdateData, UnknownEvent
from ..._core.market import Bar, PositionsSnapshot
from ..._core.models import Candle
from ..._exceptions import ProtocolError
from .convert import snapshot_of
from .wire import (
    FRAME_TYPES,
    OUR_TIMEFRAMES,
    SERVER_FRAME,
    TICK_FRAME,
    TIMEFRAMES,
    TAccountFrame,
    TBar,
    TError,
    TPositionsFrame,
    TSubscribe,
    TSubscribed,
    TSubscriptions,
    TTerminalFrame,
    TTick,
    TTradeFrame,
    TUnsubscribe,
    TUnsubscribed,
    TWarning,
)

__all__ = ["TerminalStream", "with_api_key"]

#: Our topic kinds and the terminal's topic names.
_TOPICS: Final = {
    "quotes": "prices",
    "bars": "bars",
    "positions": "positions",
    "trades": "trades",
    "account": "account",
    "terminal": "terminal",
}
_EVENT_KINDS: Final[tuple[TopicKind, ...]] = ("trades", "positions", "account")


def with_api_key(url: str, api_key: str) -> str:
    """``url`` with ``api_key=`` in its query string (kept parameters stay)."""
    parts = urlparse(url)
    query = dict(parse_qsl(parts.query))
    query["api_key"] = api_key
    return urlunparse(parts._replace(query=urlencode(query)))


class TerminalStream:
    """The socket of one account's terminal."""

    name = "terminal"
    scope: Literal["account"] = "account"
    events_carry_seq = False
    quote_type = TTick
    decode = staticmethod(SERVER_FRAME.decode)
    decode_quote = staticmethod(TICK_FRAME.decode)
    decode_quote_lines = staticmethod(TICK_FRAME.decode_lines)
    topic_kinds: frozenset[str] = frozenset(_TOPICS)

    def __init__(self, ws_url: str, api_key: str, account_id: str) -> None:
        # The key travels in the query string: what logs and errors show has it masked.
        shown = with_api_key(ws_url, "MASKED").replace("api_key=MASKED", "api_key=***")
        self._endpoint = StreamEndpoint(with_api_key(ws_url, api_key), {}, shown)
        self._account_id = account_id

    def __repr__(self) -> str:
        return f"TerminalStream(url={self._endpoint.shown!r})"

    def endpoint(self, account_id: str | None) -> StreamEndpoint:
        return self._endpoint

    def event_topics(self, account_id: str) -> list[Topic]:
        return [Topic(account_id, kind) for kind in _EVENT_KINDS]

    def decode_slowly(self, frame: bytes | str) -> Any:
        try:
            raw = ANY_DECODER.decode(frame)
        except (msgspec.DecodeError, RecursionError):
            raw = None
        if raw is None or not isinstance(raw.get("type"), str):
            raise ProtocolError(
                f"terminal frame is not an object with a 'type': {preview(frame)!r}",
                code="malformed_frame",
            )
        if raw["type"] in FRAME_TYPES:
            raise ProtocolError(
                f"{raw['type']!r} frame does not match the terminal's shape: {preview(frame)!r}",
                code="malformed_frame",
            )
        return UnknownEvent(type=raw["type"], raw=raw)

    def interpret(self, event: Any) -> Any:
        account = self._account_id
        match event:
            case TSubscribed(topic=topic):
                return Acked(("subscribe", topic))
            case TUnsubscribed():
                return None  # unsubscribes are not awaited
            case TError(topic=topic, message=message):
                return Refused(("subscribe", topic), "subscription_refused", message)
            case TWarning(dropped=dropped):
                return ServerDropped(dropped)
            case TPositionsFrame(data=orders):
                positions, pending = snapshot_of(orders)
                return PositionsSnapshot(account_id=account, positions=positions, pending=pending)
            case TTradeFrame(data=deal):
                entry = deal.entry.lower()
                if entry not in ("in", "out"):
                    return None  # InOut (a netting reversal) and degraded frames: positions tell
                return DealReport(
                    account_id=account,
                    position_id=str(deal.position),
                    entry=entry,  # type: ignore[arg-type]
                    volume=deal.volume,
                    price=deal.price,
                    profit=round(deal.profit + deal.commission + deal.swap, 2),
                )
            case TAccountFrame(data=summary):
                figures = AccountUpdateData(
                    balance=summary.balance,
                    equity=summary.equity,
                    margin=summary.margin,
                    free_margin=summary.free_margin,
                    currency=summary.currency,
                )
                return AccountUpdate(account_id=account, data=figures)
            case TTerminalFrame(data=status):
                return msgspec.structs.replace(status, account_id=account)
            case TBar(symbol=symbol, timeframe=timeframe, data=bar):
                candle = Candle(
                    time=bar.time,
                    open=bar.open,
                    high=bar.high,
                    low=bar.low,
                    close=bar.close,
                    volume=bar.tick_volume,
                )
                ours = OUR_TIMEFRAMES.get(timeframe, timeframe)
                return Bar(symbol=symbol, timeframe=ours, candle=candle, account_id=account)
            case TSubscriptions():
                return None
        return event

    def subscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[WireMessage]:
        messages = []
        for topic in topics:
            wire = TSubscribe(topic=_TOPICS[topic.kind], **_subject(topic))
            messages.append(WireMessage(encode(wire), ("subscribe", wire.topic), (topic,)))
        return messages

    def unsubscribe(self, topics: Sequence[Topic], ids: Iterator[int]) -> list[bytes]:
        return [
            encode(TUnsubscribe(topic=_TOPICS[topic.kind], **_subject(topic))) for topic in topics
        ]

    def ping(self, request_id: int) -> None:
        return None  # WebSocket ping frames


def _subject(topic: Topic) -> dict[str, str]:
    if topic.kind == "quotes" and topic.symbol is not None:
        return {"symbol": topic.symbol}
    if topic.kind == "bars" and topic.symbol is not None:
        symbol, _, timeframe = topic.symbol.partition(":")
        return {"symbol": symbol, "timeframe": TIMEFRAMES.get(timeframe, timeframe)}
    return {}
