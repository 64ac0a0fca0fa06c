"""The account record as the management routes answer it (``/v1/accounts``).

The simulator writes its own Struct rather than the core's ``Account``, so that
what it serves is fixed here: with the terminal dialect on, the body adds
``rest_url`` and ``ws_url`` (empty until the account's terminal first comes
up, as the vendor SDK documents) and echoes the link's ``trade_ea_symbol`` and
proxy fields; with it off, the body is the reference dialect's alone.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from .._core.codec import encode
from .._core.models import Account
from ._records import AccountRecord

__all__ = ["AccountBody", "TerminalUrls", "account_body", "public_account"]

_UNSET = msgspec.UNSET


class TerminalUrls:
    """Where the accounts' terminals live: ``{base_url}/terminal/{id}`` and its ``/ws``."""

    def __init__(self) -> None:
        self.base_url = ""
        self.ws_base_url = ""

    def bind(self, base_url: str) -> None:
        """Called once the simulator listens (``http://host:port``)."""
        self.base_url = base_url
        self.ws_base_url = "ws" + base_url.removeprefix("http")

    def rest(self, account_id: str) -> str:
        return f"{self.base_url}/terminal/{account_id}"

    def ws(self, account_id: str) -> str:
        return f"{self.ws_base_url}/terminal/{account_id}/ws"


class AccountBody(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    nickname: str
    platform: str
    server: str
    login: int
    status: str
    error: str
    created_at: datetime
    broker: str
    rest_url: str | msgspec.UnsetType = _UNSET
    ws_url: str | msgspec.UnsetType = _UNSET
    trade_ea_symbol: str | msgspec.UnsetType = _UNSET
    proxy_address: str | msgspec.UnsetType = _UNSET
    proxy_type: str | msgspec.UnsetType = _UNSET
    proxy_local_port: int | msgspec.UnsetType | None = _UNSET


def account_body(account: AccountRecord, urls: TerminalUrls | None) -> AccountBody:
    """The account's JSON; ``urls`` is ``None`` when the terminal dialect is off."""
    body = AccountBody(
        id=account.id,
        nickname=account.nickname,
        platform=account.platform,
        server=account.server,
        login=account.login,
        status=account.status,
        error=account.error,
        created_at=account.created_at,
        broker=account.broker,
    )
    if urls is None:
        return body
    up = account.terminal_up
    return msgspec.structs.replace(
        body,
        rest_url=urls.rest(account.id) if up else "",
        ws_url=urls.ws(account.id) if up else "",
        trade_ea_symbol=account.trade_ea_symbol,
        proxy_address=account.proxy_address,
        proxy_type=account.proxy_type,
        proxy_local_port=account.proxy_local_port,
    )


_ACCOUNT_DECODER = msgspec.json.Decoder(Account)


def public_account(body: AccountBody) -> Account:
    """The core's ``Account`` as a client decodes this body (fields it lacks are dropped)."""
    return _ACCOUNT_DECODER.decode(encode(body))
