"""Contract tests: a plain aiohttp client against the simulator over loopback."""
