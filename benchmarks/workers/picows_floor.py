"""The bare picows floor (issue 13): picows' frame callback + msgspec, nothing else.

picows hands every frame to ``WSListener.on_ws_frame`` as it parses the
socket's bytes: no future, no task switch per message. The floor decodes the
payload in place (a ``memoryview`` of picows' read buffer: no copy) into the
very Struct the library yields and does the floors' consumer work (compare the
bid with the sentinel, count). It is the best a Python client of this server
can do with picows; the library's picows transport has to copy each payload to
``bytes`` (it hands frames on after the callback returns) and route them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from .common import (
    QUOTE_DECODE,
    TICK_DECODE,
    Result,
    is_ack,
    subscribe_message,
    terminal_ws_url,
    throughput,
    url,
    worker,
)


@worker
async def stream_floor_picows(port: int, n: int, dialect: str = "reference") -> Result:
    """Suite 1 floor on picows, in either dialect's frames."""
    from picows import WSListener, WSMsgType, ws_connect

    decode: Callable[[Any], Any]
    if dialect == "terminal":
        async with aiohttp.ClientSession() as http:
            ws_url = await terminal_ws_url(http, port, n=n, k=1)
        decode = TICK_DECODE
    else:
        ws_url, decode = url(port, n=n, k=1), QUOTE_DECODE
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    text = WSMsgType.TEXT
    perf = time.perf_counter
    acked = started = False
    count = 0
    t0 = 0.0

    def fail(why: str) -> None:
        if not done.done():
            done.set_exception(RuntimeError(why))

    class Floor(WSListener):
        def on_ws_connected(self, transport: Any) -> None:
            transport.send(text, subscribe_message(dialect, ["EURUSD"]))

        def on_ws_frame(self, transport: Any, frame: Any) -> None:
            nonlocal acked, started, count, t0
            if frame.msg_type is not text:
                if frame.msg_type is WSMsgType.CLOSE:
                    fail("closed before the end sentinel")
                return
            if not acked:
                acked = is_ack(frame.get_payload_as_bytes(), dialect)
                return
            quote = decode(frame.get_payload_as_memoryview()).data
            if not started:
                started = True
                t0 = perf()
                return
            if quote.bid < 0:
                if not done.done():
                    done.set_result(perf())
                return
            count += 1

        def on_ws_disconnected(self, transport: Any) -> None:
            fail("disconnected before the end sentinel")

    transport, _ = await ws_connect(Floor, ws_url, max_frame_size=16 * 1024 * 1024)
    try:
        t1 = await done
    finally:
        transport.disconnect()
        await transport.wait_disconnected()
    return throughput(count, t0, t1)
