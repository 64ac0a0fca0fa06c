"""A misbehaving HTTP server on 127.0.0.1: it answers what a test tells it to.

For the replies the simulator never gives (a 204 where a body is due, a body
nested a thousand levels deep), a real server over loopback stands in; the
client under test talks to it exactly as it talks to the service.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web

__all__ = ["Canned", "RogueServer", "rogue_server"]


@dataclass
class Canned:
    """One reply: status, body and content type."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class RogueServer:
    """``replies`` maps ``"METHOD /path"`` to the reply it gets (``default`` otherwise)."""

    base_url: str = ""
    replies: dict[str, Canned] = field(default_factory=dict)
    default: Canned = field(default_factory=lambda: Canned(404, b'{"error":"not_found"}'))
    seen: list[str] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        key = f"{request.method} {request.path}"
        self.seen.append(key)
        canned = self.replies.get(key, self.default)
        if canned.status == 204:
            return web.Response(status=204)
        return web.Response(
            status=canned.status, body=canned.body, content_type=canned.content_type
        )


@contextlib.asynccontextmanager
async def rogue_server() -> AsyncIterator[RogueServer]:
    """A ``RogueServer`` listening on 127.0.0.1, on an ephemeral port."""
    server = RogueServer()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    server.base_url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def nested(depth: int) -> bytes:
    """A JSON object nested ``depth`` levels deep."""
    return b'{"a":' * depth + b"1" + b"}" * depth
