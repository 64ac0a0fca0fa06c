"""What the workers share: the registry, clients pointed at the firehose, the bare floors' decoders.

Timing convention for throughput: the clock starts when the first quote has
reached the consumer and stops when the consumer sees the end sentinel; the
first quote is not counted. Every contender runs the same consumer body per
quote (compare the bid with the sentinel, count).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import msgspec

from benchmarks.firehose import ACCOUNT, terminal_base
from fxsocket_async import AsyncFxSocket, StreamPolicy, always_open
from fxsocket_async._core.events import QuoteEvent, Subscribe, Subscribed
from fxsocket_async._dialects.reference import EVENT_DECODER
from fxsocket_async._dialects.terminal.wire import TTick

Result = dict[str, Any]
BIG_BUFFER = 1 << 16  # suites 1-3 deliver every quote: no conflation allowed

WORKERS: dict[str, Callable[..., Awaitable[Result]]] = {}

# The floors decode into the very Struct the library yields (``Quote``, in
# ``QuoteEvent.data`` or ``TTick.data``), with a decoder of that one type
# (the library's decoders handle each dialect's whole tagged union).
QUOTE_DECODE = msgspec.json.Decoder(QuoteEvent).decode
TICK_DECODE = msgspec.json.Decoder(TTick).decode
#: The terminal socket's subscribe, as ``TerminalStream.subscribe`` encodes it.
PRICES_SUBSCRIBE = b'{"action":"subscribe","topic":"prices","symbol":"EURUSD"}'


def worker(fn: Callable[..., Awaitable[Result]]) -> Callable[..., Awaitable[Result]]:
    WORKERS[fn.__name__] = fn
    return fn


def url(port: int, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"ws://127.0.0.1:{port}/v1/stream?{query}"


def policy(transport: str | None = None) -> StreamPolicy:
    """No liveness checks: the firehose pumps on subscribe and stops after the sentinels."""
    if transport is None:
        return StreamPolicy(market_open=always_open, quote_silence=None)
    if "transport" not in StreamPolicy.__dataclass_fields__:
        raise RuntimeError("this library has no StreamPolicy(transport=...) yet")
    setting: Any = transport  # checked by StreamPolicy itself
    return StreamPolicy(market_open=always_open, quote_silence=None, transport=setting)


@contextlib.asynccontextmanager
async def client(
    port: int, *, dialect: str = "reference", transport: str | None = None, **params: object
) -> AsyncIterator[AsyncFxSocket]:
    """A session on the firehose, its WebSocket opened before the first subscription.

    Opening it first keeps the connection's setup out of every measurement.
    ``dialect="terminal"``: the session reads the account record from the
    firehose (``GET /v1/accounts/bench``) and opens the account's own socket,
    which serves the terminal's frames; ``params`` shape the stream either way.
    """
    ws_url = url(port, **params)
    if dialect == "terminal":
        base = terminal_base(port, **params)
    else:
        base = ws_url.split("/v1/")[0].replace("ws://", "http://")
    async with AsyncFxSocket(
        api_key="x",
        base_url=base,
        ws_url=ws_url,
        stream=policy(transport),
        dialect=dialect,  # type: ignore[arg-type]
    ) as fx:
        await fx.connect_stream(account=ACCOUNT if dialect == "terminal" else None)
        yield fx


async def terminal_ws_url(http: aiohttp.ClientSession, port: int, **params: object) -> str:
    """The account's socket as its record names it (read the way the client reads it)."""
    async with http.get(f"{terminal_base(port, **params)}/v1/accounts/{ACCOUNT}") as reply:
        record = await reply.json()
    if record.get("status") != "connected" or not record.get("ws_url"):
        raise RuntimeError(f"not a connected terminal: {record}")
    return str(record["ws_url"]) + "&api_key=x"


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def throughput(count: int, t0: float, t1: float, **extra: Any) -> Result:
    seconds = t1 - t0
    return {"count": count, "seconds": seconds, "rate": count / seconds, **extra}


async def bare_connect(
    http: aiohttp.ClientSession, ws_url: str, symbols: list[str], *, dialect: str = "reference"
) -> aiohttp.ClientWebSocketResponse:
    """The same ws_connect options as the library's, then subscribe and read the ack."""
    ws = await http.ws_connect(
        ws_url,
        autoping=True,
        heartbeat=None,
        timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
        max_msg_size=16 * 1024 * 1024,
        decode_text=False,
    )
    await ws.send_str(subscribe_message(dialect, symbols).decode())
    while True:
        msg = await ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"no ack: {msg.type}")
        if is_ack(msg.data, dialect):
            return ws


def subscribe_message(dialect: str, symbols: list[str]) -> bytes:
    """The quotes subscribe as the library sends it in ``dialect``."""
    if dialect == "terminal":
        return PRICES_SUBSCRIBE
    return msgspec.json.encode(
        Subscribe(id=1, channel="quotes", account_id=ACCOUNT, symbols=symbols)
    )


def is_ack(data: bytes | str, dialect: str) -> bool:
    if dialect == "terminal":
        frame = json.loads(data)
        if frame.get("type") == "error":
            raise RuntimeError(f"subscribe refused: {frame}")
        return bool(frame.get("type") == "subscribed" and frame.get("topic") == "prices")
    return isinstance(EVENT_DECODER.decode(data), Subscribed)
