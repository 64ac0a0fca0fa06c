"""The bridge's own failures, in our exception tree (``fxsocket_async._exceptions``)."""

from .._exceptions import ConnectionFailedError, TimeoutError

__all__ = ["BridgeTimeoutError", "BridgeUnavailableError"]


class BridgeUnavailableError(ConnectionFailedError):
    """NATS or the bridge cannot be reached: no server, no responder, no JetStream."""

    def __init__(self, message: str, *, code: str = "bridge_unavailable") -> None:
        super().__init__(message, code=code)


class BridgeTimeoutError(TimeoutError):
    """The bridge did not answer before the call's deadline."""

    def __init__(self, message: str, *, code: str = "bridge_timeout") -> None:
        super().__init__(message, code=code)
