"""What differs on the wire between the two dialects a client test runs in.

The public API is one; these are the few facts a test must state per dialect:
how a refusal's HTTP status reads, what an order id looks like, which
reads come before an order goes out. ``ACTIVE["dialect"]`` is the dialect of
the running test ("auto" outside the client and stream suites, which with
the simulator's default terminal endpoints means the terminal's).
"""

from __future__ import annotations

from fxsocket_async import AccountClient, AsyncFxSocket

from .sim import ACTIVE

__all__ = [
    "is_terminal",
    "missing_order_id",
    "refusal_status",
    "retried",
    "warm_account",
    "warm_symbols",
]


def is_terminal() -> bool:
    return ACTIVE["dialect"] != "reference"


def refusal_status() -> int:
    """The status of a refused order: a 400 on the reference routes; the terminal
    answers 200 with ``success: false`` and a retcode."""
    return 200 if is_terminal() else 400


def missing_order_id() -> str:
    """An order id of the dialect's shape that no order has."""
    return "9999999999" if is_terminal() else "ord_9999999999"


async def warm_symbols(trading: AccountClient, *symbols: str) -> None:
    """Read the symbols' specs now, as a terminal account's first order of a symbol
    would (its volume limits are checked before sending), so that a test counting
    an order's requests counts only the order. Nothing to read on the reference routes."""
    if is_terminal():
        for symbol in symbols:
            await trading.symbol_info(symbol)


async def warm_account(fx: AsyncFxSocket, account_id: str) -> None:
    """Let ``fx`` decide the account's dialect now (one read of its record), so that
    faults injected next meet the call under test, not that read."""
    await fx.account(account_id).dialect()


def retried(fault: dict[str, object]) -> bool:
    """Whether a read that meets ``fault`` is retried: a terminal's 503 means its
    terminal is not ready (``TerminalNotReadyError``, raised at once), as the vendor
    SDK reads it; everywhere else 5xx and 429 are retried."""
    return not (is_terminal() and fault.get("status") == 503)
