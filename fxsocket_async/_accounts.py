"""Account management (``fx.accounts``) and the watcher that follows provisioning.

One watcher task per session polls ``GET /v1/accounts`` once per round for
every account it follows (those seen ``connecting``, and those someone waits
for), backing off from ``initial_interval`` to ``max_interval``, and sleeps
on an event when there is nothing to follow. Waiters and status feeds are fed
from those rounds, so a thousand waiters on one account cost no extra request.
"""

from __future__ import annotations

import builtins
import logging
import random
from collections import Counter, deque
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Final, Self

import anyio

from ._config import WatcherPolicy
from ._exceptions import (
    AccountError,
    AuthenticationError,
    ConsumerOverflowError,
    FxSocketError,
    NotFoundError,
    PermissionDeniedError,
    TimeoutError,
    ValidationError,
)
from ._protocol import (
    Account,
    AccountStatusChanged,
    AccountStatusData,
    LinkAccountRequest,
    account_path,
    accounts_path,
)
from ._transport import MANAGEMENT_BUCKET

if TYPE_CHECKING:
    from ._transport import HttpTransport

__all__ = ["AccountWatcher", "Accounts", "StatusFeed"]

log = logging.getLogger("fxsocket_async")

STATUS_FEED_CAPACITY: Final = 10_000


class StatusFeed:
    """Account status changes as an async iterator: ``async with fx.accounts.watch() as feed``.

    Each change is an ``AccountStatusChanged`` with ``seq=None`` (it comes
    from the watcher, not the stream). Lossless: a consumer that lets
    ``capacity`` changes pile up gets ``ConsumerOverflowError``; others are
    unaffected. Iteration ends when the feed or the session closes.
    """

    def __init__(self, watcher: AccountWatcher, capacity: int = STATUS_FEED_CAPACITY) -> None:
        self._watcher = watcher
        self._capacity = capacity
        self._items: deque[AccountStatusChanged] = deque()
        self._ready = anyio.Event()
        self._closed = False
        self._overflowed = False

    def _push(self, change: AccountStatusChanged) -> None:
        if self._closed or self._overflowed:
            return
        if len(self._items) >= self._capacity:
            self._overflowed = True
        else:
            self._items.append(change)
        self._ready.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AccountStatusChanged:
        while not self._items:
            if self._overflowed:
                raise ConsumerOverflowError(
                    f"this status feed fell {self._capacity} changes behind and was ended"
                )
            if self._closed:
                raise StopAsyncIteration
            self._ready = anyio.Event()
            await self._ready.wait()
        return self._items.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop receiving changes."""
        self.close()

    def close(self) -> None:
        self._closed = True
        self._watcher._feeds.discard(self)
        self._ready.set()


class AccountWatcher:
    """Carries accounts from ``connecting`` to ``connected`` (or ``error``)."""

    def __init__(self, transport: HttpTransport, policy: WatcherPolicy) -> None:
        self._transport = transport
        self._policy = policy
        self._rng = random.Random()
        self._known: dict[str, Account] = {}
        self._connecting: set[str] = set()
        self._wanted: Counter[str] = Counter()  # account id -> waiters
        self._failures: dict[str, FxSocketError] = {}
        self._changed: dict[str, anyio.Event] = {}
        self._feeds: set[StatusFeed] = set()
        self._listeners: list[Callable[[AccountStatusChanged], None]] = []
        self._signal = anyio.Event()
        self._poll_now = False
        self._interval = policy.initial_interval
        self._next_round = 0.0
        #: Completed polling rounds (one ``GET /v1/accounts`` each).
        self.rounds = 0

    # --------------------------------------------------------------- inputs

    def observe(self, account: Account, *, linked: bool = False) -> None:
        """Record what a reply said about an account; follow it while connecting."""
        previous = self._known.get(account.id)
        self._known[account.id] = account
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
        self._connecting.discard(account_id)

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
        if self._failures.pop(account_id, None) is not None:
            self._poll_now = True  # a failure from an earlier wait: ask the server again
        try:
            with anyio.fail_after(timeout):
                while True:
                    failure = self._failures.get(account_id)
                    if failure is not None:
                        raise failure
                    account = self._known.get(account_id)
                    if account is not None and account.status == "connected":
                        return account
                    if account is not None and account.status == "error":
                        raise AccountError(
                            account.error or f"account {account_id} failed to connect",
                            account_id=account_id,
                        )
                    if account is None:
                        self._poll_now = True
                    event = self._changed.setdefault(account_id, anyio.Event())
                    self._signal.set()
                    await event.wait()
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
            feed._push(change)
        for listener in self._listeners:
            listener(change)

    def add_listener(self, listener: Callable[[AccountStatusChanged], None]) -> None:
        """Call ``listener`` with every status change (the stream uses this)."""
        self._listeners.append(listener)

    # ---------------------------------------------------------------- rounds

    def _followed(self) -> set[str]:
        return self._connecting | set(self._wanted)

    def _restart_backoff(self) -> None:
        self._interval = self._policy.initial_interval
        self._next_round = anyio.current_time() + self._interval
        self._signal.set()

    def _next_delay(self) -> float:
        delay = self._interval * (1 - 0.2 * self._rng.random())
        self._interval = min(self._policy.max_interval, self._interval * self._policy.factor)
        return delay

    async def run(self) -> None:
        """The watcher task; runs in the session's task group until it closes."""
        while True:
            signal = self._signal = anyio.Event()
            if not self._followed():
                self._interval = self._policy.initial_interval
                await signal.wait()
                continue
            now = anyio.current_time()
            if self._poll_now or now >= self._next_round:
                self._poll_now = False
                await self._round()
                self._next_round = anyio.current_time() + self._next_delay()
                continue
            with anyio.move_on_after(self._next_round - now):
                await signal.wait()

    async def _round(self) -> None:
        followed = self._followed()
        try:
            accounts: list[Account] = await self._transport.request(
                "GET",
                accounts_path(),
                auth="management",
                bucket=MANAGEMENT_BUCKET,
                reply_type=list[Account],
                idempotent=True,
            )
        except (AuthenticationError, PermissionDeniedError) as exc:
            # Fatal for every waiter: polling again cannot help.
            for account_id in followed:
                self._failures[account_id] = exc
                self._wake_waiters(account_id)
            self._connecting.clear()
            return
        except FxSocketError as exc:
            log.warning("account watcher: listing accounts failed (%s); will retry", exc)
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


class Accounts:
    """Account management: ``fx.accounts``. Needs a key with ``full`` scope to link/unlink."""

    def __init__(self, transport: HttpTransport, watcher: AccountWatcher) -> None:
        self._transport = transport
        self._watcher = watcher

    def __repr__(self) -> str:
        return "Accounts()"

    async def _call(self, method: str, path: str, reply_type: object, **kwargs: object) -> object:
        return await self._transport.request(
            method,
            path,
            auth="management",
            bucket=MANAGEMENT_BUCKET,
            reply_type=reply_type,
            **kwargs,  # type: ignore[arg-type]
        )

    async def list(self) -> list[Account]:
        """Every account linked to the key.

        Raises ``AuthenticationError``, ``PermissionDeniedError`` or another
        ``FxSocketError``.
        """
        accounts: list[Account] = await self._call(  # type: ignore[assignment]
            "GET", accounts_path(), list[Account], idempotent=True
        )
        for account in accounts:
            self._watcher.observe(account)
        return accounts

    async def get(self, account_id: str) -> Account:
        """One account by id. Raises ``NotFoundError`` or another ``FxSocketError``."""
        account: Account = await self._call(  # type: ignore[assignment]
            "GET", account_path(account_id), Account, idempotent=True
        )
        self._watcher.observe(account)
        return account

    async def link(
        self, *, server: str, login: int, password: str, nickname: str | None = None
    ) -> Account:
        """Link an MT5 account; its terminal starts provisioning (status ``connecting``).

        The watcher then follows it; use ``wait_connected``. A link is not
        retried after an ambiguous failure (only after 429), so it never
        links twice.

        Raises ``ValidationError`` (before sending), ``BrokerRejectedError``,
        ``AlreadyLinkedError``, ``PlanLimitError``, ``PermissionDeniedError``
        or another ``FxSocketError``.
        """
        if not isinstance(server, str) or not server.strip():
            raise ValidationError(
                "server must be the broker's server name, e.g. 'VTMarkets-Demo'",
                status=None,
                code="invalid_server",
            )
        if isinstance(login, bool) or not isinstance(login, int) or login <= 0:
            raise ValidationError(
                "login must be the positive MT5 account number", status=None, code="invalid_login"
            )
        if not isinstance(password, str) or not password:
            raise ValidationError("password is required", status=None, code="invalid_password")
        request = LinkAccountRequest(
            server=server, login=login, password=password, nickname=nickname
        )
        account: Account = await self._call(  # type: ignore[assignment]
            "POST", accounts_path(), Account, body=request, idempotent=False
        )
        self._watcher.observe(account, linked=True)
        return account

    async def unlink(self, account_id: str) -> None:
        """Unlink an account and tear its terminal down.

        A retry that finds the account already gone counts as done.
        Raises ``NotFoundError`` when it was not linked, or another ``FxSocketError``.
        """
        attempts: builtins.list[FxSocketError] = []
        try:
            await self._call(
                "DELETE", account_path(account_id), None, idempotent=True, attempts=attempts
            )
        except NotFoundError:
            if not attempts:
                raise
        self._watcher.forget(account_id)

    async def wait_connected(self, account_id: str, *, timeout: float = 300.0) -> Account:
        """Wait until the account's terminal is ``connected``; return the account.

        Raises ``AccountError`` with the server's ``error`` text when
        provisioning fails, ``TimeoutError`` after ``timeout`` seconds,
        ``NotFoundError`` when the account is not linked, or the
        ``AuthenticationError`` / ``PermissionDeniedError`` polling met.
        """
        return await self._watcher.wait_connected(account_id, timeout)

    def watch(self) -> StatusFeed:
        """Status changes of every account the session sees, as an async iterator."""
        return self._watcher.watch()
