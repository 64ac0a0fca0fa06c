"""The account watcher: carries newly linked accounts from ``connecting`` to ``connected``.

One watcher task per session polls ``GET /v1/accounts`` once per round for
every account it follows (those seen ``connecting``, and those someone waits
for), its intervals drawn from the session's ``Backoff`` (``WatcherPolicy``),
and sleeps on an event when there is nothing to follow. Waiters and status
feeds are fed from those rounds, so a thousand waiters on one account cost
no extra request. Time is the session's ``Clock``.
"""

from __future__ import annotations

import builtins
import logging
import random
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Final

import anyio

from .._clock import Clock
from .._config import WatcherPolicy
from .._core.events import AccountStatusChanged, AccountStatusData
from .._core.models import Account
from .._dialects.reference import ReferenceManagement
from .._exceptions import (
    AccountError,
    AuthenticationError,
    FxSocketError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    TimeoutError,
)
from .._feed import Feed
from .client import RestClient
from .resource import MANAGEMENT_BUCKET

__all__ = ["AccountWatcher", "StatusFeed"]

log = logging.getLogger("fxsocket_async.watcher")

STATUS_FEED_CAPACITY: Final = 10_000


class StatusFeed(Feed[AccountStatusChanged]):
    """Account status changes as an async iterator: ``async with fx.accounts.watch() as feed``.

    Each change is an ``AccountStatusChanged`` with ``seq=None`` (it comes
    from the watcher, not the stream). Lossless: a consumer that lets
    ``capacity`` changes pile up gets ``ConsumerOverflowError``; others are
    unaffected. Iteration ends when the feed or the session closes.
    """

    def __init__(self, watcher: AccountWatcher, capacity: int = STATUS_FEED_CAPACITY) -> None:
        super().__init__("status feed", capacity, watcher._feeds.discard)


class AccountWatcher:
    """Carries accounts from ``connecting`` to ``connected`` (or ``error``)."""

    def __init__(
        self,
        rest: RestClient,
        management: ReferenceManagement,
        policy: WatcherPolicy,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self._rest = rest
        self._management = management
        self._policy = policy
        self._clock = clock
        self._rng = rng or random.Random()
        self._intervals: Iterator[float] = policy.backoff.delays(self._rng)
        self._known: dict[str, Account] = {}
        self._connecting: set[str] = set()
        self._wanted: Counter[str] = Counter()  # account id -> waiters
        self._failures: dict[str, FxSocketError] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._feeds: set[StatusFeed] = set()
        self._listeners: list[Callable[[AccountStatusChanged], None]] = []
        self._signal = anyio.Event()
        self._poll_now = False
        self._next_round = 0.0
        self._restarts = 0  # a link seen during a round restarts the backoff after it
        # What the server said, and when (in observations): a wait trusts only what
        # was said after it began, so an account unlinked elsewhere is not "connected".
        self._observations = 0
        self._observed_at: dict[str, int] = {}
        #: Completed polling rounds (one ``GET /v1/accounts`` each).
        self.rounds = 0

    # --------------------------------------------------------------- inputs

    def observe(self, account: Account, *, linked: bool = False) -> None:
        """Record what a reply said about an account; follow it while connecting."""
        previous = self._known.get(account.id)
        self._known[account.id] = account
        self._observations += 1
        self._observed_at[account.id] = self._observations
        self._failures.pop(account.id, None)
        if account.status == "connecting":
            if account.id not in self._connecting or linked:
                self._connecting.add(account.id)
                self._restart_backoff()
        else:
            self._connecting.discard(account.id)
        if previous is None or (previous.status, previous.error) != (account.status, account.error):
            self._publish(account)
        self._wake_waiters(account.id)

    def forget(self, account_id: str) -> None:
        self._known.pop(account_id, None)
        self._observed_at.pop(account_id, None)
        self._connecting.discard(account_id)

    def known(self, account_id: str) -> Account | None:
        """What the server last said about ``account_id`` in this session, if anything."""
        return self._known.get(account_id)

    def watch(self) -> StatusFeed:
        feed = StatusFeed(self)
        self._feeds.add(feed)
        return feed

    def close(self) -> None:
        """End every feed (the session is closing)."""
        for feed in list(self._feeds):
            feed.close()

    # --------------------------------------------------------------- waiting

    async def wait_connected(self, account_id: str, timeout: float) -> Account:
        """Wait until the account is connected; see ``Accounts.wait_connected``."""
        self._wanted[account_id] += 1
        self._failures.pop(account_id, None)  # a failure from an earlier wait: ask again
        began = self._observations
        try:
            with self._clock.fail_after(timeout):
                while True:
                    failure = self._failures.get(account_id)
                    if failure is not None:
                        raise failure
                    # An end (connected, error) is taken only from what the server said
                    # since this wait began, so an account unlinked elsewhere is not
                    # taken for connected; one round answers every waiter.
                    account = self._known.get(account_id)
                    stale = self._observed_at.get(account_id, -1) <= began
                    if account is None or (stale and account.status != "connecting"):
                        account = None
                        self._poll_now = True
                    if account is not None and account.status == "connected":
                        return account
                    if account is not None and account.status == "error":
                        raise AccountError(
                            account.error or f"account {account_id} failed to connect",
                            account_id=account_id,
                        )
                    event = self._changed.setdefault(account_id, anyio.Event())
                    self._signal.set()
                    await event.wait()
        except FxSocketError:
            raise  # ours (the stream's or the server's), even a TimeoutError: as it is
        except builtins.TimeoutError:
            status = self._known[account_id].status if account_id in self._known else "unknown"
            raise TimeoutError(
                f"account {account_id} was not connected after {timeout:g} s (status: {status})"
            ) from None
        finally:
            self._wanted[account_id] -= 1
            if self._wanted[account_id] <= 0:
                del self._wanted[account_id]

    def _wake_waiters(self, account_id: str) -> None:
        event = self._changed.pop(account_id, None)
        if event is not None:
            event.set()

    def _publish(self, account: Account) -> None:
        change = AccountStatusChanged(
            account_id=account.id,
            seq=None,
            data=AccountStatusData(status=account.status, error=account.error),
        )
        for feed in list(self._feeds):
            feed.push(change)
        for listener in self._listeners:
            listener(change)

    def add_listener(self, listener: Callable[[AccountStatusChanged], None]) -> None:
        """Call ``listener`` with every status change (the stream uses this)."""
        self._listeners.append(listener)

    # ---------------------------------------------------------------- rounds

    def _followed(self) -> set[str]:
        return self._connecting | set(self._wanted)

    def _restart_backoff(self) -> None:
        self._restarts += 1
        self._intervals = self._policy.backoff.delays(self._rng)
        self._next_round = self._clock.monotonic() + self._policy.initial_interval
        self._signal.set()

    async def run(self) -> None:
        """The watcher task; runs in the session's task group until it closes."""
        while True:
            signal = self._signal = anyio.Event()
            if not self._followed():
                self._intervals = self._policy.backoff.delays(self._rng)
                await signal.wait()
                continue
            now = self._clock.monotonic()
            if self._poll_now or now >= self._next_round:
                self._poll_now = False
                restarts = self._restarts
                await self._round()
                if self._restarts == restarts:
                    self._next_round = self._clock.monotonic() + next(self._intervals)
                continue
            await self._sleep_or_signal(self._next_round - now, signal)

    async def _sleep_or_signal(self, seconds: float, signal: anyio.Event) -> None:
        # Until the next round is due, or something asks for one sooner.
        async with anyio.create_task_group() as race:

            async def sleep() -> None:
                await self._clock.sleep(seconds)
                race.cancel_scope.cancel()

            race.start_soon(sleep)
            await signal.wait()
            race.cancel_scope.cancel()

    async def _round(self) -> None:
        followed = self._followed()
        try:
            accounts = await self._rest.run(
                self._management.list_accounts(), kind="management", bucket=MANAGEMENT_BUCKET
            )
        except (AuthenticationError, PermissionDeniedError) as exc:
            # Fatal for every waiter: polling again cannot help.
            for account_id in followed:
                self._failures[account_id] = exc
                self._wake_waiters(account_id)
            self._connecting.clear()
            return
        except FxSocketError as exc:
            self._hand_to_waiters(exc)
            return
        except Exception as exc:  # a bug of ours must not end the session's watcher
            log.exception("account watcher: a round failed unexpectedly")
            self._hand_to_waiters(
                ProtocolError(f"the account watcher failed: {type(exc).__name__}: {exc}")
            )
            return
        self.rounds += 1
        seen = {account.id: account for account in accounts}
        for account_id in followed:
            account = seen.get(account_id)
            if account is None:
                self._connecting.discard(account_id)
                self._failures[account_id] = NotFoundError(
                    f"account {account_id} is not linked to this key", status=404, code="not_found"
                )
                self._wake_waiters(account_id)
            else:
                self.observe(account)

    def _hand_to_waiters(self, error: FxSocketError) -> None:
        # The watcher lives on and tries again next round; those waiting now learn why.
        log.warning("account watcher: listing accounts failed (%s); will retry", error)
        for account_id in list(self._wanted):
            self._failures[account_id] = error
            self._wake_waiters(account_id)
