"""The seam between a stream's supervisor and the WebSocket client under it.

``WebSocketConnection`` (connection.py) decides when to connect, what to
send and when a socket is dead; a ``StreamTransport`` opens sockets and a
``StreamSocket`` moves frames. Two implementations: aiohttp (ws_aiohttp.py,
the default, always installed) and picows (ws_picows.py, the ``fast``
extra). ``StreamPolicy.transport`` chooses: ``"aiohttp"``, ``"picows"`` or
``"auto"`` (picows when it can be imported, else aiohttp).

What every implementation promises:

- ``open`` raises only our exceptions, raised outside any ``except`` block so
  that no library exception (whose request may hold the key) rides along:
  ``refused``'s mapping of a refused handshake, ``ConnectionFailedError``,
  ``TimeoutError``; every message names the URL as ``endpoint.shown``. The
  caller bounds it with the connect timeout.
- ``read`` delivers text frames (``bytes``) to ``protocol.receive_frames`` in
  batches: what arrived since it last yielded, at most
  ``protocol.quotes.flush_every`` frames before it lets the woken consumers
  run; server pings go to ``answer_ping``, pongs are counted in
  ``protocol.counters.pongs``; binary frames are ignored. It returns when
  the socket has ended. Messages are limited to ``MAX_MESSAGE`` bytes.
- ``send_text`` / ``ping`` / ``pong`` raise ``ConnectionError`` when the
  socket is gone (the reader then sees it end); ``close`` never raises.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeAlias

from .._core.actions import Action
from .._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    FxSocketError,
    PermissionDeniedError,
    SubscriptionRefusedError,
)

if TYPE_CHECKING:
    import aiohttp

    from .._core.dialect import StreamEndpoint
    from .._core.stream import StreamProtocol

__all__ = [
    "MAX_MESSAGE",
    "TRANSPORTS",
    "Execute",
    "StreamSocket",
    "StreamTransport",
    "TransportName",
    "make_transport",
    "picows_installed",
]

TransportName: TypeAlias = Literal["aiohttp", "picows", "auto"]
TRANSPORTS: Final = ("aiohttp", "picows", "auto")
#: The largest message either client accepts (a frame, or a fragmented message whole).
MAX_MESSAGE: Final = 16 * 1024 * 1024
#: Seconds a socket's closing handshake may take before it is dropped.
CLOSE_TIMEOUT: Final = 1.0
FAST_EXTRA: Final = "pip install 'fxsocket-async[fast]'"

Execute: TypeAlias = Callable[[list[Action]], None]


class StreamSocket(Protocol):
    """One open WebSocket of a stream."""

    @property
    def close_code(self) -> int | None:
        """The code of the close frame that ended the socket, if one did."""
        ...

    async def read(
        self,
        protocol: StreamProtocol,
        execute: Execute,
        wall: Callable[[], datetime],
        answer_ping: Callable[[bytes], None],
    ) -> None:
        """Hand every frame to ``protocol`` until the socket ends (see the module docstring)."""
        ...

    async def send_text(self, frame: bytes) -> None:
        """Send one text frame. Raises ``ConnectionError`` when the socket is gone."""
        ...

    async def ping(self) -> None:
        """Send a WebSocket ping frame. Raises ``ConnectionError`` when the socket is gone."""
        ...

    async def pong(self, payload: bytes) -> None:
        """Answer a server's ping. Raises ``ConnectionError`` when the socket is gone."""
        ...

    async def close(self) -> None:
        """Close the socket (the caller bounds how long the closing handshake may take)."""
        ...


class StreamTransport(Protocol):
    """Opens the sockets of every stream of one session."""

    #: ``"aiohttp"`` or ``"picows"``: shown in ``fx.stats()`` and the connection's repr.
    name: str

    async def open(self, endpoint: StreamEndpoint, *, scope: str, timeout: float) -> StreamSocket:
        """Open a socket to ``endpoint``; ``scope`` is the dialect's (``"key"``/``"account"``).

        Raises ``AuthenticationError`` / ``PermissionDeniedError`` (the key was
        refused), ``SubscriptionRefusedError`` (an account's socket answered
        404), ``ConfigurationError`` (400/404: the URL is wrong),
        ``ConnectionFailedError`` or ``TimeoutError``; each names ``endpoint.shown``.
        """
        ...


def picows_installed() -> bool:
    """Whether the ``fast`` extra's WebSocket client can be imported."""
    try:
        import_module("picows")
    except ImportError:
        return False
    return True


def make_transport(
    name: str, http: aiohttp.ClientSession, ssl_context: ssl.SSLContext | None
) -> StreamTransport:
    """The session's stream transport for ``StreamPolicy.transport``.

    Raises ``ConfigurationError`` for ``"picows"`` when picows is not installed.
    """
    if name == "auto":
        name = "picows" if picows_installed() else "aiohttp"
    if name == "picows":
        if not picows_installed():
            raise ConfigurationError(
                "StreamPolicy(transport='picows') needs picows, which is not installed: "
                f"{FAST_EXTRA} (or use transport='auto' to fall back to aiohttp)",
                code="transport_missing",
            )
        from .ws_picows import PicowsTransport

        return PicowsTransport(ssl_context)
    from .ws_aiohttp import AiohttpTransport

    return AiohttpTransport(http)


def refused(status: int, url: str, scope: str = "key") -> FxSocketError:
    """What a refused handshake means: a refused key, a wrong URL, an account gone (the
    404 of an account's own socket), or a server fault."""
    if status == 401:
        return AuthenticationError(
            f"the stream at {url} refused the API key (401)", status=401, code="unauthorized"
        )
    if status == 403:
        return PermissionDeniedError(
            f"the stream at {url} refused this key (403)", status=403, code="forbidden"
        )
    if status == 404 and scope == "account":
        return SubscriptionRefusedError(
            f"the account's socket at {url} answered 404: the account is no longer linked "
            "to this key (or its terminal moved: its record has the new ws_url)",
            code="not_found",
        )
    if status in (400, 404):
        return ConfigurationError(
            f"the stream URL {url} answered {status}: check ws_url (or $FXSOCKET_WS_URL)",
            code=f"handshake_{status}",
        )
    return ConnectionFailedError(
        f"the stream at {url} answered {status} to the handshake", code=f"handshake_{status}"
    )


def unreachable(url: str, exc: BaseException) -> ConnectionFailedError:
    """The error for a socket that could not be opened: the failure's type, and an OS
    error's own words (a refused port, a certificate that failed verification)."""
    detail = f": {exc}" if isinstance(exc, OSError) else ""
    return ConnectionFailedError(
        f"the stream at {url} could not be reached: {type(exc).__name__}{detail}"
    )
