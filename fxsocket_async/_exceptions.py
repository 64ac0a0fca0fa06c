"""The one exception tree of fxsocket-async.

Every failure a user can meet is one of these; aiohttp, msgspec and anyio
exceptions are mapped where they arise and never escape::

    FxSocketError                      code, message
    ├── APIError                       the server answered with an error: status (int)
    │   ├── BadRequestError            400 (codes such as invalid_volume)
    │   │   ├── BrokerRejectedError    400 broker_rejected
    │   │   └── AccountRequiredError   400 account_required (bare route, many accounts)
    │   ├── AuthenticationError        401 missing or unknown key
    │   ├── PlanLimitError             402 plan_limit
    │   ├── PermissionDeniedError      403 the key's scope forbids it
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   │   ├── AlreadyLinkedError     409 already_linked
    │   │   └── IdempotencyConflictError  409 idempotency_conflict
    │   ├── RateLimitedError           429 rate_limited, with retry_after
    │   ├── ServerError                5xx
    │   │   ├── TerminalNotReadyError  503 terminal_not_ready
    │   │   └── TerminalTimeoutError   504 the terminal did not answer in time
    │   └── UnexpectedStatusError      any other status
    ├── TransportError                 no usable reply reached us
    │   ├── ConnectionFailedError      could not connect, or the connection broke
    │   └── TimeoutError               no reply in time (also a builtin TimeoutError)
    ├── ProtocolError                  a reply or frame we cannot understand
    ├── AccountError                   an account's terminal failed (status ``error``)
    ├── ConsumerOverflowError          a consumer fell too far behind a lossless feed
    ├── SubscriptionRefusedError       the stream refused a subscribe (server's code)
    ├── ConfigurationError             the session cannot start as configured (no key...)
    └── UsageError                     misuse, refused before anything was sent
        ├── ValidationError            a bad argument (also a builtin ValueError)
        ├── UnsupportedError           the account's dialect has no such operation
        └── SessionClosedError         the session is not open (outside ``async with``)

Misuse is kept apart from the server's answers, as httpx keeps it apart: an
``APIError`` always carries the HTTP ``status`` the server sent, and a
``UsageError`` means nothing reached the server. ``status`` is ``None`` on
every error that is not an ``APIError`` (a ``ProtocolError`` may carry the
status of the reply it could not read).
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "APIError",
    "AccountError",
    "AccountRequiredError",
    "AlreadyLinkedError",
    "AuthenticationError",
    "BadRequestError",
    "BrokerRejectedError",
    "ConfigurationError",
    "ConflictError",
    "ConnectionFailedError",
    "ConsumerOverflowError",
    "FxSocketError",
    "IdempotencyConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanLimitError",
    "ProtocolError",
    "RateLimitedError",
    "ServerError",
    "SessionClosedError",
    "SubscriptionRefusedError",
    "TerminalNotReadyError",
    "TerminalTimeoutError",
    "TimeoutError",
    "TransportError",
    "UnexpectedStatusError",
    "UnsupportedError",
    "UsageError",
    "ValidationError",
    "error_from_response",
]


class FxSocketError(Exception):
    """Base of every error this library raises.

    ``code`` is the server's ``error`` code (or ours, for local failures),
    ``message`` the human-readable text, and ``status`` the HTTP status when
    a server answered (``None`` otherwise; always an int on ``APIError``).
    """

    status: int | None

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from keywords, so errors survive pickling (process pools) and copy.
        return (_rebuild, (type(self), self.message, dict(vars(self))))

    def __str__(self) -> str:
        prefix = []
        if self.status is not None:
            prefix.append(str(self.status))
        if self.code:
            prefix.append(self.code)
        return f"[{' '.join(prefix)}] {self.message}" if prefix else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class APIError(FxSocketError):
    """The server answered with an error status and body; ``status`` is that status."""

    status: int

    def __init__(self, message: str, *, status: int, code: str = "") -> None:
        super().__init__(message, status=status, code=code)


class BadRequestError(APIError):
    """400: the server refused the request as invalid; ``code`` says which check."""


class BrokerRejectedError(BadRequestError):
    """The broker refused the login or the order: 400 ``broker_rejected`` on the
    reference routes; on a terminal, an order result with ``success: false`` (its
    ``status`` is then the reply's 200, its ``code`` ``retcode_<n>``)."""


class AccountRequiredError(BadRequestError):
    """400 ``account_required``: a bare route was used by a key with several accounts."""


class AuthenticationError(APIError):
    """401: the API key is missing or unknown."""


class PlanLimitError(APIError):
    """402 ``plan_limit``: the plan allows no more linked accounts."""


class PermissionDeniedError(APIError):
    """403: the key's scope (read, trade, full) does not allow this request."""


class NotFoundError(APIError):
    """404: no such account, order or symbol."""


class ConflictError(APIError):
    """409: the request conflicts with the server's state."""


class AlreadyLinkedError(ConflictError):
    """409 ``already_linked``: this server and login are already linked."""


class IdempotencyConflictError(ConflictError):
    """409 ``idempotency_conflict``: the key was used before with another body."""


class RateLimitedError(APIError):
    """429 ``rate_limited``; ``retry_after`` is the server's ``Retry-After`` in seconds."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 429,
        code: str = "rate_limited",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after: float | None = retry_after


class ServerError(APIError):
    """5xx: the server failed; idempotent requests are retried."""


class TerminalNotReadyError(ServerError):
    """503 ``terminal_not_ready``: the account's terminal is not connected."""


class TerminalTimeoutError(ServerError):
    """504: the account's terminal did not answer in time; the request may still be
    carried out there (an order: look at its open orders before sending again)."""


class UnexpectedStatusError(APIError):
    """The server answered with a status this library has no meaning for."""


class TransportError(FxSocketError):
    """No usable reply: the connection failed or timed out."""

    def __init__(self, message: str, *, code: str = "transport_error") -> None:
        super().__init__(message, status=None, code=code)


class ConnectionFailedError(TransportError):
    """Could not connect, or the connection broke mid-request."""

    def __init__(self, message: str, *, code: str = "connection_failed") -> None:
        super().__init__(message, code=code)


class TimeoutError(TransportError, builtins.TimeoutError):  # shadows the builtin on purpose
    """No reply within the configured timeout. Also a builtin ``TimeoutError``."""

    def __init__(self, message: str, *, code: str = "timeout") -> None:
        super().__init__(message, code=code)


class ProtocolError(FxSocketError):
    """A reply body or stream frame did not match the wire contract."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "protocol_error"):
        super().__init__(message, status=status, code=code)


def _rebuild(cls: type[FxSocketError], message: str, state: dict[str, Any]) -> FxSocketError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


# A code refines the status only when both agree; an unknown code still lands
# in its status's branch, so a newer server's codes never break error handling.
class AccountError(FxSocketError):
    """An account's terminal failed: its status is ``error``; ``message`` is the server's text."""

    def __init__(self, message: str, *, account_id: str, code: str = "account_error") -> None:
        super().__init__(message, status=None, code=code)
        self.account_id = account_id


class ConsumerOverflowError(FxSocketError):
    """A consumer of a lossless feed let its bounded buffer fill; only it is ended."""

    def __init__(self, message: str, *, code: str = "consumer_overflow") -> None:
        super().__init__(message, status=None, code=code)


class SubscriptionRefusedError(FxSocketError):
    """The stream answered a subscribe with an error; ``code`` and ``message`` are the server's."""

    def __init__(self, message: str, *, code: str = "subscription_refused") -> None:
        super().__init__(message, status=None, code=code)


class ConfigurationError(FxSocketError):
    """The session cannot start as configured: no API key, a bad URL."""

    def __init__(self, message: str, *, code: str = "configuration_error") -> None:
        super().__init__(message, status=None, code=code)


class UsageError(FxSocketError):
    """The library was used in a way it refuses: nothing was sent to the server."""

    def __init__(self, message: str, *, code: str = "usage_error") -> None:
        super().__init__(message, status=None, code=code)


class ValidationError(UsageError, ValueError):
    """An argument was refused before anything was sent; the message says what to pass."""

    def __init__(self, message: str, *, code: str = "invalid_argument") -> None:
        super().__init__(message, code=code)


class UnsupportedError(UsageError):
    """The account's dialect offers no such operation (the reference routes have no
    ``symbol_info``, say); the message says which dialect does."""

    def __init__(self, message: str, *, code: str = "unsupported") -> None:
        super().__init__(message, code=code)


class SessionClosedError(UsageError):
    """The session is not open: use it inside ``async with AsyncFxSocket() as fx``."""

    def __init__(self, message: str, *, code: str = "session_closed") -> None:
        super().__init__(message, code=code)


_BY_STATUS_AND_CODE: dict[tuple[int, str], type[APIError]] = {
    (400, "broker_rejected"): BrokerRejectedError,
    (400, "not_enough_money"): BrokerRejectedError,
    (400, "market_closed"): BrokerRejectedError,
    (400, "account_required"): AccountRequiredError,
    (409, "already_linked"): AlreadyLinkedError,
    (409, "idempotency_conflict"): IdempotencyConflictError,
    (503, "terminal_not_ready"): TerminalNotReadyError,
    (422, "idempotency_key_reused"): IdempotencyConflictError,
    (504, "MRPC_TIMEOUT"): TerminalTimeoutError,
}

_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: PlanLimitError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
}


def error_from_response(
    status: int, code: str, message: str, *, retry_after: float | None = None
) -> APIError:
    """Build the exception that an error reply (status, ``error`` code, message) means."""
    chosen = _BY_STATUS_AND_CODE.get((status, code)) or _BY_STATUS.get(status)
    if chosen is None:
        chosen = ServerError if 500 <= status <= 599 else UnexpectedStatusError
    if chosen is RateLimitedError:
        return RateLimitedError(message, status=status, code=code, retry_after=retry_after)
    return chosen(message, status=status, code=code)
