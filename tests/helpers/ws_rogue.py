"""Servers on 127.0.0.1 for what the simulator never does to a stream socket.

``rogue_ws``: a WebSocket server (picows) that plays a script of raw frames
to the first client (fragmented messages, pings, binary frames, a frame over
the size limit) and records the pongs it gets. ``tls_proxy``: a TLS front for
another server, with a self-signed certificate for 127.0.0.1 (``openssl``
makes it), to see what the client does with a certificate it cannot verify.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import picows
import pytest
from picows import WSFrame, WSMsgType, WSTransport

__all__ = ["RogueWs", "TlsProxy", "rogue_ws", "self_signed", "tls_proxy"]


@dataclass
class RogueWs:
    """``script`` (type, payload, fin) goes to the first connection; ``url`` is ws://."""

    script: list[tuple[WSMsgType, bytes, bool]] = field(default_factory=list)
    url: str = ""
    connections: int = 0
    pongs: list[bytes] = field(default_factory=list)


class _Listener(picows.WSListener):
    def __init__(self, server: RogueWs) -> None:
        self._server = server

    def on_ws_connected(self, transport: WSTransport) -> None:
        self._server.connections += 1
        if self._server.connections == 1:
            for kind, payload, fin in self._server.script:
                transport.send(kind, payload, fin=fin)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.PONG:
            self._server.pongs.append(frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()


@contextlib.asynccontextmanager
async def rogue_ws() -> AsyncIterator[RogueWs]:
    """A ``RogueWs`` listening on an ephemeral port of 127.0.0.1."""
    state = RogueWs()
    server = await picows.ws_create_server(
        lambda request: _Listener(state), "127.0.0.1", 0, max_frame_size=64 * 1024 * 1024
    )
    port = server.sockets[0].getsockname()[1]
    state.url = f"ws://127.0.0.1:{port}/v1/stream"
    try:
        yield state
    finally:
        server.close()
        await server.wait_closed()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for IP 127.0.0.1 and its key, made with ``openssl`` (skip without it)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip
    return cert, key


@dataclass
class TlsProxy:
    """``port`` speaks TLS and forwards every connection to the target in the clear."""

    port: int
    cert: Path
    handshakes_done: int = 0


@contextlib.asynccontextmanager
async def tls_proxy(target: tuple[str, int], cert: Path, key: Path) -> AsyncIterator[TlsProxy]:
    """A TLS front for ``target`` (host, port) on an ephemeral port of 127.0.0.1."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    pipes: set[asyncio.Task[None]] = set()
    proxy = TlsProxy(0, cert)

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proxy.handshakes_done += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        for task in (
            asyncio.create_task(pipe(reader, up_writer)),
            asyncio.create_task(pipe(up_reader, writer)),
        ):
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)
        await server.wait_closed()
