"""Which dialect serves an account, and the stream socket that carries it.

Chosen per account, automatically (``dialect="auto"``): an account whose
record carries a ``rest_url`` is driven through its own terminal (REST at
``rest_url``, a WebSocket of its own at ``ws_url``); one without it through
the reference routes and the session's one per-key WebSocket. The setting
``dialect="reference"`` or ``"terminal"`` forces either. The bare routes
(``fx.account()`` with no id) are the reference's.

An account's record comes from what the session already knows (the account
watcher) or, the first time, one ``GET /v1/accounts/{id}``; a choice is kept
once the account is connected (a provisioning account has no ``rest_url`` yet).
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import anyio
from anyio.abc import TaskGroup

from ._clock import Clock
from ._config import StreamPolicy
from ._core.dialect import RestDialect, StreamDialect
from ._core.models import Account
from ._dialects.reference import ReferenceRest, ReferenceStream
from ._dialects.terminal import TerminalRest, TerminalStream
from ._exceptions import SessionClosedError, TerminalNotReadyError
from ._rest.accounts import Accounts
from ._rest.snapshots import SnapshotReader
from ._rest.watcher import AccountWatcher
from ._stream.stream import Stream
from ._stream.transport import StreamTransport

__all__ = ["DialectSetting", "Routing"]

DialectSetting: TypeAlias = Literal["auto", "reference", "terminal"]
DIALECT_SETTINGS = ("auto", "reference", "terminal")


class Routing:
    """The dialects and streams of one session's accounts."""

    def __init__(
        self,
        setting: DialectSetting,
        *,
        base_url: str,
        ws_url: str,
        api_key: str,
        accounts: Accounts,
        watcher: AccountWatcher,
        transport: StreamTransport,
        policy: StreamPolicy,
        connect_timeout: float,
        clock: Clock,
        tasks: TaskGroup,
        snapshots: SnapshotReader,
    ) -> None:
        self._setting = setting
        self._base_url = base_url
        self._api_key = api_key
        self._accounts = accounts
        self._watcher = watcher
        self._stream_args = (transport, policy, connect_timeout, clock, tasks, snapshots)
        self._chosen: dict[str, Account | None] = {}  # None: the reference routes
        self._lock = anyio.Lock()
        self._terminal_streams: dict[str, Stream] = {}
        self.shared_stream = self._make_stream(ReferenceStream(ws_url, api_key), None)
        self.closed = False

    def __repr__(self) -> str:
        return f"Routing({self._setting}, terminals={len(self._terminal_streams)})"

    # -------------------------------------------------------------- deciding

    async def terminal_of(self, account_id: str) -> Account | None:
        """The account's record if its terminal serves it, ``None`` for the reference routes.

        Raises ``TerminalNotReadyError`` when the terminal dialect is forced and
        the account has no terminal yet, ``NotFoundError`` for an unknown
        account, or another ``FxSocketError`` from reading the record.
        """
        if self._setting == "reference":
            return None
        if account_id in self._chosen:
            return self._chosen[account_id]
        async with self._lock:
            if account_id in self._chosen:
                return self._chosen[account_id]
            account = self._watcher.known(account_id)
            if account is None or account.status != "connected":
                account = await self._accounts.get(account_id)
            return self._decide(account)

    def _decide(self, account: Account) -> Account | None:
        """Whether ``account``'s terminal serves it; kept once it is connected.

        Raises ``TerminalNotReadyError`` when the terminal dialect is forced
        and the record names no terminal.
        """
        terminal = account if account.rest_url and account.ws_url else None
        if terminal is None and self._setting == "terminal":
            raise TerminalNotReadyError(
                f"account {account.id} has no terminal endpoint yet (status "
                f"{account.status}): it is still provisioning, or the server serves the "
                "reference routes only (use dialect='auto')",
                status=503,
                code="terminal_not_ready",
            )
        if account.status == "connected":
            self._chosen[account.id] = terminal
        return terminal

    async def rest_dialect(self, account_id: str | None) -> RestDialect:
        """The REST dialect of ``account_id`` (``None``: the bare reference routes)."""
        if account_id is None:
            return ReferenceRest(self._base_url, self._api_key, None)
        terminal = await self.terminal_of(account_id)
        if terminal is None:
            return ReferenceRest(self._base_url, self._api_key, account_id)
        return TerminalRest(terminal.rest_url or "", self._api_key, account_id)

    async def stream_for(self, account_id: str) -> Stream:
        """The socket that carries ``account_id``'s data (made on first use).

        Raises ``SessionClosedError`` once the session is closing, or what
        ``terminal_of`` raises.
        """
        terminal = await self.terminal_of(account_id)
        if self.closed:
            raise SessionClosedError("the session is closing")
        if terminal is None:
            return self.shared_stream
        return self._terminal_stream(account_id, terminal)

    def _terminal_stream(self, account_id: str, terminal: Account) -> Stream:
        stream = self._terminal_streams.get(account_id)
        if stream is None:
            dialect = TerminalStream(terminal.ws_url or "", self._api_key, account_id)
            stream = self._terminal_streams[account_id] = self._make_stream(dialect, account_id)
        return stream

    def stream_now(self, account_id: str | None) -> Stream:
        """The socket of ``account_id`` as far as it can be told without I/O.

        An account whose terminal is known (chosen before, or the watcher has
        its connected record) gets its own socket, made now if needed; one
        not decided yet is reported on the shared socket.
        """
        if account_id is None or self._setting == "reference":
            return self.shared_stream
        stream = self._terminal_streams.get(account_id)
        if stream is not None:
            return stream
        if account_id in self._chosen:
            terminal = self._chosen[account_id]
        else:
            known = self._watcher.known(account_id)
            if known is None or known.status != "connected":
                return self.shared_stream
            terminal = self._decide(known)
        if terminal is None or self.closed:
            return self.shared_stream
        return self._terminal_stream(account_id, terminal)

    # -------------------------------------------------------------- streams

    def _make_stream(self, dialect: StreamDialect, account_id: str | None) -> Stream:
        transport, policy, connect_timeout, clock, tasks, snapshots = self._stream_args
        stream = Stream(
            transport,
            dialect,
            account_id=account_id,
            policy=policy,
            connect_timeout=connect_timeout,
            clock=clock,
            tasks=tasks,
            snapshots=snapshots,
        )
        self._watcher.add_listener(stream.status_changed)
        return stream

    def streams(self) -> list[Stream]:
        return [self.shared_stream, *self._terminal_streams.values()]

    def close(self) -> None:
        """End every consumer of every socket (the session is closing)."""
        self.closed = True
        for stream in self.streams():
            stream.close()
