"""REST transport: the one seam where aiohttp meets the rest of the library.

Every request goes through ``HttpTransport.request``: pacing, headers,
encoding, retries, and the mapping of every aiohttp and msgspec failure to our
exception tree. Nothing above this module imports aiohttp for REST.
"""

from __future__ import annotations

import builtins
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp
import anyio
import msgspec
from backoff.types import Details

from ._config import RetryPolicy, Timeouts
from ._exceptions import (
    ConnectionFailedError,
    FxSocketError,
    ProtocolError,
    SessionClosedError,
    TimeoutError,
)
from ._protocol import (
    Account,
    account_headers,
    accounts_path,
    decode_error,
    decode_reply,
    encode,
    management_headers,
)
from ._ratelimit import Pacers
from ._retry import with_retries

__all__ = ["MANAGEMENT_BUCKET", "Auth", "HttpTransport"]

log = logging.getLogger("fxsocket_async")

Auth = Literal["management", "account"]
#: The pacing bucket of the key's management routes.
MANAGEMENT_BUCKET = "(management)"


class HttpTransport:
    """Sends REST requests for one session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        timeouts: Timeouts,
        retry: RetryPolicy,
        pacers: Pacers,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._timeout = aiohttp.ClientTimeout(total=timeouts.request, connect=timeouts.connect)
        self._retry = retry
        self._pacers = pacers
        self._rng = random.Random()
        self._bare_bucket: str | None = None
        self._bare_lock = anyio.Lock()
        self.requests = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"HttpTransport(base_url={self._base_url!r})"

    async def request(
        self,
        method: str,
        path: str,
        *,
        auth: Auth,
        bucket: str,
        reply_type: Any = None,
        params: Mapping[str, str] | None = None,
        body: msgspec.Struct | None = None,
        idempotency_key: str | None = None,
        idempotent: bool,
        attempts: list[FxSocketError] | None = None,
    ) -> Any:
        """Send one logical request, retrying as the policy allows; return the decoded reply.

        ``bucket`` names the rate-limit bucket (an account id, or the key).
        Failed attempts that were retried are appended to ``attempts``.

        Raises the ``FxSocketError`` subclass of the last failure.
        """
        if auth == "management":
            headers = management_headers(self._api_key)
        else:
            headers = account_headers(self._api_key, idempotency_key=idempotency_key)
        data = None if body is None else encode(body)

        async def attempt() -> Any:
            if self._session.closed:
                raise SessionClosedError(
                    f"{method} {path}: the session is closed; "
                    "use resources inside 'async with AsyncFxSocket(...) as fx'"
                )
            await self._pacers.wait(auth, bucket)
            return await self._send(method, path, headers, params, data, reply_type)

        def on_retry(details: Details) -> None:
            error = details["exception"]  # type: ignore[typeddict-item]  # set on_backoff
            self.retries += 1
            if attempts is not None:
                attempts.append(error)
            log.info(
                "%s %s failed (%s); retry %d in %.2f s",
                method,
                path,
                error,
                details["tries"],
                details["wait"],
            )

        return await with_retries(
            attempt, self._retry, idempotent=idempotent, rng=self._rng, on_retry=on_retry
        )

    async def bare_account_bucket(self) -> str:
        """The pacing bucket of the bare routes: the key's only account, if it has one.

        The server counts bare and per-account routes of one account together,
        so they must share a bucket here too; one account listing finds it.
        """
        if self._bare_bucket is None:
            async with self._bare_lock:
                if self._bare_bucket is None:
                    accounts: list[Account] = await self.request(
                        "GET",
                        accounts_path(),
                        auth="management",
                        bucket=MANAGEMENT_BUCKET,
                        reply_type=list[Account],
                        idempotent=True,
                    )
                    only = accounts[0].id if len(accounts) == 1 else "(default account)"
                    self._bare_bucket = only
        return self._bare_bucket

    async def _send(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        data: bytes | None,
        reply_type: Any,
    ) -> Any:
        self.requests += 1
        started = time.perf_counter()
        try:
            async with self._session.request(
                method,
                self._base_url + path,
                headers=headers,
                params=params,
                data=data,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                body = await response.read()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except (builtins.TimeoutError, aiohttp.ServerTimeoutError):
            raise TimeoutError(
                f"{method} {path}: no complete reply within {self._timeout.total:g} s"
            ) from None
        except aiohttp.ClientResponseError as exc:
            # Its status is aiohttp's parser code, not one a server sent.
            raise ProtocolError(f"{method} {path}: unreadable HTTP reply ({exc.message})") from None
        except aiohttp.ClientError as exc:
            raise ConnectionFailedError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
        log.debug(
            "%s %s -> %d in %.1f ms", method, path, status, (time.perf_counter() - started) * 1e3
        )
        if status >= 400:
            raise decode_error(status, body, retry_after=retry_after)
        if reply_type is None or status == 204:
            return None
        return decode_reply(body, reply_type, status=status)
