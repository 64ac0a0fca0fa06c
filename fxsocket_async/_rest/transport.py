"""The transport seam: one ``HttpRequest`` in, one ``HttpReply`` out.

``Transport`` is the protocol every REST request goes through (as httpx's
transports are). ``AiohttpTransport`` is the real one, over the session's one
aiohttp ``ClientSession``; it is the only place where aiohttp meets REST, and
it maps every aiohttp failure to our tree. ``MockTransport`` answers from a
function, for tests of what is sent without a server.
"""

from __future__ import annotations

import builtins
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy

from .._clock import Clock
from .._config import Timeouts
from .._core.dialect import HttpReply, HttpRequest
from .._exceptions import (
    ConnectionFailedError,
    FxSocketError,
    ProtocolError,
    SessionClosedError,
    TimeoutError,
)

__all__ = ["AiohttpTransport", "MockTransport", "Transport"]

log = logging.getLogger("fxsocket_async.rest")


class Transport(Protocol):
    """Sends one request and returns its reply, whatever the status.

    Raises ``TransportError`` subclasses when no reply arrived,
    ``ProtocolError`` when the reply was not readable HTTP, and
    ``SessionClosedError`` once closed.
    """

    async def send(self, request: HttpRequest) -> HttpReply: ...


class AiohttpTransport:
    """The real transport, over an aiohttp ``ClientSession`` the session owns."""

    def __init__(self, session: aiohttp.ClientSession, *, timeouts: Timeouts, clock: Clock):
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeouts.request, connect=timeouts.connect)
        self._clock = clock
        #: Requests whose reply has not been read yet (tests wait on this).
        self.in_flight = 0

    def __repr__(self) -> str:
        return "AiohttpTransport()"

    async def send(self, request: HttpRequest) -> HttpReply:
        if self._session.closed:
            raise SessionClosedError(
                f"{request.target}: the session is closed; "
                "use resources inside 'async with AsyncFxSocket(...) as fx'"
            )
        started = self._clock.monotonic()
        self.in_flight += 1
        error: FxSocketError | None = None
        try:
            async with self._session.request(
                request.method,
                request.url,
                headers=request.headers,
                params=request.query,
                data=request.body,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                reply = HttpReply(
                    response.status,
                    CIMultiDictProxy(CIMultiDict(response.headers)),
                    body,
                    self._clock.wall(),
                )
        except (builtins.TimeoutError, aiohttp.ServerTimeoutError):
            error = TimeoutError(
                f"{request.target}: no complete reply within {self._timeout.total:g} s"
            )
        except aiohttp.ClientResponseError as exc:
            # Its status is aiohttp's parser code, not one a server sent.
            error = ProtocolError(f"{request.target}: unreadable HTTP reply ({exc.message})")
        except aiohttp.ClientError as exc:
            error = ConnectionFailedError(f"{request.target}: {type(exc).__name__}: {exc}")
        finally:
            self.in_flight -= 1
        if error is not None:
            # Raised outside the handler: aiohttp's exception (whose request
            # info holds the headers, and so the key) is not its __context__.
            raise error
        log.debug(
            "%s -> %d in %.1f ms",
            request.target,
            reply.status,
            (self._clock.monotonic() - started) * 1e3,
        )
        return reply


Handler = Callable[[HttpRequest], HttpReply | Awaitable[HttpReply]]


class MockTransport:
    """Answers every request with ``handler(request)`` (plain or async); records them."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[HttpRequest] = []
        self.in_flight = 0

    def __repr__(self) -> str:
        return f"MockTransport(requests={len(self.requests)})"

    async def send(self, request: HttpRequest) -> HttpReply:
        self.requests.append(request)
        reply = self._handler(request)
        if inspect.isawaitable(reply):
            reply = await reply
        return reply
