"""The simulator's access log, with the API key masked where a URL carries it.

A terminal socket authenticates with ``?api_key=`` (WebSocket upgrades carry
no custom headers), so aiohttp's own access log would write the key down.
"""

from __future__ import annotations

import re
from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

__all__ = ["MaskedAccessLogger", "masked"]

_KEY_IN_QUERY: Final = re.compile(r"(?i)((?:^|[?&])api_key=)[^&#]*")


def masked(path: str) -> str:
    """``path`` with the value of any ``api_key`` query parameter replaced by ``***``."""
    return _KEY_IN_QUERY.sub(r"\1***", path)


class MaskedAccessLogger(AbstractAccessLogger):
    """One line per request: client, request line (key masked), status, size, duration."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        major, minor = request.version
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.6fs',
            request.remote or "-",
            request.method,
            masked(request.path_qs),
            major,
            minor,
            response.status,
            response.body_length,
            time,
        )
