"""fxsocket-async: an asyncio-native, streaming-first client for the FxSocket API.

This module exports what users call, configure and catch; the models they
receive live in ``fxsocket_async.types``, and the simulator in
``fxsocket_async.simulator``. Every other module is private. Public classes
report this module as theirs, so tracebacks name what users import.
"""

from . import types
from ._client import AsyncFxSocket
from ._config import (
    RateLimit,
    RetryPolicy,
    StreamPolicy,
    Timeouts,
    WatcherPolicy,
    always_open,
    forex_hours,
)
from ._core.validation import REMOVE, Remove
from ._exceptions import (
    AccountError,
    AccountRequiredError,
    AlreadyLinkedError,
    APIError,
    AuthenticationError,
    BadRequestError,
    BrokerRejectedError,
    ConfigurationError,
    ConflictError,
    ConnectionFailedError,
    ConsumerOverflowError,
    FxSocketError,
    IdempotencyConflictError,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    SessionClosedError,
    SubscriptionRefusedError,
    TerminalNotReadyError,
    TerminalTimeoutError,
    TimeoutError,
    TransportError,
    UnexpectedStatusError,
    UnsupportedError,
    UsageError,
    ValidationError,
)
from ._rest.accounts import Accounts
from ._rest.history import HistoryIterator
from ._rest.trading import AccountClient, Orders
from ._rest.watcher import StatusFeed
from ._stream.state import ConnectionStatus, ConnectionWatch
from ._stream.subscriptions import EventSubscription, QuoteBatches, QuoteSubscription

__version__ = "0.1.0.dev0"

__all__ = [
    "REMOVE",
    "APIError",
    "AccountClient",
    "AccountError",
    "AccountRequiredError",
    "Accounts",
    "AlreadyLinkedError",
    "AsyncFxSocket",
    "AuthenticationError",
    "BadRequestError",
    "BrokerRejectedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionFailedError",
    "ConnectionStatus",
    "ConnectionWatch",
    "ConsumerOverflowError",
    "EventSubscription",
    "FxSocketError",
    "HistoryIterator",
    "IdempotencyConflictError",
    "NotFoundError",
    "Orders",
    "PermissionDeniedError",
    "PlanLimitError",
    "ProtocolError",
    "QuoteBatches",
    "QuoteSubscription",
    "RateLimit",
    "RateLimitedError",
    "Remove",
    "RetryPolicy",
    "ServerError",
    "SessionClosedError",
    "StatusFeed",
    "StreamPolicy",
    "SubscriptionRefusedError",
    "TerminalNotReadyError",
    "TerminalTimeoutError",
    "TimeoutError",
    "Timeouts",
    "TransportError",
    "UnexpectedStatusError",
    "UnsupportedError",
    "UsageError",
    "ValidationError",
    "WatcherPolicy",
    "__version__",
    "always_open",
    "forex_hours",
    "types",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or (callable(_obj) and hasattr(_obj, "__module__")):
        _obj.__module__ = __name__
del _name, _obj
