"""The recovery driver: reads the snapshots that ``StreamProtocol`` asks for.

A ``Recover`` action starts one task in the session's task group. It reads
the account's REST snapshot through ``_rest.snapshots`` (the stream never
calls up into the session), retrying with the stream's ``Backoff`` while the
account still needs it, and hands the snapshot back to the protocol.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import datetime

from anyio.abc import TaskGroup

from .._clock import Clock
from .._config import StreamPolicy
from .._core.actions import Action
from .._core.stream import StreamProtocol
from .._exceptions import FxSocketError, ProtocolError
from .._rest.snapshots import SnapshotReader

__all__ = ["RecoveryDriver"]

log = logging.getLogger("fxsocket_async.stream")


class RecoveryDriver:
    """Runs each recovery the protocol asks for until its snapshot is read."""

    def __init__(
        self,
        protocol: StreamProtocol,
        snapshots: SnapshotReader,
        *,
        tasks: TaskGroup,
        policy: StreamPolicy,
        clock: Clock,
        execute: Callable[[list[Action]], None],
    ) -> None:
        self._protocol = protocol
        self._snapshots = snapshots
        self._tasks = tasks
        self._policy = policy
        self._clock = clock
        self._execute = execute
        self._rng = random.Random()

    def start(self, account_id: str, watermark: datetime | None) -> None:
        self._tasks.start_soon(self._recover, account_id, watermark)

    async def _recover(self, account_id: str, watermark: datetime | None) -> None:
        delays = self._policy.reconnect_backoff.delays(self._rng)
        while self._protocol.recovering(account_id):
            try:
                snapshot = await self._snapshots.recover(account_id, watermark)
            except FxSocketError as exc:
                delay = next(delays)
                log.warning(
                    "recovering %s through REST failed (%s); retrying in %.2f s",
                    account_id,
                    exc,
                    delay,
                )
                await self._clock.sleep(delay)
                continue
            try:
                self._protocol.recovered(account_id, snapshot)
            except Exception as exc:  # a bug of ours ends this account's consumers, not the session
                log.exception("recovering %s failed", account_id)
                error = ProtocolError(f"recovering {account_id} failed: {type(exc).__name__}")
                self._protocol.end_events(account_id, error, send=True)
            self._execute(self._protocol.take_actions())
            return
