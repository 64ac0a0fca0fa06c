"""Fault injection: the network and server failures a client must survive.

Every handle takes an optional ``account=``. Without it a fault acts on
everything: the reference stream's connections, every terminal socket, every
REST request. With it, it acts on that account alone: its terminal sockets and
handshakes, and the REST requests whose path names it (the reference dialect's
``/v1/accounts/{account_id}/...`` routes and its terminal's
``/terminal/{account_id}/...`` routes; a bare ``/v1/...`` route names no
account).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ._stream import StreamHub
from ._terminal_stream import TerminalHub

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

    def __init__(
        self, hub: StreamHub, terminals: TerminalHub, monotonic: Callable[[], float]
    ) -> None:
        self._hub = hub
        self._terminals = terminals
        # The simulator's own clock, so a test's fake clock also runs out refusals.
        self._monotonic = monotonic
        # Keyed by account id; None: every request.
        #: Queued failures by (account, route); None matches any.
        self._failures: dict[tuple[str | None, str | None], deque[InjectedFailure]] = {}
        self._drops: dict[str | None, int] = {}
        # account id (None: every handshake) -> (status, until)
        self._refusals: dict[str | None, tuple[int, float]] = {}
        self._latency: dict[str, float] = {}
        #: Seconds added before every REST reply.
        self.latency = 0.0

    # ----------------------------------------------------------- WebSocket

    def drop_connections(self, *, account: str | None = None) -> None:
        """Abort WebSocket connections now, with no close frame: every one (the
        reference stream's and every terminal socket), or the account's terminal
        sockets."""
        if account is None:
            self._hub.drop_connections()
        self._terminals.drop(account)

    def mute(self, *, answer_pings: bool = True, account: str | None = None) -> None:
        """Stop sending quotes and events; with ``answer_pings=False`` send nothing at all.

        Everywhere, or on the account's terminal sockets alone.
        """
        if account is None:
            self._hub.muted = True
            self._hub.frozen = not answer_pings
        self._terminals.mute(account, frozen=not answer_pings)

    def unmute(self, *, account: str | None = None) -> None:
        """Undo ``mute``: every mute (without ``account``), or the account's own."""
        if account is None:
            self._hub.muted = self._hub.frozen = False
        self._terminals.unmute(account)

    def send_raw(self, text: str, *, account: str | None = None) -> None:
        """Send ``text`` as a text frame (a malformed frame, say) to every connection,
        or to the account's terminal sockets."""
        if account is None:
            self._hub.send_raw(text)
        self._terminals.send_raw(text, account)

    def stall_writes(self, *, account: str | None = None) -> None:
        """Stop writing to terminal sockets (all, or the account's), as a client that
        reads nothing: frames queue, and ticks and bars beyond the queue's limit
        are dropped and counted. ``resume_writes`` drains the queue, then a
        ``warning`` frame tells how many were dropped."""
        self._terminals.stall(account)

    def resume_writes(self, *, account: str | None = None) -> None:
        self._terminals.resume(account)

    def refuse_handshakes(
        self, *, status: int = 503, for_seconds: float | None = None, account: str | None = None
    ) -> None:
        """Refuse new WebSocket handshakes with ``status``, for a while or until accepted:
        every handshake, or the account's terminal handshakes."""
        until = math.inf if for_seconds is None else self._monotonic() + for_seconds
        self._refusals[account] = (status, until)

    def accept_handshakes(self, *, account: str | None = None) -> None:
        """Undo ``refuse_handshakes``: every refusal (without ``account``), or the account's."""
        if account is None:
            self._refusals.clear()
        else:
            self._refusals.pop(account, None)

    def handshake_refusal(self, account: str | None = None) -> int | None:
        """The status to refuse a handshake with now (of the account's terminal, or of
        the reference stream when ``account`` is None), if any."""
        for key in (account, None) if account is not None else (None,):
            refusal = self._refusals.get(key)
            if refusal is None:
                continue
            status, until = refusal
            if self._monotonic() >= until:
                del self._refusals[key]
                continue
            return status
        return None

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
        account: str | None = None,
        route: str | None = None,
    ) -> None:
        """Answer the next ``count`` REST requests (of the account, with ``account``; of
        one route, with ``route`` such as ``"POST /terminal/{account_id}/OrderClose"``,
        as ``stats.routes`` names it) with this error instead.

        With ``after=True`` each request is carried out first and only its
        reply is replaced: the client sees a failure although the server acted.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next needs count >= 0 and an error status (400-599)")
        failure = InjectedFailure(status, error, message, retry_after, after)
        self._failures.setdefault((account, route), deque()).extend([failure] * count)

    def take_failure(
        self, account: str | None = None, route: str | None = None
    ) -> InjectedFailure | None:
        """The failure to answer a request of ``account`` on ``route`` with, if any: the
        most specific first (the account's and route's, the account's, the route's)."""
        for key in ((account, route), (account, None), (None, route), (None, None)):
            queued = self._failures.get(key)
            if queued:
                return queued.popleft()
        return None

    def drop_after_next(self, count: int = 1, *, account: str | None = None) -> None:
        """Carry out the next ``count`` REST requests (of the account, with ``account``),
        then break each one's connection.

        The server acts (an order is placed, a position closed) and aborts the
        TCP connection instead of sending the reply, so the client sees the
        connection break after the server acted. aiohttp re-sends an idempotent
        request (GET, DELETE) once when that happens; a re-send is a request
        of its own, dropped too while ``count`` lasts.
        """
        if count < 1:
            raise ValueError(f"drop_after_next needs a count of at least 1, not {count}")
        self._drops[account] = self._drops.get(account, 0) + count

    def take_drop(self, account: str | None = None) -> bool:
        """Whether to break the connection of the request being answered."""
        for key in (account, None) if account is not None else (None,):
            if self._drops.get(key):
                self._drops[key] -= 1
                return True
        return False

    def set_latency(self, seconds: float, *, account: str | None = None) -> None:
        """Delay every REST reply (``latency``), or the account's replies on top of it."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"latency must be a finite number of seconds >= 0, not {seconds!r}")
        if account is None:
            self.latency = seconds
        elif seconds:
            self._latency[account] = seconds
        else:
            self._latency.pop(account, None)

    def latency_for(self, account: str | None) -> float:
        """Seconds to delay a reply to a request of ``account``."""
        extra = self._latency.get(account, 0.0) if account is not None else 0.0
        return self.latency + extra

    def clear(self) -> None:
        """Undo every fault, everywhere."""
        self._failures.clear()
        self._drops.clear()
        self._latency.clear()
        self.latency = 0.0
        self.accept_handshakes()
        self.unmute()
        self.resume_writes()
