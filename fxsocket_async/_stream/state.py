"""Where a stream socket stands, as a typed state any consumer can read, await or iterate.

``fx.connection()`` returns the ``ConnectionStatus`` of a socket; its
``state`` is a ``ConnectionState`` (also in ``fx.stats()["stream"]``):

- ``idle``: nothing has asked for the stream yet (it opens on the first
  subscription, or ``fx.connect_stream()``);
- ``connecting``: opening it for the first time;
- ``live``: open, and delivering;
- ``degraded``: open, but its quote subscriptions have been silent for half
  their deadline while the market is open (at the full deadline the socket
  is declared dead and reconnects);
- ``reconnecting``: lost (``reason``), the next try is ``attempt`` at
  ``next_attempt_at``;
- ``closed``: the session ended;
- ``failed``: it could not be opened (``error``). A refused key or a wrong URL
  stays failed; after any other first failure the next subscription tries again.
"""

from __future__ import annotations

import builtins
from contextlib import nullcontext
from datetime import datetime
from typing import Final

import anyio

from .._clock import Clock
from .._exceptions import FxSocketError, TimeoutError
from .._feed import Feed
from .stats import ConnectionState, ConnectionStateName

__all__ = ["ConnectionState", "ConnectionStateName", "ConnectionStatus", "ConnectionWatch"]

WATCH_CAPACITY: Final = 1000


class ConnectionStatus:
    """The live state of one stream socket: ``.state``, ``await wait_for(...)``, ``watch()``."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.state = ConnectionState(state="idle", since=clock.wall())
        self._changed = anyio.Event()
        self._watches: set[ConnectionWatch] = set()

    def __repr__(self) -> str:
        return f"ConnectionStatus({self.state.state!r})"

    def set(
        self,
        state: ConnectionStateName,
        *,
        reason: str = "",
        attempt: int = 0,
        next_attempt_at: datetime | None = None,
        error: FxSocketError | None = None,
    ) -> None:
        """Move to ``state`` (the stream wing calls this); every watcher sees the change."""
        current = self.state
        if (current.state, current.reason, current.attempt) == (state, reason, attempt):
            return
        self.state = ConnectionState(
            state=state,
            since=self._clock.wall(),
            reason=reason,
            attempt=attempt,
            next_attempt_at=next_attempt_at,
            error=error,
        )
        for watch in list(self._watches):
            watch.push(self.state)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def wait_for(
        self, *states: ConnectionStateName, timeout: float | None = None
    ) -> ConnectionState:
        """Wait until the socket is in one of ``states``; return that state.

        Raises the socket's error when it fails while you wait for something
        else, and ``TimeoutError`` after ``timeout`` seconds.
        """
        wanted = set(states) or {"live"}
        deadline = self._clock.fail_after(timeout) if timeout is not None else nullcontext()
        try:
            with deadline:
                while self.state.state not in wanted:
                    if self.state.state == "failed" and self.state.error is not None:
                        raise self.state.error
                    await self._changed.wait()
        except FxSocketError:
            raise  # ours (the stream's or the server's), even a TimeoutError: as it is
        except builtins.TimeoutError:
            raise TimeoutError(
                f"the stream was not {' or '.join(sorted(wanted))} within {timeout:g} s "
                f"(it is {self.state.state})"
            ) from None
        return self.state

    def watch(self) -> ConnectionWatch:
        """Every change from now on, starting with the current state, as an async iterator."""
        watch = ConnectionWatch(self)
        self._watches.add(watch)
        watch.push(self.state)
        return watch

    def close(self) -> None:
        """The session ended: ``closed``, and every watch ends after what it holds."""
        self.set("closed")
        for watch in list(self._watches):
            watch.close()


class ConnectionWatch(Feed[ConnectionState]):
    """``async with fx.connection().watch() as states: async for state in states``.

    Lossless and bounded: a watcher that lets 1000 changes pile up is ended
    with ``ConsumerOverflowError``. Iteration ends when the session closes.
    """

    def __init__(self, status: ConnectionStatus) -> None:
        super().__init__("connection watch", WATCH_CAPACITY, status._watches.discard)
