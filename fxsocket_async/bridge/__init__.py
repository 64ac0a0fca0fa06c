"""Fan-out past one machine: a NATS JetStream bridge and the consumers that read it.

One process holds the upstream session and publishes to NATS::

    async with AsyncFxSocket() as fx, Bridge(fx, nats="nats://127.0.0.1:4222",
                                             accounts=[account_id], symbols=["EURUSD"]):
        ...  # or: fxsocket-async bridge --nats nats://... --account ID

and any number of processes, on any host, read it with the shapes of ``AsyncFxSocket``::

    async with RemoteFxSocket(nats="nats://127.0.0.1:4222") as fx:
        async for event in fx.events(account=account_id, durable="risk"):
            ...

Needs nats-py (``pip install 'fxsocket-async[bridge]'``); importing this module
without it raises ``ConfigurationError`` saying so. See docs/bridge.md.
"""

import importlib
import inspect
from typing import Any, Final

from .._exceptions import ConfigurationError

BRIDGE_EXTRA: Final = "pip install 'fxsocket-async[bridge]'"

try:
    import nats as _nats  # noqa: F401
except ImportError:
    _missing = True
else:
    _missing = False
if _missing:
    raise ConfigurationError(f"the bridge needs nats-py: {BRIDGE_EXTRA}", code="missing_extra")

from ._errors import BridgeTimeoutError, BridgeUnavailableError  # noqa: E402
from ._wire import DEFAULT_PREFIX, BridgeEvent, BridgeStatus, Wire  # noqa: E402
from .testing import nats_server  # noqa: E402

__all__ = [
    "BRIDGE_EXTRA",
    "DEFAULT_PREFIX",
    "Bridge",
    "BridgeEvent",
    "BridgeStatus",
    "BridgeTimeoutError",
    "BridgeUnavailableError",
    "RemoteFxSocket",
    "Wire",
    "nats_server",
]

# Imported on first use, so each side loads only its own half (and neither waits on
# the other's imports).
_LAZY: Final = {"Bridge": "._bridge", "RemoteFxSocket": "._remote"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    obj = getattr(importlib.import_module(module, __name__), name)
    if isinstance(obj, type):
        obj.__module__ = __name__
    globals()[name] = obj
    return obj


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


for _name in __all__:
    _obj = globals().get(_name)
    if isinstance(_obj, type) or inspect.isfunction(_obj):
        _obj.__module__ = __name__
del _name, _obj
