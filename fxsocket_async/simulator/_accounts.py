"""Accounts: linking, the terminal's provisioning and status, and the event ledger.

Every per-account event goes out through ``Accounts.emit``, which numbers it
(``seq``), keeps it in the account's ledger, hands it to ``publish`` (the
reference stream) and then to ``observe`` (the terminal side), so ``seq``
grows whether or not anyone is subscribed. Deals go to ``observe`` through
``Accounts.record_deal``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .._core.codec import encode
from .._core.events import AccountEvent, AccountStatusChanged, AccountStatusData, AccountUpdate
from .._core.models import LinkAccountRequest
from ._account_json import AccountBody, TerminalUrls, account_body
from ._config import SimulatorConfig
from ._errors import SimError
from ._money import Money
from ._records import AccountRecord, DealRecord, Observe, Publish, Schedule
from ._requests import PLATFORMS, LinkBody

__all__ = ["Accounts"]


class Accounts:
    """The linked accounts of every owner, and what they emit."""

    def __init__(
        self,
        config: SimulatorConfig,
        money: Money,
        ids: random.Random,
        *,
        now: Callable[[], datetime],
        monotonic: Callable[[], float],
        schedule: Schedule,
        publish: Publish,
        observe: Observe | None = None,
        urls: TerminalUrls | None = None,
    ) -> None:
        self.config = config
        self._observe = observe
        #: Where terminals live; ``None`` when the terminal dialect is off.
        self.urls = urls
        self._money = money
        # Shared with the order ids: one seeded sequence keeps every id reproducible.
        self._ids = ids
        self._now = now
        self._monotonic = monotonic
        self._schedule = schedule
        self._publish = publish
        self._accounts: dict[str, AccountRecord] = {}

    def __iter__(self) -> Iterator[AccountRecord]:
        # A snapshot: what the loop's events trigger must not upset the iteration.
        return iter(list(self._accounts.values()))

    # ------------------------------------------------------------ queries

    def bodies(self, owner: str) -> list[AccountBody]:
        return [self.body(a) for a in self._accounts.values() if a.owner == owner]

    def body(self, account: AccountRecord) -> AccountBody:
        """The account's JSON as the management routes answer it."""
        return account_body(account, self.urls)

    def get(self, account_id: str) -> AccountRecord | None:
        """The linked account ``account_id``, whoever linked it."""
        return self._accounts.get(account_id)

    def find(self, owner: str, account_id: str) -> AccountRecord:
        """Raises ``SimError`` 404 ``not_found`` unless ``owner`` linked the account."""
        account = self._accounts.get(account_id)
        if account is None or account.owner != owner:
            raise SimError(404, "not_found", f"no account {account_id!r} is linked to this key")
        return account

    def resolve(self, owner: str, account_id: str | None) -> AccountRecord:
        """The account a per-account route acts on (``None``: the bare route form).

        Raises ``SimError`` 404 ``not_found`` for an account ``owner`` did not
        link (or, bare, if it linked none) and 400 ``account_required`` for the
        bare form when it linked several.
        """
        if account_id is not None:
            return self.find(owner, account_id)
        owned = [a for a in self._accounts.values() if a.owner == owner]
        if not owned:
            raise SimError(404, "not_found", "no account is linked to this API key")
        if len(owned) > 1:
            raise SimError(
                400,
                "account_required",
                f"this key has {len(owned)} linked accounts: use /v1/accounts/{{account_id}}/...",
            )
        return owned[0]

    @staticmethod
    def require_connected(account: AccountRecord) -> None:
        """Raises ``SimError`` 503 ``terminal_not_ready`` unless the account is connected."""
        if account.status != "connected":
            detail = f": {account.error}" if account.error else ""
            raise SimError(
                503,
                "terminal_not_ready",
                f"account {account.id} is {account.status}{detail}; its terminal is not ready",
            )

    def owner_of(self, account_id: str) -> str | None:
        account = self._accounts.get(account_id)
        return None if account is None else account.owner

    def ledger(self, account_id: str) -> list[AccountEvent]:
        """Raises ``KeyError`` for an account that is not linked."""
        return list(self._accounts[account_id].ledger)

    # ---------------------------------------------------------- lifecycle

    def link(self, owner: str, request: LinkBody | LinkAccountRequest) -> AccountRecord:
        """Link an account; its terminal comes up after the provision delay.

        Raises ``SimError``: 400 ``invalid_request`` for a blank server, a
        login that is not positive, no password or an unknown platform, 409
        ``already_linked``, 402 ``plan_limit``, and 400 ``broker_rejected`` for
        the password ``invalid``.
        """
        platform = getattr(request, "platform", None) or "mt5"
        if platform not in PLATFORMS:
            raise SimError(
                400,
                "invalid_request",
                f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}",
            )
        if not request.server.strip():
            raise SimError(400, "invalid_request", "server must be the broker's server name")
        if request.login <= 0:
            raise SimError(400, "invalid_request", "login must be a positive account number")
        if not request.password:
            raise SimError(400, "invalid_request", "password is required")
        owned = [a for a in self._accounts.values() if a.owner == owner]
        if any(a.server == request.server and a.login == request.login for a in owned):
            raise SimError(
                409,
                "already_linked",
                f"account {request.login} on {request.server} is already linked",
            )
        if len(owned) >= self.config.plan_limit:
            raise SimError(
                402,
                "plan_limit",
                f"your plan allows {self.config.plan_limit} linked accounts; unlink one first",
            )
        if request.password == "invalid":
            raise SimError(
                400,
                "broker_rejected",
                f"{request.server} rejected the login for account {request.login}: "
                "invalid account or password",
            )
        account = AccountRecord(
            id=str(uuid.UUID(int=self._ids.getrandbits(128), version=4)),
            owner=owner,
            server=request.server,
            login=request.login,
            password=request.password,
            nickname=request.nickname or "",
            created_at=self._now().replace(microsecond=0),
            balance=self.config.balance,
            platform=platform,
        )
        if isinstance(request, LinkBody):
            account.trade_ea_symbol = request.trade_ea_symbol
            account.proxy_address = request.proxy_address
            account.proxy_type = request.proxy_type
            account.proxy_local_port = request.proxy_local_port
        self._accounts[account.id] = account
        account.provisioning = self._schedule(
            self.config.provision_delay, lambda: self.complete_provisioning(account.id)
        )
        return account

    def complete_provisioning(self, account_id: str) -> None:
        """Bring a connecting account's terminal up now (or fail it, for ``-Broken``).

        Does nothing for an account that is not linked or not connecting.
        """
        account = self._accounts.get(account_id)
        if account is None or account.status != "connecting":
            return
        if account.provisioning is not None:
            account.provisioning.cancel()
            account.provisioning = None
        if account.server.endswith("-Broken"):
            self.set_status(
                account_id,
                "error",
                f"terminal provisioning failed: broker server {account.server} did not answer",
            )
        else:
            self.set_status(account_id, "connected")

    def set_status(self, account_id: str, status: str, error: str = "") -> None:
        """Move the account to ``status``; raises ``KeyError`` if it is not linked."""
        account = self._accounts[account_id]
        if (account.status, account.error) == (status, error):
            return
        account.status, account.error = status, error
        if status == "connected":
            account.terminal_up = True
        self.emit(account, AccountStatusChanged, AccountStatusData(status=status, error=error))
        if status == "connected":
            self.emit_account_update(account, force=True)

    def unlink(self, owner: str, account_id: str) -> None:
        """Tear the terminal down and forget the account.

        Raises ``SimError`` 404 ``not_found`` unless ``owner`` linked the account.
        """
        account = self.find(owner, account_id)
        for timer in (account.provisioning, account.trailing_update):
            if timer is not None:
                timer.cancel()
        account.status = "disconnected"
        self.emit(account, AccountStatusChanged, AccountStatusData(status="disconnected"))
        del self._accounts[account_id]

    # ------------------------------------------------------------- events

    def emit(self, account: AccountRecord, kind: type[AccountEvent], data: Any) -> None:
        """Number the event, record it in the ledger and publish it."""
        account.seq += 1
        event = kind(account_id=account.id, seq=account.seq, data=data)
        account.ledger.append(event)
        channel = "account" if kind in (AccountUpdate, AccountStatusChanged) else "orders"
        self._publish(account.id, channel, encode(event))
        if self._observe is not None:
            self._observe(account, event)

    def record_deal(self, account: AccountRecord, deal: DealRecord) -> None:
        """Keep the deal in the account's history and tell the terminal side."""
        account.deals.append(deal)
        if self._observe is not None:
            self._observe(account, deal)

    def emit_account_update(self, account: AccountRecord, *, force: bool = False) -> None:
        """Send the account's figures if they changed (always with ``force``)."""
        figures = self._money.figures(account)
        if figures == account.last_account_data and not force:
            return
        account.last_account_data = figures
        account.last_account_event = self._monotonic()
        self.emit(account, AccountUpdate, figures)

    def throttled_account_update(self, account: AccountRecord, now: float) -> None:
        """Send the figures as equity moves, at most once per ``account_event_interval``."""
        # The last move is always sent: a trailing update goes out when the
        # interval ends.
        wait = account.last_account_event + self.config.account_event_interval - now
        if wait <= 0:
            self.emit_account_update(account)
        elif account.trailing_update is None:
            account.trailing_update = self._schedule(
                wait, lambda: self._send_trailing_update(account.id)
            )

    def _send_trailing_update(self, account_id: str) -> None:
        account = self._accounts.get(account_id)
        if account is None:
            return
        account.trailing_update = None
        if account.status == "connected":
            self.emit_account_update(account)
