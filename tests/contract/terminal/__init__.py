"""The terminal dialect's contract: a plain aiohttp client against each account's terminal."""
