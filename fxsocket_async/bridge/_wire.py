"""What travels between the bridge and its consumers over NATS: names, bodies, ids.

Both sides import this module; it does no I/O. Everything a subject or a key
holds is named here once (``Wire``), so the bridge and ``RemoteFxSocket`` can
never disagree about where something lives:

- events: JetStream stream ``<PREFIX>_EVENTS``, subject ``<prefix>.<account>.events``,
  one message per event, body the event Struct as JSON (a ``StreamGap`` in a
  ``stream_gap`` frame), header ``Nats-Msg-Id`` = ``event_id(account, event)``;
- quotes: subject ``<prefix>.<account>.quotes.<symbol>``, body a JSON array of
  ``Quote``, headers ``Fx-Seq`` (per symbol and bridge run) and ``Fx-Epoch``
  (the bridge run), kept briefly in the memory stream ``<PREFIX>_QUOTES``;
- the newest quote per symbol: KV bucket ``<prefix>_quotes_latest``, key
  ``<account>.<symbol>``;
- the bridge's own state: KV bucket ``<prefix>_bridge`` (``status.<account>``,
  ``state.<account>``), submissions by idempotency key: ``<prefix>_orders``;
- REST by request/reply on ``<prefix>.<account>.rpc`` (``<prefix>.rpc`` for the
  key's own calls): ``RpcRequest`` in, ``RpcReply`` out.

Account ids and symbols pass through ``token``: every byte outside
``[A-Za-z0-9_-]`` becomes ``=XX`` (its hex), so a ``.``, ``*``, ``>`` or space
never splits or widens a subject, and the result is also a valid KV key
(which allows ``=`` but not ``%``).
"""

# No "from __future__ import annotations": msgspec resolves these Structs' annotations.
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, TypeAlias

import msgspec

from .._core.codec import decode_reply as decode_body
from .._core.events import (
    AccountEvent,
    AccountStatusChanged,
    AccountUpdate,
    OrderCancelled,
    OrderClosed,
    OrderFilled,
    OrderModified,
    OrderOpened,
    OrderPartiallyClosed,
    StreamGap,
)
from .._core.models import Quote
from .._exceptions import ProtocolError, ValidationError
from ._wire_rpc import (
    ACCOUNT_OPS,
    KEY_OPS,
    OPS,
    REMOVE_TOKEN,
    RpcError,
    RpcReply,
    RpcRequest,
    decode_request,
    decode_rpc_reply,
    encode_reply,
    encode_request,
    error_reply,
    exception_from_error,
    ok_reply,
    reply_result,
    rpc_error_from_exception,
)

__all__ = [
    "ACCOUNT_OPS",
    "DEFAULT_DUPLICATE_WINDOW",
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_BATCH",
    "DEFAULT_PREFIX",
    "DEFAULT_QUOTES_PER_SUBJECT",
    "EPOCH_HEADER",
    "KEY_OPS",
    "MSG_ID_HEADER",
    "OPS",
    "REMOVE_TOKEN",
    "SEQ_HEADER",
    "BridgeEvent",
    "BridgeStatus",
    "GapFrame",
    "RpcError",
    "RpcReply",
    "RpcRequest",
    "Wire",
    "decode_event",
    "decode_quote",
    "decode_quotes",
    "decode_request",
    "decode_rpc_reply",
    "decode_status",
    "encode_event",
    "encode_quote",
    "encode_quotes",
    "encode_reply",
    "encode_request",
    "error_reply",
    "event_id",
    "exception_from_error",
    "ok_reply",
    "reply_result",
    "rpc_error_from_exception",
    "token",
    "untoken",
]

DEFAULT_PREFIX: Final = "fxsocket"
DEFAULT_MAX_BATCH: Final = 100
# Long enough for a consumer that was away a weekend to catch up from its durable.
DEFAULT_MAX_AGE: Final = timedelta(days=7)
# JetStream forgets a message id after this window. It must cover the longest bridge
# outage after which a recovered event can repeat one already published live: a day.
DEFAULT_DUPLICATE_WINDOW: Final = timedelta(hours=24)
# Quotes are a live feed; the memory stream keeps only a short tail per symbol.
DEFAULT_QUOTES_PER_SUBJECT: Final = 1000

MSG_ID_HEADER: Final = "Nats-Msg-Id"
SEQ_HEADER: Final = "Fx-Seq"
EPOCH_HEADER: Final = "Fx-Epoch"

_PREFIX_RE: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SAFE: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPED_RE: Final = re.compile(r"=([0-9A-F]{2})")


# ------------------------------------------------------------------ names


def token(value: str) -> str:
    """``value`` as one subject token and KV key part: reversible by ``untoken``.

    Raises ``ValidationError`` for an empty value.
    """
    if not value:
        raise ValidationError("an account id or symbol must not be empty")
    if value.isascii() and all(ord(c) in _SAFE for c in value):
        return value
    return "".join(chr(b) if b in _SAFE else f"={b:02X}" for b in value.encode())


def untoken(value: str) -> str:
    """The account id or symbol that ``token`` escaped into ``value``."""
    if "=" not in value:
        return value
    raw = bytearray()
    pos = 0
    for match in _ESCAPED_RE.finditer(value):
        raw += value[pos : match.start()].encode()
        raw.append(int(match.group(1), 16))
        pos = match.end()
    raw += value[pos:].encode()
    return raw.decode()


class Wire:
    """Every stream, bucket, subject and key of one ``prefix``.

    Raises ``ValidationError`` when ``prefix`` is not 1-64 of ``[A-Za-z0-9_-]``
    (it names streams and buckets too, which allow no more).
    """

    __slots__ = (
        "bridge_bucket",
        "events_stream",
        "events_subjects",
        "latest_bucket",
        "orders_bucket",
        "prefix",
        "quotes_stream",
        "quotes_subjects",
        "rpc_key_subject",
    )

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        if not isinstance(prefix, str) or not _PREFIX_RE.fullmatch(prefix):
            raise ValidationError(
                f"prefix must be 1-64 letters, digits, '_' or '-', not {prefix!r}",
                code="invalid_prefix",
            )
        self.prefix = prefix
        self.events_stream = f"{prefix.upper()}_EVENTS"
        self.quotes_stream = f"{prefix.upper()}_QUOTES"
        self.events_subjects = f"{prefix}.*.events"
        self.quotes_subjects = f"{prefix}.*.quotes.>"
        self.latest_bucket = f"{prefix}_quotes_latest"
        self.bridge_bucket = f"{prefix}_bridge"
        self.orders_bucket = f"{prefix}_orders"
        self.rpc_key_subject = f"{prefix}.rpc"

    def __repr__(self) -> str:
        return f"Wire(prefix={self.prefix!r})"

    def events_subject(self, account: str) -> str:
        return f"{self.prefix}.{token(account)}.events"

    def quotes_subject(self, account: str, symbol: str) -> str:
        return f"{self.prefix}.{token(account)}.quotes.{token(symbol)}"

    def quotes_filter(self, account: str, symbol: str | None = None) -> str:
        """A core-NATS subscription subject: one symbol, or all (``>``) of an account."""
        tail = ">" if symbol is None else token(symbol)
        return f"{self.prefix}.{token(account)}.quotes.{tail}"

    def parse_quotes_subject(self, subject: str) -> tuple[str, str]:
        """(account, symbol) of a quotes subject; raises ``ProtocolError`` otherwise."""
        parts = subject.split(".")
        if len(parts) != 4 or parts[0] != self.prefix or parts[2] != "quotes":
            raise ProtocolError(f"not a quotes subject of prefix {self.prefix!r}: {subject!r}")
        return untoken(parts[1]), untoken(parts[3])

    def rpc_subject(self, account: str | None = None) -> str:
        """The REST subject of an account, or the key's own (``accounts.list``)."""
        if account is None:
            return self.rpc_key_subject
        return f"{self.prefix}.{token(account)}.rpc"

    @staticmethod
    def latest_key(account: str, symbol: str) -> str:
        return f"{token(account)}.{token(symbol)}"

    @staticmethod
    def status_key(account: str) -> str:
        return f"status.{token(account)}"

    @staticmethod
    def state_key(account: str) -> str:
        return f"state.{token(account)}"

    @staticmethod
    def order_key(idempotency_key: str) -> str:
        """The ``<prefix>_orders`` key of a submission: a hash, as keys allow few characters."""
        return hashlib.sha256(idempotency_key.encode()).hexdigest()


# ------------------------------------------------------------------ events


class GapFrame(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="stream_gap"):
    """A ``StreamGap`` on the events stream (the server's union has no tag for it)."""

    data: StreamGap
    account_id: str = ""


#: What a consumer reads from the events stream.
BridgeEvent: TypeAlias = AccountEvent | StreamGap

_EventFrame: TypeAlias = AccountEvent | GapFrame
_encoder: Final = msgspec.json.Encoder()
_QUOTES: Final = list[Quote]


def encode_event(event: BridgeEvent, *, account: str = "") -> bytes:
    """The body of an events-stream message (``account`` is recorded on a gap)."""
    if isinstance(event, StreamGap):
        return _encoder.encode(GapFrame(data=event, account_id=account))
    return _encoder.encode(event)


def decode_event(body: bytes) -> BridgeEvent:
    """An events-stream body as the library's event; raises ``ProtocolError``."""
    frame: _EventFrame = decode_body(body, _EventFrame, what="bridge event")
    return frame.data if isinstance(frame, GapFrame) else frame


def _num(value: float | None) -> str:
    # Ten significant digits: the live and the recovered copy carry the same server
    # figure, but one may have passed through a subtraction (0.30000000000000004).
    return "-" if value is None else f"{value:.10g}"


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


def event_id(account: str, event: BridgeEvent, *, at: datetime | None = None) -> str:
    """The ``Nats-Msg-Id`` of an event: the same for its live and its recovered copy.

    Order events: ``<account>:<kind>:<order id>``, plus the new sl/tp/price of a
    modification and the remaining volume of a partial close (one order can
    have several of those, and two real ones must not collapse into one).
    Account figures and statuses: a hash of their content and of their ``seq``
    (or of ``at``, the time the bridge saw them, when they have none). Gaps: a
    hash of their content, which carries its own times.
    """
    match event:
        case OrderModified(data=d):
            return f"{account}:order_modified:{d.id}:{_num(d.sl)}:{_num(d.tp)}:{_num(d.price)}"
        case OrderPartiallyClosed(data=d):
            return f"{account}:order_partially_closed:{d.id}:{_num(d.remaining)}"
        case OrderOpened(data=d) | OrderFilled(data=d) | OrderClosed(data=d):
            return f"{account}:{event.__struct_config__.tag}:{d.id}"
        case OrderCancelled(data=d):
            return f"{account}:order_cancelled:{d.id}"
        case StreamGap():
            content = (event.reason, event.started_at.isoformat(), event.ended_at.isoformat())
            return f"{account}:gap:{_digest(*content, *sorted(event.accounts))}"
        case AccountUpdate(data=d) | AccountStatusChanged(data=d):
            kind = event.__struct_config__.tag
            when = f"seq={event.seq}" if event.seq is not None else f"at={_when(at)}"
            return f"{account}:{kind}:{_digest(_encoder.encode(d).decode(), when)}"
    raise ValidationError(f"not a bridge event: {type(event).__name__}")


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.isoformat(timespec="milliseconds")


# ------------------------------------------------------------------ quotes


def encode_quotes(quotes: Sequence[Quote]) -> bytes:
    """A quotes message body: a JSON array, in arrival order."""
    return _encoder.encode(quotes)


def decode_quotes(body: bytes) -> list[Quote]:
    """A quotes message body; raises ``ProtocolError``."""
    result: list[Quote] = decode_body(body, _QUOTES, what="quote batch")
    return result


def encode_quote(quote: Quote) -> bytes:
    """A ``<prefix>_quotes_latest`` value."""
    return _encoder.encode(quote)


def decode_quote(body: bytes) -> Quote:
    """A ``<prefix>_quotes_latest`` value; raises ``ProtocolError``."""
    return decode_body(body, Quote, what="latest quote")


class BridgeStatus(msgspec.Struct, frozen=True, kw_only=True):
    """``status.<account>`` in ``<prefix>_bridge``: the bridge's upstream, per account."""

    account: str
    #: The upstream stream's state (``ConnectionState.state``: connected, reconnecting, ...).
    state: str
    since: datetime
    #: The bridge run that wrote this (the ``Fx-Epoch`` of its quotes).
    epoch: str
    reason: str = ""
    reconnects: int = 0
    gaps: int = 0
    updated_at: datetime | None = None


def decode_status(body: bytes) -> BridgeStatus:
    """A ``status.<account>`` value; raises ``ProtocolError``."""
    return decode_body(body, BridgeStatus, what="bridge status")
