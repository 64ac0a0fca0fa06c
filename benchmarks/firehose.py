"""A WebSocket server for benchmarks that is never the bottleneck.

Plain asyncio (one ``asyncio.Protocol`` per connection): it does the RFC 6455
handshake itself, answers the contract's ``subscribe`` with its ``subscribed``
ack, then writes PRE-ENCODED, PRE-FRAMED quote frames (server frames are not
masked) straight to the transport in chunks of whole frames, waiting only when
the transport asks it to (``pause_writing`` / ``resume_writing``): no await per
frame, no encoding on the hot path.

What a connection gets is chosen by the query string of its URL, so that any
client (ours, bare aiohttp, the vendor SDK, a raw socket) can ask for it:

- ``fmt=ours`` (default): the contract's frames (frames.py); the pump starts
  on the first ``subscribe`` of the ``quotes`` channel. ``fmt=vendor``: the
  vendor SDK's frames, which are the terminal dialect's too; the pump starts
  on ``{"action":"subscribe","topic":"prices",...}``, acked
  ``{"type":"subscribed","topic":"prices","message":..}`` as a terminal does.
- ``n``: how many quote frames; ``k``: how many symbols, round-robin
  (EURUSD, GBPUSD, USDJPY, XAUUSD); ``delay``: milliseconds to wait after the
  ack before pumping (lets many local consumers attach first).
- ``raw=1``: no subscribe needed, the pump starts right after the handshake,
  and the 101 reply carries ``X-Firehose-Bytes`` (for the byte-counting check).
- ``rate`` and ``secs``: paced mode (see below) instead of a firehose.

The terminal dialect reads an account record before it opens the account's
own socket: a plain HTTP ``GET {base}/v1/accounts/{id}`` is answered with a
``connected`` record whose ``ws_url`` is ``/terminal/{id}/ws`` on this server
with ``fmt=vendor`` and the parameters carried by the base URL's path
(``terminal_base(port, n=.., k=..)`` gives ``http://127.0.0.1:port/q/n=..&k=..``);
the client adds ``api_key=`` to it, which is ignored. Any other plain HTTP
request is a JSON 404.

Paced mode stamps each frame with its send time: the bid is
``time.monotonic_ns() / 1e9`` with nanosecond digits, taken just before the
frame is written. ``CLOCK_MONOTONIC`` is the same clock in every process of the
machine, so the consumer's latency is ``monotonic_ns() - round(bid * 1e9)``,
read from the decoded ``Quote`` at no extra cost. Frames are spaced by
spinning on the clock (one frame per write, one every ``1 / rate`` s), so the
paced server keeps one core busy; the client has the other.

Run ``python -m benchmarks.firehose --selfcheck`` to prove it is not the
bottleneck: a raw-socket reader that only counts bytes takes tens of millions
of frames per second from it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from benchmarks.frames import (
    ACCOUNT,
    PAYLOADS,
    SYMBOLS,
    FrameStore,
    quote_payload,
    sentinels,
    ws_frame,
)

__all__ = [
    "ACCOUNT",
    "SYMBOLS",
    "Firehose",
    "FrameStore",
    "quote_payload",
    "raw_read",
    "serve",
    "start_subprocess",
    "terminal_base",
    "ws_frame",
]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK_FRAMES = 8192  # ~1 MB per write
_HIGH_WATER = 8 * 1024 * 1024
_LOW_WATER = 2 * 1024 * 1024
#: A base URL's path ``/q/<query>`` carries a terminal stream's parameters (see ``terminal_base``).
_PARAMS_PREFIX = "/q/"


_STORE = FrameStore()


class _Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._inbox = bytearray()
        self._open = False
        self._lost = False
        self._params: dict[str, str] = {}
        self._resume: asyncio.Future[None] | None = None
        self._pump: asyncio.Task[None] | None = None

    # ----------------------------------------------------------- transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=_HIGH_WATER, low=_LOW_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.resume_writing()
        if self._pump is not None:
            self._pump.cancel()

    def pause_writing(self) -> None:
        if self._resume is None:
            self._resume = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        resume, self._resume = self._resume, None
        if resume is not None and not resume.done():
            resume.set_result(None)

    def _write(self, data: bytes | memoryview) -> None:
        if not self._lost and self.transport is not None:
            self.transport.write(data)

    # ------------------------------------------------------------ handshake

    def data_received(self, data: bytes) -> None:
        self._inbox += data
        if not self._open:
            end = self._inbox.find(b"\r\n\r\n")
            if end < 0:
                if len(self._inbox) > 65536:
                    self._close()
                return
            head = bytes(self._inbox[:end]).decode("latin-1")
            del self._inbox[: end + 4]
            self._handshake(head)
            if not self._open:  # a plain HTTP request, answered and closed
                self._inbox.clear()
                return
        self._read_frames()

    def _handshake(self, head: str) -> None:
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        target = parts[1] if len(parts) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            self._http(parts[0], target)
            return
        key = headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1(key.encode() + _GUID).digest()).decode()
        self._params = dict(parse_qsl(urlsplit(target).query))
        extra = ""
        raw = self._params.get("raw") == "1"
        if raw:
            fmt, k, n = self._shape()
            _, offsets = _STORE.get(fmt, k, n)
            total = offsets[n] + len(sentinels(fmt, k))
            extra = f"X-Firehose-Bytes: {total}\r\n"
        self._write(
            (
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{extra}\r\n"
            ).encode()
        )
        self._open = True
        if raw:
            self._start()

    def _http(self, method: str, target: str) -> None:
        """A plain request: the terminal dialect's account record, else 404 (then hang up)."""
        path = urlsplit(target).path
        prefix, found, account = path.partition("/v1/accounts/")
        body: dict[str, Any] = {"error": "not_found", "message": f"no route {path}"}
        status = "404 Not Found"
        if method == "GET" and found and account and "/" not in account:
            params = dict(parse_qsl(unquote(prefix.removeprefix(_PARAMS_PREFIX))))
            params["fmt"] = "vendor"
            host, port = self._sockname()
            status, body = (
                "200 OK",
                {
                    "id": account,
                    "status": "connected",
                    "platform": "mt5",
                    "server": "Bench-Server",
                    "login": 1,
                    "rest_url": f"http://{host}:{port}/terminal/{account}",
                    "ws_url": f"ws://{host}:{port}/terminal/{account}/ws?{urlencode(params)}",
                },
            )
        data = json.dumps(body).encode()
        self._write(
            (
                f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode()
            + data
        )
        self._close()

    def _sockname(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)

    def _shape(self) -> tuple[str, int, int]:
        p = self._params
        return p.get("fmt", "ours"), int(p.get("k", "1")), int(p.get("n", "1000"))

    # --------------------------------------------------------- client frames

    def _read_frames(self) -> None:
        buf = self._inbox
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            opcode, masked, length = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
            pos = 2
            if length == 126:
                if len(buf) < 4:
                    return
                length = struct.unpack_from("!H", buf, 2)[0]
                pos = 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length = struct.unpack_from("!Q", buf, 2)[0]
                pos = 10
            mask = b""
            if masked:
                if len(buf) < pos + 4:
                    return
                mask = bytes(buf[pos : pos + 4])
                pos += 4
            if len(buf) < pos + length:
                return
            payload = bytes(buf[pos : pos + length])
            del buf[: pos + length]
            if masked and length:
                full = (mask * (length // 4 + 1))[:length]
                payload = (int.from_bytes(payload, "big") ^ int.from_bytes(full, "big")).to_bytes(
                    length, "big"
                )
            self._on_frame(opcode, payload)

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == 0x8:  # close: echo it and hang up
            self._write(ws_frame(payload[:2], 0x8))
            self._close()
        elif opcode == 0x9:  # protocol ping
            self._write(ws_frame(payload, 0xA))
        elif opcode == 0x1:
            try:
                message = json.loads(payload)
            except ValueError:
                return
            if isinstance(message, dict):
                self._on_message(message)

    def _on_message(self, message: dict[str, Any]) -> None:
        action = message.get("action")
        if "topic" in message:  # the vendor SDK's protocol
            topic = message.get("topic")
            reply = {"type": f"{action}d", "topic": topic, "message": f"{action}d {topic}"}
            self._write(ws_frame(json.dumps(reply).encode()))
            if action == "subscribe" and topic == "prices":
                self._start()
            return
        if action == "ping":
            self._write(ws_frame(json.dumps({"type": "pong", "id": message.get("id")}).encode()))
        elif action in ("subscribe", "unsubscribe"):
            reply = {
                "type": f"{action}d",
                "id": message.get("id"),
                "channel": message.get("channel", ""),
                "account_id": message.get("account_id"),
                "symbols": message.get("symbols"),
            }
            self._write(ws_frame(json.dumps(reply).encode()))
            if action == "subscribe" and message.get("channel") == "quotes":
                self._start()

    def _close(self) -> None:
        if self.transport is not None and not self._lost:
            self.transport.close()

    # ------------------------------------------------------------------ pump

    def _start(self) -> None:
        if self._pump is None:
            if "rate" in self._params:
                self._pump = asyncio.ensure_future(self._paced())
            else:
                self._pump = asyncio.ensure_future(self._firehose())

    async def _wait_writable(self) -> None:
        while self._resume is not None and not self._lost:
            await self._resume

    async def _firehose(self) -> None:
        fmt, k, n = self._shape()
        view, offsets = _STORE.get(fmt, k, n)
        delay = float(self._params.get("delay", "0")) / 1000
        if delay:
            await asyncio.sleep(delay)
        i = 0
        writes = 0
        while i < n and not self._lost:
            if self._resume is not None:
                await self._wait_writable()
            j = min(i + _CHUNK_FRAMES, n)
            self._write(view[offsets[i] : offsets[j]])
            i = j
            writes += 1
            if writes % 64 == 0:
                await asyncio.sleep(0)  # let other connections breathe
        self._write(sentinels(fmt, k))

    async def _paced(self) -> None:
        rate = float(self._params["rate"])
        total = int(rate * float(self._params.get("secs", "1")))
        k = int(self._params.get("k", "1"))
        fmt = self._params.get("fmt", "ours")
        make = PAYLOADS[fmt]
        interval = 1e9 / rate
        clock = time.monotonic_ns
        yield_cpu = os.sched_yield
        await asyncio.sleep(float(self._params.get("delay", "0")) / 1000)
        start = clock()
        for j in range(total):
            if self._lost:
                return
            due = start + int(j * interval)
            ahead = due - clock()
            if ahead > 2_000_000:
                await asyncio.sleep((ahead - 1_000_000) / 1e9)
            while clock() < due:
                # Spin (asyncio's timers are far too coarse for 50 us spacing), but
                # yield the CPU at each turn: a pure spin starves the kernel's
                # softirq thread on this core, and loopback delivery stalls for ms.
                yield_cpu()
            stamp = clock()
            bid = f"{stamp // 1_000_000_000}.{stamp % 1_000_000_000:09d}"
            payload = make(j, SYMBOLS[j % k], bid, "1.08125")
            self._write(ws_frame(payload))
            if j % 16 == 15:
                await asyncio.sleep(0)  # answer pings and acks
        self._write(sentinels(fmt, k))


def terminal_base(port: int, **params: object) -> str:
    """A base URL whose account records point at a terminal stream with ``params``."""
    return f"http://127.0.0.1:{port}{_PARAMS_PREFIX}{urlencode(params)}"


async def serve(host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
    """Start listening; the caller owns the returned server."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(_Connection, host, port, backlog=128)


def _prepare(specs: list[str]) -> None:
    for spec in specs:
        fmt, k, n = spec.split(":")
        _STORE.get(fmt, int(k), int(n))


async def _main(port: int, prepare: list[str]) -> None:
    _prepare(prepare)
    server = await serve(port=port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"PORT={server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def raw_read(port: int, n: int, fmt: str = "ours", timeout: float = 60.0) -> dict[str, float]:
    """Suite 0's byte-counting reader (selfcheck.py)."""
    from benchmarks.selfcheck import raw_read as read

    return read(port, n, fmt, timeout)


class Firehose:
    """A firehose running in a child process (so its CPU is not the client's)."""

    def __init__(self, proc: Any, port: int) -> None:
        self.proc = proc
        self.port = port

    def url(self, **params: object) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"ws://127.0.0.1:{self.port}/v1/stream?{query}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()


def start_subprocess(prepare: list[str], timeout: float = 120.0) -> Firehose:
    """Start ``python -m benchmarks.firehose`` and wait for its port."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, "-m", "benchmarks.firehose", "--port", "0"]
    for spec in prepare:
        args += ["--prepare", spec]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=root, env=env)
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("PORT="):
            return Firehose(proc, int(line.strip().split("=", 1)[1]))
    proc.kill()
    raise RuntimeError("the firehose did not start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.firehose")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--prepare",
        action="append",
        default=[],
        metavar="FMT:K:N",
        help="build a frame stream before listening, e.g. ours:1:1000000",
    )
    parser.add_argument(
        "--selfcheck",
        action="store_true",
        help="measure a raw byte-counting reader against a child firehose",
    )
    parser.add_argument("-n", type=int, default=1_000_000, help="frames for --selfcheck")
    args = parser.parse_args(argv)
    if args.selfcheck:
        from benchmarks.selfcheck import selfcheck

        return selfcheck(args.n)
    asyncio.run(_main(args.port, args.prepare))
    return 0


if __name__ == "__main__":
    sys.exit(main())
