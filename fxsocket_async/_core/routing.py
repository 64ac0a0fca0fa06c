"""Where quotes go: account -> symbol -> the sinks of its consumers.

The quote hot path is one dict lookup per run of quotes of one symbol, and
one ``push_many`` per sink.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .actions import QuoteSink
from .models import Quote

__all__ = ["FLUSH_EVERY", "QuoteRoutes"]

#: The most frames the reader takes in a burst before it flushes and yields.
FLUSH_EVERY: Final = 512


class QuoteRoutes:
    """The quote consumers of one socket, by account and symbol."""

    def __init__(self) -> None:
        self.by_account: dict[str, dict[str, list[QuoteSink]]] = {}
        #: How many frames the reader may take before flushing (see ``resize``).
        self.flush_every = FLUSH_EVERY

    def __bool__(self) -> bool:
        return bool(self.by_account)

    def add(self, account_id: str, symbols: Sequence[str], sink: QuoteSink) -> None:
        by_symbol = self.by_account.setdefault(account_id, {})
        for symbol in symbols:
            by_symbol.setdefault(symbol, []).append(sink)
        self._resize()

    def remove(self, account_id: str, symbols: Sequence[str], sink: QuoteSink) -> list[str]:
        """Stop routing ``symbols`` to ``sink``; return the symbols it really had."""
        by_symbol = self.by_account.get(account_id, {})
        had = []
        for symbol in symbols:
            sinks = by_symbol.get(symbol)
            if sinks is not None and sink in sinks:
                sinks.remove(sink)
                had.append(symbol)
                if not sinks:
                    del by_symbol[symbol]
        if not by_symbol:
            self.by_account.pop(account_id, None)
        self._resize()
        return had

    def drop(self, account_id: str, symbol: str) -> list[QuoteSink]:
        """Remove every sink of one symbol of one account; return them."""
        by_symbol = self.by_account.get(account_id, {})
        sinks = by_symbol.pop(symbol, [])
        if not by_symbol:
            self.by_account.pop(account_id, None)
        self._resize()
        return sinks

    def route(self, account_id: str, symbol: str, quotes: list[Quote]) -> None:
        by_symbol = self.by_account.get(account_id)
        if by_symbol is not None:
            for sink in by_symbol.get(symbol, ()):
                sink.push_many(quotes)

    def sinks(self) -> list[QuoteSink]:
        """Every quote consumer, once each."""
        unique: dict[int, QuoteSink] = {}
        for by_symbol in self.by_account.values():
            for sinks in by_symbol.values():
                for sink in sinks:
                    unique[id(sink)] = sink
        return list(unique.values())

    def _resize(self) -> None:
        # The reader flushes at least twice per smallest bounded quote buffer, so
        # a consumer that is always ready never finds its buffer full.
        bounded = [s.capacity for s in self.sinks() if s.capacity is not None]
        smallest = min(bounded, default=2 * FLUSH_EVERY)
        self.flush_every = max(1, min(FLUSH_EVERY, smallest // 2))
