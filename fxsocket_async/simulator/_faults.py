"""Fault injection: the network and server failures a client must survive."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ._stream import StreamHub

__all__ = ["Faults", "InjectedFailure"]


@dataclass(frozen=True, slots=True)
class InjectedFailure:
    """One REST reply to answer instead of the real one."""

    status: int
    error: str
    message: str
    retry_after: int | None = None
    after: bool = False


class Faults:
    """Steering handles for failures; reached as ``sim.faults``. See docs/simulator.md."""

    def __init__(self, hub: StreamHub, monotonic: Callable[[], float]) -> None:
        self._hub = hub
        # The simulator's own clock, so a test's fake clock also runs out refusals.
        self._monotonic = monotonic
        self._failures: deque[InjectedFailure] = deque()
        self._drops = 0
        self._refuse_status: int | None = None
        self._refuse_until = math.inf
        #: Seconds added before every REST reply.
        self.latency = 0.0

    # ----------------------------------------------------------- WebSocket

    def drop_connections(self) -> None:
        """Abort every WebSocket connection now, with no close frame."""
        self._hub.drop_connections()

    def mute(self, *, answer_pings: bool = True) -> None:
        """Stop sending quotes and events; with ``answer_pings=False`` send nothing at all."""
        self._hub.muted = True
        self._hub.frozen = not answer_pings

    def unmute(self) -> None:
        self._hub.muted = self._hub.frozen = False

    def send_raw(self, text: str) -> None:
        """Send ``text`` as a text frame to every connection (a malformed frame, say)."""
        self._hub.send_raw(text)

    def refuse_handshakes(self, *, status: int = 503, for_seconds: float | None = None) -> None:
        """Refuse new WebSocket handshakes with ``status``, for a while or until accepted."""
        self._refuse_status = status
        self._refuse_until = math.inf if for_seconds is None else self._monotonic() + for_seconds

    def accept_handshakes(self) -> None:
        self._refuse_status = None

    def handshake_refusal(self) -> int | None:
        """The status to refuse a handshake with now, if any."""
        if self._refuse_status is not None and self._monotonic() >= self._refuse_until:
            self._refuse_status = None
        return self._refuse_status

    # ---------------------------------------------------------------- REST

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        error: str = "internal_error",
        message: str = "injected failure",
        retry_after: int | None = None,
        after: bool = False,
    ) -> None:
        """Answer the next ``count`` REST requests with this error instead.

        With ``after=True`` each request is carried out first and only its
        reply is replaced: the client sees a failure although the server acted.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next needs count >= 0 and an error status (400-599)")
        failure = InjectedFailure(status, error, message, retry_after, after)
        self._failures.extend([failure] * count)

    def take_failure(self) -> InjectedFailure | None:
        return self._failures.popleft() if self._failures else None

    def drop_after_next(self, count: int = 1) -> None:
        """Carry out the next ``count`` REST requests, then break each one's connection.

        The server acts (an order is placed, a position closed) and aborts the
        TCP connection instead of sending the reply, so the client sees the
        connection break after the server acted. aiohttp re-sends an idempotent
        request (GET, DELETE) once when that happens; a re-send is a request
        of its own, dropped too while ``count`` lasts.
        """
        if count < 1:
            raise ValueError(f"drop_after_next needs a count of at least 1, not {count}")
        self._drops += count

    def take_drop(self) -> bool:
        """Whether to break the connection of the request being answered."""
        if not self._drops:
            return False
        self._drops -= 1
        return True

    def clear(self) -> None:
        """Undo every fault."""
        self._failures.clear()
        self._drops = 0
        self.latency = 0.0
        self.accept_handshakes()
        self.unmute()
