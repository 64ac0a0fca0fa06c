"""One measurement per process: ``python -m benchmarks.workers '<json spec>'``.

The harness (``benchmarks/harness.py``, ``Runner.work``) starts each
measurement (one contender, one repetition) in a fresh process, so that no run
inherits another's heap, caches or RSS peak, and the servers (the firehose,
the REST simulator) run in processes of their own. The spec names a worker
(``"fn"``: a function registered with ``@worker`` in this package, or
``"module:function"`` for a suite's own module) and its parameters; the result
is one JSON line on stdout. ``"loop": "uvloop"`` runs it on uvloop,
``"timeout"`` bounds it.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from . import fanout, misc, picows_floor, stream, timing
from .common import WORKERS, Result, worker

__all__ = ["WORKERS", "Result", "main", "resolve", "worker"]

_MODULES = (fanout, misc, picows_floor, stream, timing)  # each registers its workers


def resolve(name: str) -> Callable[..., Awaitable[Result]]:
    """A registered worker, or ``module:function``."""
    if ":" in name:
        module, _, function = name.partition(":")
        found: Callable[..., Awaitable[Result]] = getattr(importlib.import_module(module), function)
        return found
    return WORKERS[name]


def main(argv: list[str]) -> int:
    spec: dict[str, Any] = json.loads(argv[0])
    fn = resolve(spec.pop("fn"))
    timeout = float(spec.pop("timeout", 300))
    loop = spec.pop("loop", "asyncio")

    async def bounded() -> Result:
        return await asyncio.wait_for(fn(**spec), timeout)

    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(bounded())
    elif loop == "asyncio":
        result = asyncio.run(bounded())
    else:
        raise SystemExit(f"unknown loop {loop!r}: asyncio or uvloop")
    result["loop"] = loop
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover - see __main__.py
    sys.exit(main(sys.argv[1:]))
