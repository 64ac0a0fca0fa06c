"""``fxsocket-async accounts list|link|unlink``: plain text (no extra needed), or JSON."""

from __future__ import annotations

import os
import sys

import anyio
import click
import msgspec

from .._client import AsyncFxSocket
from .._core.models import Account

__all__ = ["PASSWORD_ENV", "link_account", "list_accounts", "read_password", "unlink_account"]

PASSWORD_ENV = "FXSOCKET_PASSWORD"
_COLUMNS = ("id", "server", "login", "nickname", "status")


def _table(accounts: list[Account]) -> str:
    rows = [_COLUMNS] + [
        (a.id, a.server, str(a.login), a.nickname or "", a.status) for a in accounts
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


async def list_accounts(*, as_json: bool) -> int:
    """Print the key's accounts. Raises the library's errors (``AuthenticationError``...)."""
    async with AsyncFxSocket() as fx:
        accounts = await fx.accounts.list()
    if as_json:
        print(msgspec.json.encode(accounts).decode())
    elif accounts:
        print(_table(accounts))
    else:
        print("no account linked to this key: fxsocket-async accounts link --server ... --login")
    return 0


def read_password(from_stdin: bool) -> str:
    """The password: from stdin, ``$FXSOCKET_PASSWORD``, or a prompt (never an argument:
    arguments show in the process list)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = os.environ.get(PASSWORD_ENV) or click.prompt("password", hide_input=True)
    if not password:
        raise click.UsageError("an empty password")
    return password


async def link_account(
    *, server: str, login: int, password: str, nickname: str | None, wait: bool, timeout: float
) -> int:
    """Link (or find) the account and, with ``wait``, follow its status until connected.

    Raises ``AccountError`` when its terminal fails, ``TimeoutError``, or the
    link's own errors (``BrokerRejectedError``, ``PlanLimitError``...).
    """
    async with AsyncFxSocket() as fx, fx.accounts.watch() as changes:
        account = await fx.accounts.ensure(
            server=server, login=login, password=password, nickname=nickname
        )
        print(f"{account.id} {account.server} {account.login}: {account.status}")
        if wait and account.status == "connecting":
            with anyio.move_on_after(timeout):
                async for change in changes:
                    if change.account_id == account.id and change.data.status != "connecting":
                        break
            # Settles it: the account, AccountError (with the server's text) or TimeoutError.
            account = await fx.accounts.wait_connected(account.id, timeout=5)
            print(f"{account.id}: {account.status}")
    return 0


async def unlink_account(account_id: str) -> int:
    """Unlink one account. Raises ``NotFoundError`` for an unknown id."""
    async with AsyncFxSocket() as fx:
        await fx.accounts.unlink(account_id)
    print(f"unlinked {account_id}")
    return 0
