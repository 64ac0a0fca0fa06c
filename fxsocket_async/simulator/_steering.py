"""The simulator's steering handles for terminal sockets (a part of ``Simulator``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio

from ._terminal_stream import TerminalHub, TerminalSubscription

__all__ = ["TerminalSocketInfo", "TerminalSteering"]


@dataclass(frozen=True, slots=True)
class TerminalSocketInfo:
    """One open terminal socket as a test sees it (``sim.terminal_sockets()``)."""

    account_id: str
    #: (topic, symbol, timeframe), "" where the topic takes none; sorted.
    subscriptions: tuple[tuple[str, str, str], ...]
    #: Ticks and bars the slow-client policy dropped on this socket.
    dropped: int
    #: Frames waiting to be written.
    queued: int


class TerminalSteering:
    """``terminal_subscriptions``, ``terminal_sockets`` and their waits."""

    _terminals: TerminalHub

    def terminal_subscriptions(self, account: str | None = None) -> list[TerminalSubscription]:
        """What the terminal sockets (of ``account``, or all) are subscribed to, as sorted
        ``(account_id, topic, symbol, timeframe)`` tuples ("" where a topic takes none)."""
        return self._terminals.subscriptions(account)

    def terminal_sockets(self, account: str | None = None) -> list[TerminalSocketInfo]:
        """Every open terminal socket (of ``account``, or all), sorted by account."""
        infos = [
            TerminalSocketInfo(
                account_id=sock.account_id,
                subscriptions=tuple(sorted(sock.subscriptions)),
                dropped=sock.dropped_total,
                queued=len(sock.queue),
            )
            for sock in self._terminals.of(account)
        ]
        return sorted(infos, key=lambda i: (i.account_id, i.subscriptions))

    async def wait_for_terminal_connections(
        self, count: int, *, account: str | None = None, timeout: float = 5.0
    ) -> None:
        """Wait until exactly ``count`` terminal sockets (of ``account``, or all) are open.

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
        hub = self._terminals
        with anyio.fail_after(timeout):
            while len(hub.of(account)) != count:
                await hub.connection_changed.wait()

    async def wait_for_terminal_subscriptions(
        self,
        expected: Sequence[TerminalSubscription] | Callable[[list[TerminalSubscription]], bool],
        *,
        account: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        """Wait until ``terminal_subscriptions(account)`` equals ``expected`` (in any
        order), or ``expected(subscriptions)`` is true.

        Re-checked whenever a terminal socket subscribes, unsubscribes or goes
        away. Raises ``TimeoutError`` after ``timeout`` seconds, with the
        subscriptions of that moment in its message.
        """
        hub = self._terminals
        if callable(expected):
            holds, wanted = expected, "the predicate to hold"
        else:
            target = sorted(expected)
            holds, wanted = target.__eq__, repr(target)
        try:
            with anyio.fail_after(timeout):
                while not holds(hub.subscriptions(account)):
                    await hub.subscription_changed.wait()
        except TimeoutError:
            raise TimeoutError(
                f"waited {timeout} s for {wanted}; the terminal subscriptions are "
                f"{hub.subscriptions(account)!r}"
            ) from None
