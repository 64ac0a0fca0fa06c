"""``ReplaySpec``: which archive the simulator replays, how fast, and from when."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

__all__ = ["ReplaySpec", "ReplayStart", "parse_speed"]

ReplayStart: TypeAlias = Literal["now", "subscribed"]
_STARTS: tuple[ReplayStart, ...] = ("now", "subscribed")


def parse_speed(text: str) -> float | Literal["max"]:
    """``1``, ``10``, ``0.5`` or ``max`` as ``--speed`` reads it; raises ``ValueError``."""
    value = text.strip().lower()
    if value == "max":
        return "max"
    try:
        speed = float(value)
    except ValueError:
        raise ValueError(f"--speed must be a positive number or max, not {text!r}") from None
    if not (math.isfinite(speed) and speed > 0):
        raise ValueError(f"--speed must be a positive number or max, not {text!r}")
    return speed


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """An archive written by ``fxsocket-async collect`` for the simulator to serve as its market.

    ``speed``: broker-time seconds per real second (``1`` replays in real
    time, ``10`` ten times faster), or ``"max"``: as fast as the streams
    carry the ticks, still in order. ``loop``: start again at the end (times
    shifted so they keep growing) instead of stopping there. ``start``:
    ``"now"`` serves the first tick when the simulator starts;
    ``"subscribed"`` waits until quote subscriptions (any account, either
    dialect) cover every replayed symbol. ``symbols``: replay only these
    (default: every symbol of the archive). ``account``: the collecting
    account to replay, needed when the archive holds several.
    See docs/simulator.md, "Replay".
    """

    path: Path | str
    speed: float | Literal["max"] = 1.0
    loop: bool = False
    start: ReplayStart = "now"
    symbols: tuple[str, ...] | None = None
    account: str | None = None

    def __post_init__(self) -> None:
        if self.speed != "max" and not (
            isinstance(self.speed, int | float) and math.isfinite(self.speed) and self.speed > 0
        ):
            raise ValueError(f"speed must be a positive number or 'max', not {self.speed!r}")
        if self.start not in _STARTS:
            raise ValueError(f"start must be one of {', '.join(_STARTS)}, not {self.start!r}")
        if self.symbols is not None and not self.symbols:
            raise ValueError("symbols must name at least one symbol (or be None for all)")

    @property
    def rate(self) -> float:
        """Broker-time seconds per real second; ``inf`` for ``"max"``."""
        return math.inf if self.speed == "max" else float(self.speed)
