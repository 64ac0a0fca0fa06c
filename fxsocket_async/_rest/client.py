"""Runs ``RestCall``s: pacing, the transport, reading the reply, and retries.

Every REST request of a session goes through ``RestClient.run``. The dialect
said what to send and how to read the answer; this adds when (the bucket's
pacer), how often (``is_retryable`` and the session's ``Backoff``, with the
server's ``Retry-After`` honoured up to a cap) and for how long
(``max_attempts`` and ``max_elapsed``).
"""

from __future__ import annotations

import logging
import random
from typing import TypeVar

from .._clock import Clock
from .._config import RetryPolicy
from .._core.dialect import RestCall
from .._core.retry import is_retryable, retry_delay
from .._exceptions import FxSocketError
from .pacing import Pacers, PacingKind
from .transport import Transport

__all__ = ["RestClient"]

log = logging.getLogger("fxsocket_async.rest")

T = TypeVar("T")


class RestClient:
    """Sends a session's REST calls through one transport."""

    def __init__(
        self,
        transport: Transport,
        *,
        retry: RetryPolicy,
        pacers: Pacers,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self._retry = retry
        self._backoff = retry.backoff
        self._pacers = pacers
        self._clock = clock
        self._rng = rng or random.Random()
        #: Requests sent (every attempt counts).
        self.requests = 0
        #: Attempts that failed and were sent again.
        self.retries = 0

    def __repr__(self) -> str:
        return f"RestClient(requests={self.requests}, retries={self.retries})"

    async def run(
        self,
        call: RestCall[T],
        *,
        kind: PacingKind,
        bucket: str,
        attempts: list[FxSocketError] | None = None,
    ) -> T:
        """Send ``call``, retrying as the policy allows; return what its reader made of the reply.

        ``bucket`` names the pacing bucket (an account id, or the key).
        Failed attempts that were retried are appended to ``attempts``.

        Raises the ``FxSocketError`` of the last failure.
        """
        policy = self._retry
        started = self._clock.monotonic()
        delays = self._backoff.delays(self._rng)
        tries = 0
        while True:
            tries += 1
            try:
                await self._pacers.wait(kind, bucket)
                self.requests += 1
                reply = await self.transport.send(call.request)
                return call.read(reply)
            except FxSocketError as error:
                if tries >= policy.max_attempts or not is_retryable(
                    error, idempotent=call.idempotent
                ):
                    raise
                elapsed = self._clock.monotonic() - started
                if elapsed >= policy.max_elapsed:
                    raise
                # Never sleep past the call's time budget; one last try at its end.
                delay = min(
                    retry_delay(error, next(delays), policy.retry_after_cap),
                    policy.max_elapsed - elapsed,
                )
                self.retries += 1
                if attempts is not None:
                    attempts.append(error)
                log.info(
                    "%s failed (%s); retry %d in %.2f s", call.request.target, error, tries, delay
                )
                await self._clock.sleep(delay)
