"""Fake time for tests that run the real client against the real simulator.

``FakeClock`` moves only when told. ``autojump()`` tells it in the background,
as trio's autojump clock does: whenever the event loop has settled (every
other task is waiting) and no request is on the wire, it jumps to the next
deadline. Time therefore never moves while a request is in flight, and a
simulator sharing ``clock.monotonic`` sees each request at the fake time it
was sent. Minutes of pacing, polling and timeouts run in the few real
milliseconds their requests take.

It can also play a user's event loop that stalls: ``stall_every`` seconds of
fake time, ``stall_for`` seconds pass at once without anything running (as
when a callback blocks the loop); the tasks due meanwhile all wake late.

Nothing that takes real time may be awaited in such a test: the simulator's
own timers (provisioning, injected latency) run on real time while fake time
races ahead, so tests on fake time finish provisioning by hand
(``sim.complete_provisioning``) and inject no latency.

"Settled" is judged as ``anyio.wait_all_tasks_blocked`` judges it (every task
waits on a future: ``Task._fut_waiter``), without its 0.1 s real sleeps, which
would cost seconds over a few hundred jumps.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Protocol

import anyio

from fxsocket_async._clock import FakeClock

__all__ = ["Autojump", "DrivenClock", "autojump", "settled"]

#: Loop iterations one settle may take (a request on the wire takes a few dozen).
MAX_SPINS = 100_000
#: Jumps one test may make.
MAX_STEPS = 100_000


class DrivenClock(FakeClock):
    """A ``FakeClock`` that tells its driver when someone starts waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self._changed: anyio.Event | None = None

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    async def sleep(self, seconds: float) -> None:
        self._poke()
        await super().sleep(seconds)

    def fail_after(self, seconds: float) -> AbstractContextManager[anyio.CancelScope]:
        self._poke()
        return super().fail_after(seconds)

    async def wait_for_a_deadline(self) -> None:
        """Return once a sleep or deadline exists (at once if one does)."""
        if self.next_deadline() is None:
            self._changed = anyio.Event()
            await self._changed.wait()


class _InFlight(Protocol):
    in_flight: int


#: The drivers' tasks: a test settling waits for every task but them (they wait for it).
_drivers: set[asyncio.Task[object]] = set()


def _others_blocked(me: asyncio.Task[object] | None) -> bool:
    for task in asyncio.all_tasks():
        if task is me or task in _drivers:
            continue
        waiter = task._fut_waiter  # type: ignore[attr-defined]
        if waiter is None or waiter.done():
            return False
    return True


async def settled(busy: Callable[[], bool] = lambda: False) -> None:
    """Return once every other task waits and ``busy()`` is false, in the same loop pass.

    ``busy`` says that I/O is pending (a request whose reply is not read
    yet): tasks waiting on a socket look blocked, but the loop is not idle.
    Drivers do not count (a test may settle while one runs); a driver waits
    for tests that settle.
    """
    me = asyncio.current_task()
    for _ in range(MAX_SPINS):
        await asyncio.sleep(0)
        if not busy() and _others_blocked(me):
            return
    raise AssertionError(f"the event loop did not settle in {MAX_SPINS} passes")


class Autojump:
    """Moves a ``DrivenClock`` to its next deadline whenever the loop is idle."""

    def __init__(
        self,
        clock: DrivenClock,
        transports: list[_InFlight],
        *,
        stall_every: float | None = None,
        stall_for: float = 0.0,
    ) -> None:
        if stall_every is not None and not (stall_every > 0 and stall_for > 0):
            raise ValueError("a stall needs positive stall_every and stall_for")
        self.clock = clock
        self._transports = transports
        self._stall_every = stall_every
        self._stall_for = stall_for
        self._next_stall = clock.monotonic() + stall_every if stall_every else None
        #: Jumps made, and stalls played.
        self.jumps = 0
        self.stalls = 0

    def busy(self) -> bool:
        """Whether a request is on the wire (sent, its reply not read yet)."""
        return any(transport.in_flight for transport in self._transports)

    async def settle(self) -> None:
        """Wait until the loop is idle: every other task waits, no request is in flight."""
        await settled(self.busy)

    async def run(self) -> None:
        me = asyncio.current_task()
        assert me is not None
        _drivers.add(me)
        try:
            await self._run()
        finally:
            _drivers.discard(me)

    async def _run(self) -> None:
        for _ in range(MAX_STEPS):
            await self.settle()
            deadline = self.clock.next_deadline()
            if deadline is None:
                await self.clock.wait_for_a_deadline()
                continue
            if self._next_stall is not None and deadline >= self._next_stall:
                # The loop blocks: time passes the stall point and stall_for more, and
                # everything due meanwhile wakes only at its end.
                assert self._stall_every is not None
                now = self.clock.monotonic()
                self.clock.advance(max(0.0, self._next_stall + self._stall_for - now))
                self._next_stall = max(self._next_stall, now) + self._stall_every
                self.stalls += 1
            else:
                self.clock.jump()
            self.jumps += 1
        raise AssertionError(f"fake time jumped {MAX_STEPS} times: is something polling?")


@contextlib.asynccontextmanager
async def autojump(
    clock: DrivenClock,
    *transports: _InFlight,
    stall_every: float | None = None,
    stall_for: float = 0.0,
) -> AsyncIterator[Autojump]:
    """Drive ``clock`` in the background for the block; ``transports`` are the clients'
    (``fx._rest.transport``), whose ``in_flight`` holds time still."""
    driver = Autojump(clock, list(transports), stall_every=stall_every, stall_for=stall_for)
    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(driver.run)
            try:
                yield driver
            finally:
                tasks.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # The block's own failure, not wrapped in the driver's task group.
        if len(group.exceptions) == 1:
            raise group.exceptions[0] from None
        raise
