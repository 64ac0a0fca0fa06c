"""The stream's two WebSocket clients: choosing one, and what each must do alike.

The rest of this suite runs over both (conftest's ``transport``); here are
the things only a transport decides: which one a session picks, TLS
verification, the handshake's errors and what rides along with them,
fragmented and oversized messages, pings from the server.
"""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import anyio
import anyio.abc
import pytest
from picows import WSMsgType
from picows.picows import _make_test_ws_frame as make_test_frame

from fxsocket_async import (
    AsyncFxSocket,
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    StreamPolicy,
    TimeoutError,
    Timeouts,
)
from fxsocket_async._core.dialect import StreamEndpoint
from fxsocket_async._core.routing import FLUSH_EVERY
from fxsocket_async._core.stream import StreamProtocol
from fxsocket_async._dialects.reference import ReferenceStream
from fxsocket_async._stream import transport as transport_module
from fxsocket_async._stream import ws_aiohttp, ws_picows
from fxsocket_async.simulator import Simulator
from fxsocket_async.types import StreamStats
from tests.helpers.poll import poll
from tests.helpers.sim import FULL_KEY
from tests.helpers.ws_rogue import rogue_ws, self_signed, tls_proxy

from .conftest import FAST_STREAM, WAIT, link, make_streaming_client

FAST_EXTRA = "pip install 'fxsocket-async[fast]'"


def shared_stats(fx: AsyncFxSocket) -> StreamStats:
    stats: StreamStats = fx.stats()["streams"][None]
    return stats


def chain(exc: BaseException) -> Iterator[BaseException]:
    """Every exception riding along with ``exc`` (causes and contexts)."""
    seen: set[int] = set()
    todo = [exc.__cause__, exc.__context__]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]


def assert_ours_alone(exc: FxSocketError) -> None:
    foreign = [e for e in chain(exc) if not type(e).__module__.startswith("fxsocket_async")]
    assert foreign == [], f"{type(exc).__name__} carries {foreign!r}"


@pytest.fixture
def without_picows(monkeypatch: pytest.MonkeyPatch) -> None:
    """picows cannot be imported (it is installed here: that is mocked, nothing else)."""
    real = transport_module.import_module

    def import_module(name: str, package: str | None = None) -> ModuleType:
        if name == "picows":
            raise ModuleNotFoundError("No module named 'picows'", name="picows")
        return real(name, package)

    monkeypatch.setattr(transport_module, "import_module", import_module)


# ------------------------------------------------------------------ the choice


async def test_each_socket_names_its_transport(sim: Simulator, transport: str) -> None:
    async with make_streaming_client(sim) as fx:
        assert shared_stats(fx).transport == transport  # before it opens too
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
        assert shared_stats(fx).transport == transport
        assert fx.stats()["stream"].transport == transport
        assert f"transport={transport!r}" in repr(fx._open().routing.shared_stream)


@pytest.mark.transports("aiohttp")
@pytest.mark.dialects("reference")
async def test_auto_picks_picows_when_it_is_installed(sim: Simulator) -> None:
    policy = dataclasses.replace(FAST_STREAM, transport="auto")
    async with make_streaming_client(sim, stream=policy) as fx:
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
        assert shared_stats(fx).transport == "picows"


@pytest.mark.transports("aiohttp")
@pytest.mark.dialects("reference")
async def test_auto_falls_back_to_aiohttp_without_picows(
    sim: Simulator, without_picows: None
) -> None:
    policy = dataclasses.replace(FAST_STREAM, transport="auto")
    async with make_streaming_client(sim, stream=policy) as fx:
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
        assert shared_stats(fx).transport == "aiohttp"


@pytest.mark.transports("aiohttp")
@pytest.mark.dialects("reference")
async def test_picows_without_picows_refuses_to_start_before_sending_anything(
    sim: Simulator, without_picows: None
) -> None:
    policy = dataclasses.replace(FAST_STREAM, transport="picows")
    with pytest.raises(ConfigurationError) as caught:
        async with make_streaming_client(sim, stream=policy):
            pass  # pragma: no cover - never entered
    assert FAST_EXTRA in caught.value.message
    assert caught.value.code == "transport_missing"
    assert_ours_alone(caught.value)
    assert (sim.stats.requests, sim.stats.ws_handshakes) == (0, 0)


@pytest.mark.transports("aiohttp")
@pytest.mark.parametrize("name", ["uvloop", "", "PICOWS", None])
def test_an_unknown_transport_is_refused_when_the_policy_is_made(name: Any) -> None:
    with pytest.raises(ValueError, match="transport"):
        StreamPolicy(transport=name)


# ------------------------------------------------------------ handshake errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, ConfigurationError),
        (503, ConnectionFailedError),
    ],
)
async def test_a_refused_handshake_raises_ours_with_nothing_of_the_client_library(
    sim: Simulator, status: int, error: type[FxSocketError]
) -> None:
    sim.faults.refuse_handshakes(status=status)
    async with make_streaming_client(sim) as fx:
        with anyio.fail_after(WAIT), pytest.raises(error) as caught:
            await fx.connect_stream()
    assert type(caught.value) is error
    assert str(status) in caught.value.message
    assert sim.ws_url.split("?")[0] in caught.value.message
    assert_ours_alone(caught.value)


@pytest.mark.dialects("reference")
async def test_a_closed_port_is_connection_failed_with_nothing_of_the_client_library(
    sim: Simulator,
) -> None:
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server:
            url = server.url  # nobody listens there once the server has gone
    async with make_streaming_client(sim, ws_url=url) as fx:
        with anyio.fail_after(WAIT), pytest.raises(ConnectionFailedError) as caught:
            await fx.connect_stream()
    assert "connect call failed" in caught.value.message.lower()
    assert url in caught.value.message
    assert_ours_alone(caught.value)


@pytest.mark.dialects("reference")
async def test_a_silent_handshake_is_our_timeout_within_the_connect_timeout(
    sim: Simulator,
) -> None:
    async def never_answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            with anyio.move_on_after(WAIT):
                await stream.receive()
                await anyio.sleep_forever()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    url = f"ws://127.0.0.1:{port}/v1/stream"
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, never_answer)
        async with make_streaming_client(sim, ws_url=url, timeouts=Timeouts(connect=0.2)) as fx:
            with anyio.fail_after(WAIT), pytest.raises(TimeoutError) as caught:
                await fx.connect_stream()
        tg.cancel_scope.cancel()
    assert url in caught.value.message
    assert "0.2 s" in caught.value.message
    assert_ours_alone(caught.value)


async def test_no_record_holds_the_key_even_at_the_lowest_log_level(
    sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    # picows writes out the upgrade request (the key in its headers or its URL) below DEBUG.
    caplog.set_level(1)
    async with make_streaming_client(sim) as fx:
        account = await link(fx, connected=True)
        with anyio.fail_after(WAIT):
            async with fx.quotes("EURUSD", account=account.id):
                pass
    assert caplog.records
    assert not [r for r in caplog.records if FULL_KEY in r.getMessage()]


# -------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture
async def wss_url(sim: Simulator, certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    """The simulator's stream behind TLS with a self-signed certificate."""
    host, port = sim.ws_url.removeprefix("ws://").split("/")[0].rsplit(":", 1)
    async with tls_proxy((host, int(port)), *certificate) as proxy:
        yield f"wss://127.0.0.1:{proxy.port}/v1/stream"


@pytest.mark.dialects("reference")  # the terminal's socket URL comes from the account's record
async def test_tls_verification_is_on_by_default(sim: Simulator, wss_url: str) -> None:
    async with make_streaming_client(sim, ws_url=wss_url) as fx:
        with anyio.fail_after(WAIT), pytest.raises(ConnectionFailedError) as caught:
            await fx.connect_stream()
    assert "certificate_verify_failed" in caught.value.message.lower()
    assert wss_url in caught.value.message
    assert_ours_alone(caught.value)
    assert sim.stats.ws_handshakes == 0


@pytest.mark.dialects("reference")
async def test_tls_with_the_sessions_context_trusting_the_certificate(
    sim: Simulator, wss_url: str, certificate: tuple[Path, Path], transport: str
) -> None:
    context = ssl.create_default_context(cafile=str(certificate[0]))
    async with make_streaming_client(sim, ws_url=wss_url, ssl_context=context) as fx:
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
        assert shared_stats(fx).connected
        assert shared_stats(fx).transport == transport
    assert sim.stats.ws_handshakes == 1


@pytest.mark.dialects("reference")
async def test_tls_with_verification_explicitly_off(sim: Simulator, wss_url: str) -> None:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    async with make_streaming_client(sim, ws_url=wss_url, ssl_context=context) as fx:
        with anyio.fail_after(WAIT):
            await fx.connect_stream()
        assert shared_stats(fx).connected


# ------------------------------------------------------------- frames on the wire


def rogue_client(url: str, transport: str) -> AsyncFxSocket:
    policy = dataclasses.replace(FAST_STREAM, transport=transport)
    return AsyncFxSocket(
        "full-key", base_url="http://127.0.0.1:9", ws_url=url, dialect="reference", stream=policy
    )


@pytest.mark.anyio
async def test_a_fragmented_message_is_put_together_around_a_ping(transport: str) -> None:
    notice = b'{"type":"error","error":"notice","message":"in three parts"}'
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server:
            server.script = [
                (WSMsgType.BINARY, b"\x00\x01", True),  # not part of the protocol: ignored
                (WSMsgType.TEXT, notice[:10], False),
                (WSMsgType.PING, b"are you there", True),  # allowed between the parts
                (WSMsgType.CONTINUATION, notice[10:30], False),
                (WSMsgType.CONTINUATION, notice[30:], True),
            ]
            async with rogue_client(server.url, transport) as fx:
                await fx.connect_stream()
                await poll(
                    lambda: server.pongs == [b"are you there"], timeout=WAIT, what="the pong"
                )
                await poll(lambda: shared_stats(fx).notices == 1, timeout=WAIT, what="the notice")
                stats = shared_stats(fx)
                assert (stats.frames, stats.decode_errors, stats.reconnects) == (1, 0, 0)


@pytest.mark.anyio
async def test_a_message_over_16_mb_ends_the_socket_and_it_reconnects(
    transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    notice = b'{"type":"error","error":"notice","message":"before the big one"}'
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server:
            server.script = [
                (WSMsgType.TEXT, notice, True),
                (WSMsgType.TEXT, b" " * (16 * 1024 * 1024 + 1), True),
            ]
            async with rogue_client(server.url, transport) as fx:
                await fx.connect_stream()
                await poll(lambda: server.connections >= 2, timeout=WAIT, what="a reconnect")
                await poll(
                    lambda: shared_stats(fx).connected, timeout=WAIT, what="the socket up again"
                )
                stats = shared_stats(fx)
                assert (stats.notices, stats.decode_errors) == (1, 0)
                assert stats.reconnects >= 1
    assert any("(code 1009)" in record.getMessage() for record in caplog.records)


class RecordingProtocol(StreamProtocol):
    """The real protocol, noting the size of every batch it is handed and whether
    the socket was reading then."""

    def __init__(self, url: str, reading: Callable[[], bool]) -> None:
        super().__init__(
            ReferenceStream(url, "full-key"), ping_interval=60, dead_after=60, quote_silence=None
        )
        self.batches: list[int] = []
        self.reading: list[bool] = []
        self._is_reading = reading

    def receive_frames(self, frames: list[Any], wall: datetime, size: int | None = None) -> None:
        self.batches.append(len(frames))
        self.reading.append(self._is_reading())
        super().receive_frames(frames, wall, size)


@pytest.mark.anyio
@pytest.mark.transports("picows")
async def test_a_picows_backlog_pauses_reading_and_drains_in_batches() -> None:
    # A flood faster than the reader cannot be made on one loop: the listener is
    # handed one here, as picows would hand it the frames of a huge read.
    flood = ws_picows._HIGH_FRAMES * 2
    pong = make_test_frame(WSMsgType.TEXT, b'{"type":"pong"}', True, False)
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server:
            endpoint = StreamEndpoint(server.url, {}, server.url)
            sock = await ws_picows.PicowsTransport(None).open(endpoint, scope="key", timeout=WAIT)
            listener, transport = sock._listener, sock._transport
            socket = transport.underlying_transport
            for _ in range(flood):
                listener.on_ws_frame(transport, pong)
            protocol = RecordingProtocol(server.url, socket.is_reading)
            protocol.connection_made(datetime.now(UTC), 0.0)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    sock.read, protocol, lambda _: None, lambda: datetime.now(UTC), print
                )
                await poll(lambda: protocol.counters.frames == flood, timeout=WAIT, what="all")
                assert socket.is_reading()  # resumed once drained
                await sock.close()  # the reader returns once the socket has ended
    assert sum(protocol.batches) == flood
    assert max(protocol.batches) <= protocol.quotes.flush_every
    # Paused from the reader's first look at the backlog until a quarter of it was left.
    every = protocol.quotes.flush_every
    still_paused = -(-(flood - ws_picows._HIGH_FRAMES // 4) // every)  # batches, rounded up
    assert protocol.reading == [False] * still_paused + [True] * (
        len(protocol.batches) - still_paused
    )


@pytest.mark.anyio
@pytest.mark.transports("aiohttp")
async def test_an_aiohttp_burst_is_handed_on_in_batches_of_at_most_flush_every() -> None:
    # The frames are written at once, so aiohttp reads them ahead of the reader,
    # which must still cut them into bounded batches.
    flood = FLUSH_EVERY * 3 + 7
    frames = [b'{"type":"pong","n":%d}' % i for i in range(flood)]
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server, aiohttp.ClientSession() as http:
            server.script = [(WSMsgType.TEXT, frame, True) for frame in frames]
            endpoint = StreamEndpoint(server.url, {}, server.url)
            sock = await ws_aiohttp.AiohttpTransport(http).open(endpoint, scope="key", timeout=WAIT)
            protocol = RecordingProtocol(server.url, lambda: True)
            protocol.connection_made(datetime.now(UTC), 0.0)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    sock.read, protocol, lambda _: None, lambda: datetime.now(UTC), print
                )
                await poll(lambda: protocol.counters.frames == flood, timeout=WAIT, what="all")
                await sock.close()
    assert sum(protocol.batches) == flood
    assert max(protocol.batches) <= protocol.quotes.flush_every == FLUSH_EVERY
    assert len(protocol.batches) >= -(-flood // FLUSH_EVERY)
    assert protocol.counters.bytes == sum(map(len, frames))


@pytest.mark.anyio
@pytest.mark.transports("aiohttp")
async def test_text_decoded_to_str_as_by_an_aiohttp_without_decode_text_is_read_too() -> None:
    # aiohttp before 3.13 has no decode_text: every text message is a WSMessage of
    # str. A socket opened without the option is that, on this aiohttp.
    frames = [b'{"type":"pong","n":%d}' % i for i in range(FLUSH_EVERY + 3)]
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server, aiohttp.ClientSession() as http:
            server.script = [(WSMsgType.TEXT, frame, True) for frame in frames]
            sock = ws_aiohttp.AiohttpSocket(await http.ws_connect(server.url, autoping=False))
            protocol = RecordingProtocol(server.url, lambda: True)
            protocol.connection_made(datetime.now(UTC), 0.0)
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    sock.read, protocol, lambda _: None, lambda: datetime.now(UTC), print
                )
                await poll(
                    lambda: protocol.counters.frames == len(frames), timeout=WAIT, what="all"
                )
                await sock.close()
    assert max(protocol.batches) <= FLUSH_EVERY
    assert protocol.counters.bytes == sum(map(len, frames))
    assert protocol.counters.decode_errors == 0


@pytest.mark.anyio
@pytest.mark.transports("picows")
async def test_the_picows_backlog_keeps_order_across_taken_chunks() -> None:
    with anyio.fail_after(WAIT):
        async with rogue_ws() as server:
            endpoint = StreamEndpoint(server.url, {}, server.url)
            sock = await ws_picows.PicowsTransport(None).open(endpoint, scope="key", timeout=WAIT)
            backlog = ws_picows._Backlog(sock._transport.underlying_transport)
            backlog.add([b"a", b"bb", b"ccc"], 2)
            backlog.add([], 2)  # nothing taken: no batch
            backlog.add([b"d"], 2)
            assert (backlog.frames, backlog.size) == (4, 7)
            assert [backlog.batch(2), backlog.batch(2), backlog.batch(2)] == [
                ([b"a", b"bb"], 3),
                ([b"ccc"], 3),  # a batch never spans two taken lists
                ([b"d"], 1),
            ]
            assert backlog.batch(2) == ([], 0)
            backlog.add([b"e", b"ff", b"g"], 3)
            assert backlog.batch(1) == ([b"e"], 1)  # batches shrank: the rest is cut anew
            backlog.add([b"h"], 3)
            assert backlog.rest() == ([b"ff", b"g", b"h"], 4)  # what a cancelled reader hands on
            assert backlog.batch(1) == ([], 0)
            await sock.close()
