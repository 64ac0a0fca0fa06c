"""The sans-I/O core: models, codec, the dialect seam, validation, recovery, the stream protocol.

Nothing in this package imports aiohttp, anyio or asyncio, or reads a clock:
bytes and Structs in, Structs and actions out. Times it needs are passed in.
``tests/test_layout.py`` checks the rule.
"""
