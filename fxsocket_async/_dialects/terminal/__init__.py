"""The terminal dialect: each account's own routes and WebSocket, as the vendor SDK speaks them.

``rest`` (the calls and error bodies), ``stream`` (the per-account socket),
``wire`` (the camelCase Structs) and ``convert`` (their rows in our models).
Sans-I/O. docs/protocol.md says which facts come from the vendor SDK.
"""

from .rest import TerminalRest, decode_terminal_error
from .stream import TerminalStream, with_api_key

__all__ = ["TerminalRest", "TerminalStream", "decode_terminal_error", "with_api_key"]
