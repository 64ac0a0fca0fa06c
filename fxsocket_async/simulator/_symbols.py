"""The instruments the simulator quotes: ``SymbolSpec`` and the built-in set."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = ["DEFAULT_SYMBOLS", "SymbolSpec", "symbol_specs"]


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """An instrument the simulator quotes.

    ``spread_points`` is the (min, max) spread in points (``10 ** -digits``);
    ``start_price`` anchors the historical backfill and, through it, the first
    live price; ``daily_volatility`` is the standard deviation of daily
    relative moves.
    """

    name: str
    digits: int
    contract_size: float
    base: str
    quote: str
    start_price: float
    spread_points: tuple[int, int]
    daily_volatility: float

    def __post_init__(self) -> None:
        low, high = self.spread_points
        if not self.name:
            raise ValueError("a symbol needs a name")
        if not 0 <= self.digits <= 10:
            raise ValueError(f"{self.name}: digits must be 0 to 10, not {self.digits}")
        if not (math.isfinite(self.start_price) and self.start_price > 0):
            raise ValueError(f"{self.name}: start_price must be positive")
        if not (math.isfinite(self.contract_size) and self.contract_size > 0):
            raise ValueError(f"{self.name}: contract_size must be positive")
        if not 1 <= low <= high:
            raise ValueError(f"{self.name}: spread_points must be (min, max) with 1 <= min <= max")
        if not (math.isfinite(self.daily_volatility) and 0 < self.daily_volatility < 1):
            raise ValueError(f"{self.name}: daily_volatility must be between 0 and 1")

    @property
    def point(self) -> float:
        """The smallest price step, ``10 ** -digits``."""
        return 10.0**-self.digits

    @property
    def pip(self) -> float:
        """Ten points: the unit of a quote's ``spread``."""
        return 10 * self.point

    def round(self, price: float) -> float:
        """Round a price to the symbol's digits."""
        return round(price, self.digits)


DEFAULT_SYMBOLS: Final[tuple[SymbolSpec, ...]] = (
    SymbolSpec("EURUSD", 5, 100_000, "EUR", "USD", 1.0850, (6, 18), 0.005),
    SymbolSpec("GBPUSD", 5, 100_000, "GBP", "USD", 1.2700, (10, 25), 0.006),
    SymbolSpec("USDJPY", 3, 100_000, "USD", "JPY", 150.00, (10, 22), 0.0065),
    SymbolSpec("XAUUSD", 2, 100, "XAU", "USD", 2350.00, (15, 40), 0.011),
)


def symbol_specs(names: Iterable[str]) -> tuple[SymbolSpec, ...]:
    """Pick built-in instruments by exact name, in the order given (duplicates once).

    Raises ``ValueError`` naming the unknown names and the known ones.
    """
    known = {spec.name: spec for spec in DEFAULT_SYMBOLS}
    wanted = list(dict.fromkeys(names))
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise ValueError(
            f"unknown symbol(s) {', '.join(map(repr, unknown))}; known: {', '.join(known)}"
        )
    return tuple(known[name] for name in wanted)
