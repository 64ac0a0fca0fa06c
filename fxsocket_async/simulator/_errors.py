"""``SimError``: a refusal raised anywhere in the simulator, answered by the web layer."""

from __future__ import annotations

__all__ = ["SimError"]


class SimError(Exception):
    """A refusal the web layer turns into ``status`` + ``{"error", "message"}``."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
