"""Account management: ``fx.accounts`` (list, get, link, ensure, unlink, wait, watch)."""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from .._core.models import Account, LinkAccountRequest
from .._dialects.reference import ReferenceManagement
from .._exceptions import (
    AlreadyLinkedError,
    NotFoundError,
    ProtocolError,
    ServerError,
    TransportError,
    ValidationError,
)
from .client import RestClient
from .resource import MANAGEMENT_BUCKET
from .watcher import AccountWatcher, StatusFeed

__all__ = ["Accounts"]


class Accounts:
    """Account management: ``fx.accounts``. Needs a key with ``full`` scope to link/unlink."""

    def __init__(
        self, rest: RestClient, management: ReferenceManagement, watcher: AccountWatcher
    ) -> None:
        self._rest = rest
        self._management = management
        self._watcher = watcher
        # One lock per (server, login) that an ensure() of this session is working on.
        self._ensuring: dict[tuple[str, int], anyio.Lock] = {}

    def __repr__(self) -> str:
        return "Accounts()"

    async def list(self) -> list[Account]:
        """Every account linked to the key.

        Raises ``AuthenticationError``, ``PermissionDeniedError`` or another
        ``FxSocketError``.
        """
        accounts = await self._rest.run(
            self._management.list_accounts(), kind="management", bucket=MANAGEMENT_BUCKET
        )
        for account in accounts:
            self._watcher.observe(account)
        return accounts

    async def get(self, account_id: str) -> Account:
        """One account by id. Raises ``NotFoundError`` or another ``FxSocketError``."""
        account = await self._rest.run(
            self._management.get_account(account_id), kind="management", bucket=MANAGEMENT_BUCKET
        )
        self._watcher.observe(account)
        return account

    async def link(
        self,
        *,
        server: str,
        login: int,
        password: str,
        nickname: str | None = None,
        platform: str | None = None,
    ) -> Account:
        """Link an account; its terminal starts provisioning (status ``connecting``).

        ``platform`` is ``"mt5"`` or ``"mt4"``; left out, the service's default (MT5).

        The watcher then follows it; use ``wait_connected``. A link is not
        retried after an ambiguous failure (only after 429), so it never
        links twice.

        Raises ``ValidationError`` (before sending), ``BrokerRejectedError``,
        ``AlreadyLinkedError``, ``PlanLimitError``, ``PermissionDeniedError``
        or another ``FxSocketError``.
        """
        _check_link(server, login, password)
        request = LinkAccountRequest(
            server=server,
            login=login,
            password=password,
            nickname=nickname,
            platform=_check_platform(platform),
        )
        account = await self._rest.run(
            self._management.link_account(request), kind="management", bucket=MANAGEMENT_BUCKET
        )
        self._watcher.observe(account, linked=True)
        return account

    async def ensure(
        self,
        *,
        server: str,
        login: int,
        password: str,
        nickname: str | None = None,
        platform: str | None = None,
    ) -> Account:
        """The account of ``server`` and ``login`` linked to the key; link it if there is none.

        Call it at every start of a program: the first run links the account,
        later runs (and other sessions) get the same account back. It never
        links twice: calls of one session for the same server and login run
        one at a time, and a link refused as already linked (another session
        linked it meanwhile) or whose reply was lost is resolved by looking
        again. ``server`` and ``login`` identify the account; ``password``,
        ``nickname`` and ``platform`` are used only to link it. A linked account is returned as
        the server has it, in whatever status (``wait_connected`` raises
        ``AccountError`` for one in ``error``), with its own nickname (there is
        no rename: compare ``account.nickname`` if it matters to you); its
        password is not checked, since it is never returned.

        Raises ``ValidationError`` (before sending), ``BrokerRejectedError``,
        ``PlanLimitError``, ``PermissionDeniedError`` (linking needs a key with
        ``full`` scope; finding does not), ``AuthenticationError``, or another
        ``FxSocketError`` (such as ``TransportError`` when a link's reply was
        lost and the account is not listed either).
        """
        _check_link(server, login, password)
        _check_platform(platform)
        key = (server, login)
        lock = self._ensuring.setdefault(key, anyio.Lock())
        try:
            async with lock:
                found = _find(await self.list(), server, login)
                if found is not None:
                    return found
                try:
                    return await self.link(
                        server=server,
                        login=login,
                        password=password,
                        nickname=nickname,
                        platform=platform,
                    )
                except (AlreadyLinkedError, ServerError, TransportError, ProtocolError):
                    # Linked by someone else meanwhile, or perhaps by us with the reply
                    # lost: what the server lists now decides; nothing is sent twice.
                    found = _find(await self.list(), server, login)
                    if found is None:
                        raise
                    return found
        finally:
            if not lock.locked() and not lock.statistics().tasks_waiting:
                self._ensuring.pop(key, None)

    async def unlink(self, account_id: str) -> None:
        """Unlink an account and tear its terminal down.

        An unlink may be sent twice without this library knowing (a retry, or
        aiohttp re-sending it on a broken keep-alive connection), so a "not
        found" for an account this session has seen linked counts as done:
        the account is unlinked, which is what was asked.

        Raises ``NotFoundError`` when this session never saw the account
        linked and the server does not know it, or another ``FxSocketError``.
        """
        try:
            await self._rest.run(
                self._management.unlink_account(account_id),
                kind="management",
                bucket=MANAGEMENT_BUCKET,
            )
        except NotFoundError:
            if self._watcher.known(account_id) is None:
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


def _check_link(server: str, login: int, password: str) -> None:
    if not isinstance(server, str) or not server.strip():
        raise ValidationError(
            "server must be the broker's server name, e.g. 'VTMarkets-Demo'",
            code="invalid_server",
        )
    if isinstance(login, bool) or not isinstance(login, int) or login <= 0:
        raise ValidationError(
            "login must be the positive MetaTrader account number", code="invalid_login"
        )
    if not isinstance(password, str) or not password:
        raise ValidationError("password is required", code="invalid_password")


def _check_platform(platform: str | None) -> str | None:
    if platform is None:
        return None
    if not isinstance(platform, str) or platform.lower() not in ("mt4", "mt5"):
        raise ValidationError(
            f"platform must be 'mt5' or 'mt4' (or left out for MT5), not {platform!r}",
            code="invalid_platform",
        )
    return platform.lower()


def _find(accounts: Iterable[Account], server: str, login: int) -> Account | None:
    return next((a for a in accounts if a.server == server and a.login == login), None)
