"""Simulator settings: API keys and the frozen configuration."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from ._replay_spec import ReplaySpec
from ._symbols import DEFAULT_SYMBOLS, SymbolSpec

__all__ = ["DEMO_API_KEY", "SCOPES", "ApiKey", "Scope", "SimulatorConfig"]

Scope: TypeAlias = Literal["read", "trade", "full"]
SCOPES: tuple[Scope, ...] = ("read", "trade", "full")

#: The key a simulator started without ``--api-key`` accepts, with ``full`` scope.
DEMO_API_KEY = "fxs_demo_key"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key the simulator accepts.

    ``scope``: ``read`` allows GET only, ``trade`` adds orders, ``full`` adds
    account management. Keys with the same ``owner`` see the same accounts.
    """

    key: str = field(repr=False)
    scope: Scope = "full"
    owner: str = "default"

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("an API key cannot be empty")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")

    @classmethod
    def parse(cls, text: str) -> ApiKey:
        """Parse ``KEY[:read|trade|full]`` as given on the command line."""
        key, sep, scope = text.rpartition(":")
        if not sep or scope not in SCOPES:
            return cls(text)
        return cls(key, scope)  # scope was checked against SCOPES above


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Everything that shapes a simulator's behaviour; see docs/simulator.md."""

    api_keys: tuple[ApiKey, ...] = (ApiKey(DEMO_API_KEY),)
    provision_delay: float = 3.0
    seed: int = 0
    symbols: tuple[SymbolSpec, ...] = DEFAULT_SYMBOLS
    quote_interval: float | None = 0.25
    rate_limit: float | None = 60.0
    plan_limit: int = 5
    leverage: float = 100.0
    balance: float = 10_000.0
    currency: str = "USD"
    commission_per_lot: float = 7.0
    swap_long: float = -6.0
    swap_short: float = 1.5
    account_event_interval: float = 1.0
    broker_utc_offset: float = 0.0
    #: Serve the terminal dialect too: linked accounts carry rest_url and ws_url.
    terminal: bool = True
    #: Seconds between periodic ``terminal`` pushes on terminal sockets; None: never.
    terminal_interval: float | None = 1.0
    #: Frames a terminal socket may queue before it drops ticks and bars.
    terminal_queue_limit: int = 1000
    #: Serve this archive's ticks as the market instead of the random walk (its
    #: symbols replace ``symbols``; ``quote_interval`` is unused). See "Replay".
    replay: ReplaySpec | None = None

    def __post_init__(self) -> None:
        if not self.api_keys:
            raise ValueError("a simulator needs at least one API key")
        if len({k.key for k in self.api_keys}) != len(self.api_keys):
            raise ValueError("API keys must be distinct")
        if not self.symbols:
            raise ValueError("a simulator needs at least one symbol")
        for name in ("provision_delay", "account_event_interval", "commission_per_lot"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.quote_interval is not None and not self.quote_interval >= 0:
            raise ValueError("quote_interval must be >= 0 seconds, or None for manual ticks")
        if self.rate_limit is not None and not self.rate_limit > 0:
            raise ValueError("rate_limit must be > 0 requests per second, or None to disable")
        if self.terminal_interval is not None and not (
            math.isfinite(self.terminal_interval) and self.terminal_interval > 0
        ):
            raise ValueError("terminal_interval must be > 0 seconds, or None for no periodic push")
        if self.terminal_queue_limit < 1:
            raise ValueError("terminal_queue_limit must be at least 1 frame")
        if self.plan_limit < 0 or not self.leverage > 0 or not self.balance >= 0:
            raise ValueError("plan_limit and balance must be >= 0 and leverage > 0")
