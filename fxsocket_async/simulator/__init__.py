"""A faithful local FxSocket server for development and tests.

``async with Simulator(SimulatorConfig(...)) as sim:`` serves the REST routes
and the WebSocket stream of the wire contract on 127.0.0.1, and each linked
account's terminal (the vendor SDK's per-account REST API and WebSocket), with
one seeded market, simulated accounts and trading behind both, and fault
injection; or, with ``SimulatorConfig(replay=ReplaySpec(dir))``, an archive
of ``fxsocket-async collect`` replayed as its market. From a shell:
``python -m fxsocket_async.simulator --port 0``. See docs/simulator.md.
"""

from .._core.events import AccountEvent
from ._config import DEMO_API_KEY, ApiKey, Scope, SimulatorConfig
from ._faults import Faults, InjectedFailure
from ._replay import Replay
from ._replay_archive import ReplayError
from ._replay_spec import ReplaySpec
from ._server import Simulator
from ._steering import TerminalSocketInfo
from ._symbols import DEFAULT_SYMBOLS, SymbolSpec

__all__ = [
    "DEFAULT_SYMBOLS",
    "DEMO_API_KEY",
    "AccountEvent",
    "ApiKey",
    "Faults",
    "InjectedFailure",
    "Replay",
    "ReplayError",
    "ReplaySpec",
    "Scope",
    "Simulator",
    "SimulatorConfig",
    "SymbolSpec",
    "TerminalSocketInfo",
]
